"""The Bolt app: listeners wired to the neutral core, for HTTP and Socket Mode alike."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from concurrent.futures import Executor, ThreadPoolExecutor

from slack_bolt import App
from slack_sdk import WebClient

from bot.adapters.slack.client import make_client
from bot.adapters.slack.dedupe import DedupeMiddleware, Deduper, MemoryDeduper
from bot.adapters.slack.delivery import Delivery
from bot.adapters.slack.handlers import ANSWER_WITHIN_S, SlackHandlers
from bot.adapters.slack.workspace import WorkspaceGuard
from bot.config import Settings
from bot.core.app import Rmbot
from bot.render.blockkit import ACTION_PREFIX

if TYPE_CHECKING:
    from bot.core.inbox import InboxService

SLASH_COMMANDS = ("tier", "size", "help", "whoami", "maturing", "churn", "campaign", "lint", "summary", "approve", "reject")
"""Registered in slack_manifest.yaml; any other slash command still reaches the core, which
answers it with "unknown command" rather than Slack's silence."""

LAZY_WORKERS = 8
CORE_WORKERS = 2
"""Slash commands computed at once per process; more wait in the queue, and past the ack
deadline their answer goes via response_url. Python runs one thread at a time, so more threads
add no CPU: two keep the core busy while one waits on the database. Measured at 50 concurrent
/tier (bench/tier_http.py), 8 threads cost 6.9 ms of CPU per request against 4.1 ms for 2 (the
SQLite busy-wait backoff and thread switching), and p99 rose from about 0.25 s to 0.76 s."""


def build_app(
    bot: Rmbot,
    settings: Settings,
    *,
    client: WebClient | None = None,
    deduper: Deduper | None = None,
    executor: Executor | None = None,
    core: Executor | None = None,
    answer_within: float = ANSWER_WITHIN_S,
    inbox: "InboxService | None" = None,
) -> App:
    """`executor` runs lazy listeners and follow-up messages, `core` slash commands whose ack
    waits for them (up to `answer_within` seconds)."""
    client = client or make_client(settings)
    executor = executor or ThreadPoolExecutor(LAZY_WORKERS, thread_name_prefix="rmbot-slack")
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    app = App(
        name="rmbot",
        client=client,
        signing_secret=secret,
        # auth.test runs on the first request instead of at import: the server starts even
        # when Slack is unreachable, and tests need no token round trip.
        token_verification_enabled=False,
        # Ack functions run in the request's own thread; a slash command's waits for its core
        # at most `answer_within`, the others return at once, so no ack is ever late.
        process_before_response=True,
        listener_executor=executor,
    )
    # Before the dedupe: a foreign team's event must not take an event id.
    app.use(WorkspaceGuard(settings.slack_team_ids(), client))
    app.use(DedupeMiddleware(deduper or MemoryDeduper(), inbox))

    templates = str(settings.templates_dir) if settings.templates_dir else None
    h = SlackHandlers(bot, Delivery(client, bot.engine, templates), followups=executor,
                      core=core or ThreadPoolExecutor(CORE_WORKERS, thread_name_prefix="rmbot-core"),
                      answer_within=answer_within)
    if inbox is not None:  # DMs and @-mentions: stored before the ack, answered from the inbox
        from bot.adapters.slack.replies import SlackPostSender, SlackRespondSender, inbox_handler

        h.inbox = inbox
        inbox.register("slack", inbox_handler(h, bot.engine), {"slack_post": SlackPostSender(h.delivery),
                                                               "slack_respond": SlackRespondSender(h.delivery)})
    app.command(re.compile(r"^/"))(h.command)
    app.event({"type": "message", "subtype": None})(ack=h.ack_event, lazy=[h.run_message])
    app.event("app_mention")(ack=h.ack_event, lazy=[h.run_mention])
    app.action(re.compile(rf"^{re.escape(ACTION_PREFIX)}:"))(ack=h.ack_action, lazy=[h.run_action])
    # Every other event (edits, joins, …) is acknowledged so Slack does not retry it.
    app.event(re.compile(r".*"))(h.ack_event)
    return app
