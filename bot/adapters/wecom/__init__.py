"""WeCom (企业微信) adapter: the only code that talks to WeCom.

`routes(bot, settings)` is what `bot.server` mounts: the callback endpoint (URL check, messages,
card clicks) backed by the API client that sends the replies.
"""

from __future__ import annotations

from starlette.routing import Route

from bot.adapters.wecom.callback import CALLBACK_PATH, WeComAdapter
from bot.adapters.wecom.client import WeComClient, WeComError
from bot.adapters.wecom.crypto import WeComCrypto
from bot.config import Settings
from bot.core.app import Rmbot
from bot.core.dedupe import Deduper

__all__ = ["CALLBACK_PATH", "WeComAdapter", "WeComClient", "WeComCrypto", "WeComError", "routes"]


def routes(bot: Rmbot, settings: Settings, deduper: Deduper | None = None) -> list[Route]:
    return WeComAdapter.from_settings(bot, settings, deduper).routes()
