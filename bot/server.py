"""One ASGI app serving every configured platform, plus /healthz.

Each adapter package exposes `routes(bot, settings) -> list[starlette Route]`; a platform whose
settings are missing is simply not mounted. The core is synchronous; endpoints hand work to a
thread so the event loop keeps acknowledging within the platforms' deadlines.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from bot.config import Settings
from bot.core.app import Rmbot
from bot.core.dedupe import Deduper

log = logging.getLogger("rmbot.server")


def _set(value: object) -> bool:
    secret = getattr(value, "get_secret_value", None)
    return bool(secret() if secret else value)


def configured_platforms(settings: Settings) -> list[str]:
    platforms = []
    if _set(settings.slack_bot_token) and (_set(settings.slack_signing_secret) or _set(settings.slack_app_token)):
        platforms.append("slack")
    if all(_set(v) for v in (settings.wecom_corp_id, settings.wecom_secret, settings.wecom_token, settings.wecom_aes_key)):
        platforms.append("wecom")
    return platforms


def build_app(bot: Rmbot, settings: Settings, platforms: Sequence[str], deduper: Deduper | None = None) -> Starlette:
    """`deduper`: pass `StoreDeduper(engine)` when several replicas serve the same app, so a
    retried event or callback landing on another replica is still processed once."""
    routes: list[BaseRoute] = [Route("/healthz", _health, methods=["GET"])]
    for platform in platforms:
        if platform == "slack":
            from bot.adapters.slack import routes as slack_routes

            routes += slack_routes(bot, settings, deduper=deduper)
        elif platform == "wecom":
            from bot.adapters.wecom import routes as wecom_routes

            routes += wecom_routes(bot, settings, deduper=deduper)
        else:
            raise ValueError(f"unknown platform {platform!r}")
    app = Starlette(routes=routes)
    app.state.platforms = list(platforms)
    return app


async def _health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "platforms": request.app.state.platforms})
