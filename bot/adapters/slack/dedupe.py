"""Process each Events API delivery once.

Slack retries an event it thinks we missed (at once, after 1 and 5 minutes, with
`x-slack-retry-num`), e.g. when an ack was slow. Bolt has no dedupe, and a retried DM would
be answered twice or a follow-up written twice. The store is `bot.core.dedupe.Deduper`:
in-process by default, the database-backed one when several bot processes serve the app.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from slack_bolt.middleware import Middleware
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

from bot.core.dedupe import Deduper, MemoryDeduper  # noqa: F401  (MemoryDeduper re-exported)

if TYPE_CHECKING:
    from bot.core.inbox import InboxService

log = logging.getLogger("rmbot.slack")


def event_key(body: dict) -> str | None:
    """The one definition of "an Events API delivery": these are deduped by event_id (Slack
    retries them, re-signed); every other request by its signature (endpoint.py)."""
    if isinstance(body, dict) and body.get("type") == "event_callback" and body.get("event_id"):
        return f"event:{body['event_id']}"
    return None


class DedupeMiddleware(Middleware):
    """Runs after Bolt's signature check, so forged requests cannot burn event ids."""

    def __init__(self, store: Deduper, inbox: "InboxService | None" = None) -> None:
        """With `inbox`, an event the bot answers is stored (its event id the row's key) and
        acknowledged here; the inbox's workers answer it (bot/adapters/slack/replies.py)."""
        self.store = store
        self.inbox = inbox

    def process(self, *, req: BoltRequest, resp: BoltResponse,
                next: Callable[[], BoltResponse]) -> BoltResponse | None:
        key = event_key(req.body)
        if key is not None and self.inbox is not None:
            from bot.adapters.slack.handlers import SlackHandlers

            event = req.body.get("event")
            if SlackHandlers.answers(event) is not None:
                if not self.inbox.accept(key, "slack", event["user"], json.dumps(req.body, ensure_ascii=False)):
                    log.info("duplicate delivery of %s acknowledged, already accepted", key)
                return BoltResponse(status=200, body="")
        if key is not None and not self.store.first_seen(key):
            retry = (req.headers.get("x-slack-retry-num") or ["?"])[0]
            log.info("duplicate delivery of %s (retry %s) acknowledged, not processed", key, retry)
            return BoltResponse(status=200, body="")
        return next()
