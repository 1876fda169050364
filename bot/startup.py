"""Start-up checks of the chat platforms' settings: every problem named at once, before serving.

Why one place: `rmbot serve` (exit code 2 with one message), `/readyz` (503 with the reason)
and the platform list (`bot.server.configured_platforms`) must agree on what "configured" means;
a check spread over the adapters tested four of WeCom's five settings and let a 42-character
EncodingAESKey through to a traceback at the first callback.
"""

from __future__ import annotations

import base64
import binascii
import re

from bot.config import Settings

PLATFORM_SETTINGS: dict[str, tuple[str, ...]] = {
    "slack": ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"),
    "wecom": ("WECOM_CORP_ID", "WECOM_AGENT_ID", "WECOM_SECRET", "WECOM_TOKEN", "WECOM_ENCODING_AES_KEY"),
}
_WECOM_TOKEN = re.compile(r"^[A-Za-z0-9]{1,32}$")


def _value(settings: Settings, env: str) -> str:
    """The setting named by its environment variable, as text ("" when unset)."""
    for name, field in type(settings).model_fields.items():
        if field.alias == env:
            value = getattr(settings, name)
            secret = getattr(value, "get_secret_value", None)
            return "" if value is None else str(secret() if secret else value)
    raise KeyError(env)


def mentioned(settings: Settings) -> list[str]:
    """Platforms any of whose settings are set: an operator meant to serve them."""
    return [p for p, names in PLATFORM_SETTINGS.items() if any(_value(settings, n) for n in names)]


def problems(settings: Settings, platform: str, socket_mode: bool = False) -> list[str]:
    """What is missing or malformed for serving `platform`, one entry per setting (Chinese
    first, then English); empty when it can be served."""
    out: list[str] = []
    if platform == "slack":
        bot_token = _value(settings, "SLACK_BOT_TOKEN")
        if not bot_token:
            out.append("SLACK_BOT_TOKEN 未设置 is not set")
        elif not bot_token.startswith("xoxb-"):
            out.append("SLACK_BOT_TOKEN 应以 xoxb- 开头 must be a bot token (xoxb-…)")
        app_token = _value(settings, "SLACK_APP_TOKEN")
        if socket_mode or (app_token and not _value(settings, "SLACK_SIGNING_SECRET")):
            if not app_token:
                out.append("SLACK_APP_TOKEN 未设置（Socket Mode 需要）is not set (needed for Socket Mode)")
            elif not app_token.startswith("xapp-"):
                out.append("SLACK_APP_TOKEN 应以 xapp- 开头 must be an app-level token (xapp-…)")
        elif not _value(settings, "SLACK_SIGNING_SECRET"):
            out.append("SLACK_SIGNING_SECRET 未设置（HTTP 模式需要；或用 --socket-mode 与 SLACK_APP_TOKEN）"
                       " is not set (needed for HTTP mode; or use --socket-mode with SLACK_APP_TOKEN)")
    elif platform == "wecom":
        for env in ("WECOM_CORP_ID", "WECOM_AGENT_ID", "WECOM_SECRET", "WECOM_TOKEN", "WECOM_ENCODING_AES_KEY"):
            if not _value(settings, env):
                out.append(f"{env} 未设置 is not set")
        token = _value(settings, "WECOM_TOKEN")
        if token and not _WECOM_TOKEN.match(token):
            out.append("WECOM_TOKEN 应为 1–32 位英文字母或数字 must be 1–32 letters or digits")
        key = _value(settings, "WECOM_ENCODING_AES_KEY")
        if key:
            problem = _aes_key_problem(key)
            if problem:
                out.append(f"WECOM_ENCODING_AES_KEY {problem}")
        agent = settings.wecom_agent_id
        if agent is not None and agent <= 0:
            out.append("WECOM_AGENT_ID 应为正整数 must be a positive number")
    else:
        out.append(f"未知平台 unknown platform {platform!r}（slack | wecom）")
    return out


def _aes_key_problem(key: str) -> str | None:
    if len(key) != 43:
        return f"应为 43 个字符，实为 {len(key)} 个 must be 43 characters, got {len(key)}"
    try:
        if len(base64.b64decode(key + "=", validate=True)) == 32:
            return None
    except (binascii.Error, ValueError):
        pass
    return "不是有效的 base64 编码 is not valid base64 (copy it again from the WeCom admin console)"


def check(settings: Settings, platforms: list[str], socket_mode: bool = False) -> list[str]:
    """Every problem of every platform to serve, each prefixed with its platform."""
    return [f"{p}: {problem}" for p in platforms for problem in problems(settings, p, socket_mode and p == "slack")]
