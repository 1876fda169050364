"""The Bolt app: listeners wired to the neutral core, for HTTP and Socket Mode alike."""

from __future__ import annotations

import re
from concurrent.futures import Executor, ThreadPoolExecutor

from slack_bolt import App
from slack_sdk import WebClient

from bot.adapters.slack.client import make_client
from bot.adapters.slack.dedupe import DedupeMiddleware, Deduper, MemoryDeduper
from bot.adapters.slack.delivery import Delivery
from bot.adapters.slack.handlers import SlackHandlers
from bot.config import Settings
from bot.core.app import Rmbot
from bot.render.blockkit import ACTION_PREFIX

SLASH_COMMANDS = ("tier", "size", "help", "whoami", "maturing", "churn", "campaign", "lint", "summary", "approve", "reject")
"""Registered in slack_manifest.yaml; any other slash command still reaches the core, which
answers it with "unknown command" rather than Slack's silence."""

LAZY_WORKERS = 8


def build_app(
    bot: Rmbot,
    settings: Settings,
    *,
    client: WebClient | None = None,
    deduper: Deduper | None = None,
    executor: Executor | None = None,
) -> App:
    client = client or make_client(settings)
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    app = App(
        name="rmbot",
        client=client,
        signing_secret=secret,
        # auth.test runs on the first request instead of at import: the server starts even
        # when Slack is unreachable, and tests need no token round trip.
        token_verification_enabled=False,
        # Ack functions run in the request's own thread and return at once; only the lazy
        # functions wait for the pool, so a busy core can never delay an ack past 3 s.
        process_before_response=True,
        listener_executor=executor or ThreadPoolExecutor(LAZY_WORKERS, thread_name_prefix="rmbot-slack"),
    )
    app.use(DedupeMiddleware(deduper or MemoryDeduper()))

    templates = str(settings.templates_dir) if settings.templates_dir else None
    h = SlackHandlers(bot, Delivery(client, bot.engine, templates))
    app.command(re.compile(r"^/"))(ack=h.ack_command, lazy=[h.run_command])
    app.event({"type": "message", "subtype": None})(ack=h.ack_event, lazy=[h.run_message])
    app.event("app_mention")(ack=h.ack_event, lazy=[h.run_mention])
    app.action(re.compile(rf"^{re.escape(ACTION_PREFIX)}:"))(ack=h.ack_action, lazy=[h.run_action])
    # Every other event (edits, joins, …) is acknowledged so Slack does not retry it.
    app.event(re.compile(r".*"))(h.ack_event)
    return app
