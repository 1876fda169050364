"""Is every push destination usable? Asked of the platform itself, before a push goes dead.

A destination that cannot take messages (the bot never invited to the Slack channel, a WeCom
chat the app did not create, a robot key pasted as a whole URL) otherwise shows up only as a dead
outbox row after the push time. `rmbot push dest check` runs these checks on demand; the
delivery side explains the same failures in its dead rows (bot.adapters.slack.push.operator_hint).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings

ROBOT_KEY = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
"""The shape of the keys WeCom issues (a UUID, the `key=` of the robot's webhook address)."""
CHATID = re.compile(r"^[0-9A-Za-z]{1,32}$")
"""appchat/create's chatid: at most 32 characters of [0-9a-zA-Z]."""


@dataclass(frozen=True)
class Finding:
    org_id: str
    platform: str
    target: str
    ok: bool
    message: str
    """Chinese first, then English; says what to do when not ok."""
    warning: bool = False
    """Usable, but worth a look (e.g. a robot key in an unusual shape)."""


def check_file(target: str) -> tuple[bool, str]:
    """The file sender creates missing directories: the nearest existing one must be writable."""
    path = Path(target).absolute()
    if path.is_dir() and os.access(path, os.W_OK):
        return True, "目录可写 directory is writable"
    existing = next((p for p in path.parents if p.exists()), None)
    if not path.exists() and existing is not None and existing.is_dir() and os.access(existing, os.W_OK):
        return True, "目录将在首次推送时创建 directory will be created on the first push"
    return False, f"目录不可写：{target}。Directory {target} is not writable."


def check_slack(client: object, channel: str) -> tuple[bool, str]:
    """conversations.info: the channel exists, is not archived, and the bot is a member."""
    from slack_sdk.errors import SlackApiError

    try:
        info = client.conversations_info(channel=channel)  # type: ignore[attr-defined]
    except SlackApiError as exc:
        error = str(exc.response.get("error") or "unknown_error") if exc.response is not None else "unknown_error"
        if error == "channel_not_found":
            return False, (f"频道 {channel} 不存在，或是机器人看不到的私有频道：请在该频道 /invite @rmbot，或用 "
                           f"rmbot push dest set 改为正确的频道 ID。Channel {channel} not found (or private "
                           f"without the bot): invite the bot or set the right channel id.")
        if error == "missing_scope":
            return False, ("Slack 令牌缺少 channels:read / groups:read 权限：按 slack_manifest.yaml 更新应用并重新安装。"
                           "The token lacks channels:read/groups:read: update the app from the manifest and reinstall.")
        return False, f"Slack {error}：无法检查频道 {channel}。Cannot check channel {channel}: {error}."
    except OSError as exc:
        return False, f"无法连接 Slack：{exc}。Slack unreachable: {exc}."
    data = info.get("channel") or {}
    if data.get("is_archived"):
        return False, f"频道 {channel} 已归档：请改用正在使用的频道。Channel {channel} is archived."
    if not data.get("is_member"):
        return False, (f"机器人不在频道 {channel}（#{data.get('name', '?')}）中：请在该频道输入 /invite @rmbot。"
                       f"The bot is not a member of {channel}: run /invite @rmbot in that channel.")
    return True, f"机器人在频道 #{data.get('name', channel)} 中 the bot is a member"


def check_robot(target: str, send_test: Callable[[str], object] | None) -> tuple[bool, str, bool]:
    """(ok, message, warning). The key is the robot's credential: only its shape is checked unless
    `send_test` is given (a test message really posts into the group, so it is opt-in)."""
    if "://" in target or "key=" in target:
        return False, ("请只填写机器人地址中 key= 后面的部分，不要填写整个网址。Set only the key (after key=), "
                       "not the whole webhook URL."), False
    if not target or any(c.isspace() for c in target):
        return False, "机器人 key 为空或含空白字符。The robot key is empty or has whitespace.", False
    if send_test is not None:
        from bot.adapters.wecom.client import WeComError

        try:
            send_test(target)
        except WeComError as exc:
            return False, f"测试消息发送失败 test message failed: {exc}", False
        return True, "已发送测试消息 test message sent", False
    if not ROBOT_KEY.match(target):
        return True, "key 形状不常见（企业微信发放的 key 为 UUID）；可加 --send-test 实测。Unusual key shape.", True
    return True, "key 形状正确（未实测；加 --send-test 发送测试消息）key looks right (not tried)", False


def check_appchat(client: object, chatid: str) -> tuple[bool, str]:
    """appchat/get: the app can only send to chats it created, and only those are found."""
    from bot.adapters.wecom.client import WeComError

    if not CHATID.match(chatid):
        return False, f"chatid 应为不超过 32 位的字母数字：{chatid}。A chatid is ≤ 32 of [0-9a-zA-Z]."
    try:
        info = client.appchat_get(chatid)  # type: ignore[attr-defined]
    except WeComError as exc:
        if exc.errcode == 86003:
            return False, (f"应用找不到群聊 {chatid}：应用只能向自己创建的群发送，请用 rmbot push dest create-appchat 创建。"
                           f"The app did not create chat {chatid}: create one with `rmbot push dest create-appchat`.")
        if exc.errcode == 60020:
            return False, ("服务器 IP 不在应用的可信IP中（docs/wecom.md）。This server's IP is not in the app's "
                           "trusted IPs.")
        return False, f"企业微信 appchat/get 失败 failed: {exc}"
    except OSError as exc:
        return False, f"无法连接企业微信 WeCom unreachable: {exc}"
    return True, f"群聊「{info.get('name', '')}」，{len(info.get('userlist') or [])} 人 chat found"


def check_destinations(settings: Settings, destinations: Iterable[tuple[str, str, str]],
                       send_test: bool = False) -> list[Finding]:
    """One Finding per (org_id, platform, target). A platform that is not configured makes its
    destinations unusable (`rmbot serve` would have no sender for them)."""
    from bot.server import configured_platforms

    platforms = configured_platforms(settings)
    slack = wecom = None
    findings: list[Finding] = []
    for org_id, platform, target in destinations:
        warning = False
        if platform == "file":
            ok, message = check_file(target)
        elif platform == "slack":
            if "slack" not in platforms:
                ok, message = False, "未配置 Slack（SLACK_BOT_TOKEN，见 docs/slack.env）。Slack is not configured."
            else:
                if slack is None:
                    from bot.adapters.slack.client import make_client

                    slack = make_client(settings)
                ok, message = check_slack(slack, target)
        elif platform in ("wecom_robot", "wecom_appchat"):
            if "wecom" not in platforms:
                ok, message = False, "未配置企业微信（见 docs/wecom.env）。WeCom is not configured."
            else:
                if wecom is None:
                    from bot.adapters.wecom.push import _client

                    wecom = _client(settings)
                if platform == "wecom_robot":
                    test = (lambda key: wecom.webhook_send(key, {  # type: ignore[union-attr]
                        "msgtype": "text", "text": {"content": "rmbot 推送目的地检查 destination check"}})) \
                        if send_test else None
                    ok, message, warning = check_robot(target, test)
                else:
                    ok, message = check_appchat(wecom, target)
        else:
            ok, message = False, f"未知平台 unknown platform {platform}"
        findings.append(Finding(org_id, platform, target, ok, message, warning))
    return findings
