"""Socket Mode: the same Bolt app over a websocket, for banks that cannot expose a public URL.

Needs an app-level token (xapp-…, scope connections:write). Retried events carry the same
event_id here too, so the dedupe middleware covers both modes.
"""

from __future__ import annotations

import logging
import threading
from time import monotonic, time

from slack_bolt import App, BoltRequest
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.socket_mode.internals import build_headers, send_response
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.adapters.slack.app import build_app
from bot.adapters.slack.handlers import ACK_SENT, RECEIVED_AT
from bot.adapters.slack.shapes import shape_problem
from bot.config import Settings
from bot.core.app import Rmbot


class RmbotSocketModeHandler(SocketModeHandler):
    """Bolt's handler, plus: once the ack (which may carry a slash command's answer) has been
    sent, the request's ACK_SENT event is set, so follow-up messages come after it."""

    def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        start = time()
        received = monotonic()
        problem = shape_problem(req.payload)
        if problem:  # Bolt would answer it with a 500 and a traceback; acked so Slack does not resend it
            logging.getLogger("rmbot.slack").warning("malformed Slack payload over Socket Mode: %s", problem)
            client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        ack_sent = threading.Event()
        bolt_req = BoltRequest(mode="socket_mode", body=req.payload, headers=build_headers(req))
        bolt_req.context[ACK_SENT] = ack_sent
        bolt_req.context[RECEIVED_AT] = received
        try:
            send_response(client, req, self.app.dispatch(bolt_req), start)
        finally:
            ack_sent.set()


def socket_mode_handler(bot: Rmbot, settings: Settings, app: App | None = None) -> SocketModeHandler:
    if not settings.slack_app_token:
        raise ValueError("SLACK_APP_TOKEN (xapp-…) is required for Socket Mode")
    token = settings.slack_app_token.get_secret_value()
    if not token.startswith("xapp-"):
        raise ValueError("SLACK_APP_TOKEN must be an app-level token starting with xapp-")
    return RmbotSocketModeHandler(app or build_app(bot, settings), app_token=token)


def connect_with_backoff(handler: SocketModeHandler, stop: threading.Event, first: float = 1.0,
                         longest: float = 60.0) -> threading.Thread:
    """Connect in the background, retrying with exponential back-off while Slack is unreachable
    (one warning line per attempt, never a traceback), until connected or `stop` is set. Once
    connected, slack_sdk reconnects by itself."""
    log = logging.getLogger("rmbot.slack")

    def attempt() -> None:
        delay = first
        while not stop.is_set():
            try:
                handler.connect()
                log.info("Slack Socket Mode connected")
                return
            except Exception as exc:  # noqa: BLE001  (network, DNS, Slack down, bad token)
                log.warning("Slack Socket Mode cannot connect (%s: %s); retrying in %.0f s",
                            exc.__class__.__name__, str(exc)[:200], delay)
            stop.wait(delay)
            delay = min(longest, delay * 2)

    thread = threading.Thread(target=attempt, name="slack-socket-connect", daemon=True)
    thread.start()
    return thread


def run_socket_mode(bot: Rmbot, settings: Settings) -> None:
    """Blocks until interrupted."""
    socket_mode_handler(bot, settings).start()


def main() -> None:
    """`python -m bot.adapters.slack.socket_mode`: Socket Mode from the settings in .env."""
    import sys

    from bot.config import get_settings, load_policy
    from bot.logs import setup_logging
    from bot.store.db import has_schema, make_engine

    settings = get_settings()
    setup_logging(settings)
    engine = make_engine(settings.database_url)
    if not has_schema(engine):
        sys.exit("数据库尚未初始化：请先运行 rmbot db upgrade && rmbot seed（或 rmbot import）")
    if not settings.slack_bot_token:
        sys.exit("SLACK_BOT_TOKEN 未设置（见 docs/slack.env）。SLACK_BOT_TOKEN is not set.")
    try:
        run_socket_mode(Rmbot(engine, load_policy(settings)), settings)
    except ValueError as exc:
        sys.exit(str(exc))


if __name__ == "__main__":
    main()
