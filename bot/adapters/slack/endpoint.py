"""HTTP mode: `/slack/events` inside our Starlette app, for events, commands and clicks.

A thin endpoint instead of slack_bolt's Starlette adapter, which runs the whole Bolt
dispatch on the event loop: here it runs in a worker thread. Requests are authenticated
before Bolt parses them, and bodies Bolt cannot parse get a 400 instead of a 500.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from slack_bolt import App, BoltRequest, BoltResponse
from slack_sdk.signature import SignatureVerifier
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot import metrics
from bot.adapters.slack.app import build_app
from bot.adapters.slack.dedupe import event_key
from bot.adapters.slack.handlers import ACK_SENT, RECEIVED_AT
from bot.adapters.slack.shapes import shape_problem
from bot.config import Settings
from bot.core.app import Rmbot
from bot.core.dedupe import Deduper, MemoryDeduper

if TYPE_CHECKING:
    from bot.core.inbox import InboxService

log = logging.getLogger("rmbot.slack")

PATH = "/slack/events"
MAX_BODY = 1_000_000
"""Slack's largest payloads (a click on a 50-block message) are a few tens of kB."""


REPLAY_WINDOW = 5 * 60 + 10
"""Slack's signature is valid for 5 minutes: remember signatures a little longer than that."""


class SlackEndpoint:
    def __init__(self, app: App, signing_secret: str, seen: Deduper | None = None) -> None:
        """`seen` remembers signatures: a request captured on the wire and sent again within the
        5-minute signature window must not run twice (the timestamp check alone lets it through).
        Events API deliveries are the exception: Slack retries those (and only those), and the
        event_id dedupe processes each once. No header decides this: `x-slack-retry-num` is not
        signed, so anyone replaying a captured click or command could add it."""
        self.app = app
        self.verifier = SignatureVerifier(signing_secret)
        self.seen = seen or MemoryDeduper(ttl=REPLAY_WINDOW)

    async def handle(self, request: Request) -> Response:
        received = time.monotonic()
        body = await _read_limited(request)
        if body is None:
            return PlainTextResponse("payload too large", status_code=413)
        headers: dict[str, str | Sequence[str]] = {k.lower(): v for k, v in request.headers.items()}
        if not self._authentic(body, headers):
            metrics.refusal("slack", "signature")
            return PlainTextResponse("invalid request", status_code=401)
        try:
            bolt_request = BoltRequest(body=body.decode("utf-8"), query=str(request.url.query), headers=headers)
        except Exception:  # noqa: BLE001  (signed by Slack yet unparseable: say so instead of raising)
            log.warning("unparseable Slack request body (%d bytes)", len(body))
            return PlainTextResponse("bad request", status_code=400)
        problem = shape_problem(bolt_request.body)
        if problem:
            log.warning("malformed Slack payload: %s", problem)
            metrics.refusal("slack", "malformed")
            return PlainTextResponse(f"bad request: {problem}", status_code=400)
        ack_sent = threading.Event()
        bolt_request.context[ACK_SENT] = ack_sent
        bolt_request.context[RECEIVED_AT] = received
        resp = await run_in_threadpool(self._dispatch, bolt_request)
        if resp is None:
            return PlainTextResponse("replayed request", status_code=401)
        return Response(content=resp.body, status_code=resp.status, headers=resp.first_headers_without_set_cookie(),
                        background=BackgroundTask(_set, ack_sent))

    def _dispatch(self, request: BoltRequest) -> BoltResponse | None:
        """In a worker thread: the replay guard may be the store (a write), and Bolt's
        listeners may wait for the core; neither may block the event loop. None: a replay."""
        if event_key(request.body) is None and not self.seen.first_seen(f"sig:{_signature(request)}"):
            log.warning("replayed Slack request refused")
            metrics.refusal("slack", "replay")
            return None
        return self.app.dispatch(request)

    def _authentic(self, body: bytes, headers: Mapping[str, str | Sequence[str]]) -> bool:
        """Checked before parsing, so forged bodies are never parsed and odd headers (a
        non-numeric timestamp, non-ASCII signature) give 401 rather than an exception inside
        Bolt. Bolt's own RequestVerification still runs afterwards."""
        try:
            return self.verifier.is_valid_request(body, {k: v for k, v in headers.items() if isinstance(v, str)})
        except (ValueError, TypeError, UnicodeDecodeError):
            return False


def _signature(request: BoltRequest) -> str:
    values = request.headers.get("x-slack-signature") or [""]
    return str(values[0])


async def _set(event: threading.Event) -> None:
    """After the response has been sent (a Starlette background task): the ack is out."""
    event.set()


async def _read_limited(request: Request) -> bytes | None:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def routes(bot: Rmbot, settings: Settings, app: App | None = None, deduper: Deduper | None = None,
           inbox: "InboxService | None" = None) -> list[Route]:
    """Mounted by bot.server. Without a signing secret there is no HTTP mode (Socket Mode only).
    `deduper` (events and replayed signatures) is shared by every replica when store-backed."""
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    if not secret:
        log.info("SLACK_SIGNING_SECRET not set: Slack HTTP endpoint not mounted (use Socket Mode)")
        return []
    endpoint = SlackEndpoint(app or build_app(bot, settings, deduper=deduper, inbox=inbox), secret, seen=deduper)
    return [Route(PATH, endpoint.handle, methods=["POST"], name="slack_events")]
