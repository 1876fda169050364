"""`rmbot push dest check` and `rmbot push dest create-appchat`: destinations checked against the
platform, and the WeCom app chats an app must create before it can post to them.

Registered on `bot.cli_push.dest_app` (imported at the end of that module), kept apart because
they talk to the platforms while the rest of `push dest` only edits the table.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from sqlalchemy import select

from bot.cli_common import ready_engine
from bot.cli_push import _fail, dest_app, err, out, shown_target
from bot.config import get_settings
from bot.store.db import session_scope
from bot.store.models import Org, PushDestination


@dest_app.command("check")
def dest_check(
    branch: Annotated[Optional[list[str]], typer.Option(help="只检查这些机构 only these org ids")] = None,
    send_test: Annotated[bool, typer.Option("--send-test", help="向群机器人发送一条测试消息 post a test message "
                                                                 "through each group robot")] = False,
) -> None:
    """Ask each platform whether every destination can take messages (Slack: the bot is in the
    channel; WeCom app chat: the app created it; robot: the key's shape). Exit 1 when any cannot."""
    from bot.push.dest_check import check_destinations

    with session_scope(ready_engine()) as s:
        query = select(PushDestination.org_id, PushDestination.platform, PushDestination.target)
        if branch:
            query = query.where(PushDestination.org_id.in_(branch))
        rows = [tuple(r) for r in s.execute(query.order_by(PushDestination.org_id, PushDestination.platform))]
    if not rows:
        out.print("尚未配置推送目的地。No destinations yet (rmbot push dest set …).")
        return
    findings = check_destinations(get_settings(), rows, send_test=send_test)  # type: ignore[arg-type]
    bad = 0
    for f in findings:
        mark = "OK  " if f.ok and not f.warning else "WARN" if f.ok else "FAIL"
        bad += not f.ok
        line = f"{mark} {f.org_id}  {f.platform:14s} {shown_target(f.platform, f.target)}  {f.message}"
        (out if f.ok else err).print(line, markup=False, highlight=False)
    if bad:
        err.print(f"{bad} 个目的地不可用，推送会失败（dead）。{bad} destination(s) cannot take pushes.", markup=False)
        raise typer.Exit(1)
    out.print(f"全部 {len(findings)} 个目的地可用。All {len(findings)} destination(s) usable.", markup=False)


@dest_app.command("create-appchat")
def dest_create_appchat(
    branch: Annotated[str, typer.Argument(help="机构号 e.g. SB01")],
    name: Annotated[str, typer.Option(help="群名称 chat name")],
    owner: Annotated[str, typer.Option(help="群主的企业微信 userid")],
    users: Annotated[list[str], typer.Option("--user", help="群成员 userid，可重复，至少 2 人（含群主）")],
    chatid: Annotated[Optional[str], typer.Option(help="群 ID（≤32 位字母数字；默认由企业微信生成）")] = None,
) -> None:
    """Create a WeCom app chat (appchat/create) and make it the branch's wecom_appchat destination:
    an app can only post to chats it created."""
    from bot.adapters.wecom.client import WeComError
    from bot.adapters.wecom.push import _client
    from bot.push.dest_check import CHATID

    members = list(dict.fromkeys([owner, *users]))
    if len(members) < 2:
        _fail("群聊至少需要 2 人（群主和至少一位成员）。用法 usage: rmbot push dest create-appchat SB01 "
              "--name 城东支行推送 --owner zhangsan --user lisi --user wangwu")
    if chatid is not None and not CHATID.match(chatid):
        _fail(f"chatid 应为不超过 32 位的字母数字：{chatid}")
    engine = ready_engine()
    with session_scope(engine) as s:
        org = s.get(Org, branch)
        if org is None or org.level not in ("sub_branch", "branch"):
            _fail(f"未找到支行或分行 {branch}")
    try:
        client = _client(get_settings())
    except ValueError as exc:
        _fail(f"未配置企业微信（见 docs/wecom.env）：{exc}")
        raise
    try:
        created = client.appchat_create(name, owner, members, chatid)
    except WeComError as exc:
        _fail(f"企业微信 appchat/create 失败：{exc}（应用须为自建应用、可见范围为根部门，见 docs/wecom.md）", 1)
        raise
    finally:
        client.close()
    with session_scope(engine) as s:
        s.merge(PushDestination(org_id=branch, platform="wecom_appchat", target=created))
    out.print(f"已创建群聊 {created}（{len(members)} 人）并设为 {branch} 的推送目的地 → wecom_appchat:{created}。"
              f"Created app chat {created} as {branch}'s destination.", markup=False, highlight=False)
