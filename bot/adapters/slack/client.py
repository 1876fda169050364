"""Slack Web API and response_url clients, always with retries attached.

Slack answers bursts with HTTP 429 + Retry-After (chat.postMessage: ~1 message per second per
channel) and occasionally with 5xx; a push to fifty RMs must not lose messages to either.
slack_sdk's retry handlers sleep for Retry-After and try again, so callers see one call.
"""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry import RetryHandler
from slack_sdk.http_retry.builtin_handlers import (  # ServerErrorRetryHandler is not re-exported
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.webhook import WebhookClient

from bot.config import Settings

TIMEOUT_S = 10
"""Per HTTP call; the Web API answers in well under a second when healthy."""


def retry_handlers() -> list[RetryHandler]:
    return [
        ConnectionErrorRetryHandler(max_retry_count=2),
        RateLimitErrorRetryHandler(max_retry_count=3),
        ServerErrorRetryHandler(max_retry_count=2),
    ]


def api_base_url(settings: Settings) -> str | None:
    """SLACK_API_URL points the client at a local fake (tests) or a proxy; must end in '/'."""
    if not settings.slack_api_url:
        return None
    return settings.slack_api_url.rstrip("/") + "/"


def make_client(settings: Settings) -> WebClient:
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return WebClient(token=token, base_url=api_base_url(settings) or WebClient.BASE_URL, timeout=TIMEOUT_S,
                     retry_handlers=retry_handlers())


def make_webhook(url: str) -> WebhookClient:
    """For a slash command's or a click's response_url (Bolt's respond() has no retries)."""
    return WebhookClient(url=url, timeout=TIMEOUT_S, retry_handlers=retry_handlers())
