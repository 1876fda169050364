"""Bolt listeners: slash commands answered in the ack when the core is quick, everything else
acknowledged at once and answered from a lazy function.

Slack gives 3 seconds to acknowledge and shows a slash command's ack body as the answer. The
core runs with a deadline safely inside that window: done in time, the answer rides in the ack
(one round trip, no response_url call); not done, the ack goes out empty at the deadline and
the answer follows via response_url when it is ready. Nothing on the ack path raises, and
everything after the ack catches its own errors so one bad delivery cannot stop the app from
serving the next request.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack, BoltContext
from slack_sdk.errors import SlackApiError

from bot.adapters.slack.delivery import Delivery
from bot.adapters.slack.inbound import action_name, channel_kind, command_text, missing
from bot.core.app import Rmbot
from bot.core.reply import Reply
from bot.core.request import ActionRequest, ChannelKind, Request
from bot.render.blockkit import ACTION_PREFIX, RenderError, mark_item_done

if TYPE_CHECKING:
    from bot.core.inbox import InboxService

log = logging.getLogger("rmbot.slack")

INCOMPLETE = "请求不完整（缺少 {fields}），请重试。Incomplete request from Slack (missing {fields})."
FAILED = "处理时出错，已记录，请稍后再试。Something went wrong and was logged; please retry."

ANSWER_WITHIN_S = 2.0
"""How long a slash command's ack waits for the core: Slack allows 3 s, minus the network and
Slack's own clock; a reply not ready by then is sent via response_url instead."""

ACK_SENT = "rmbot_ack_sent"
"""Context key of a `threading.Event` the transport (HTTP endpoint, Socket Mode handler) sets
once the ack has left: follow-up messages of an inline answer wait for it, so Slack shows them
after the first one."""

RECEIVED_AT = "rmbot_received_at"
"""Context key: `time.monotonic()` when the transport received the request. Slack's 3 s run
from there, so time spent waiting for a worker thread comes out of the core's deadline."""

ACK_SENT_WAIT_S = 5.0
"""A transport that never sets ACK_SENT still gets its follow-ups, this much later."""


def _guarded(what: str, fn: Callable[[], object]) -> None:
    try:
        fn()
    except SlackApiError as exc:
        log.error("%s: Slack API error %s", what, exc.response.get("error"))
    except Exception:
        log.exception("%s failed", what)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class Answer:
    """A slash command's reply, already rendered: the ack and response_url share the payloads."""

    reply: Reply
    payloads: list[dict[str, Any]]

    @property
    def has_more(self) -> bool:
        """More than the one message the ack can carry (more messages, or charts)."""
        return len(self.payloads) > 1 or bool(self.reply.images)


@dataclass(frozen=True)
class EventReply:
    reply: Reply
    channel: str
    kind: ChannelKind
    thread_ts: str | None
    channel_type: str | None


def command_request(body: dict[str, Any]) -> Request:
    """The neutral request of a slash command whose required fields are present."""
    return Request(
        text=command_text(body["command"], body.get("text")),
        platform="slack",
        user_id=body["user_id"],
        channel_kind=channel_kind(body.get("channel_id"), None, body.get("channel_name")),
        channel_id=body.get("channel_id") or None,
    )


class SlackHandlers:
    def __init__(self, bot: Rmbot, delivery: Delivery, *, core: Executor, followups: Executor,
                 answer_within: float = ANSWER_WITHIN_S) -> None:
        """`core` runs slash commands against the store while their ack waits (at most
        `answer_within` seconds); `followups` sends what the ack could not carry."""
        self.bot = bot
        self.delivery = delivery
        self.core = core
        self.followups = followups
        self.answer_within = answer_within
        self.inbox: "InboxService | None" = None
        """Set by build_app: a slow command's answer is then queued in the inbox before its ack."""
        self._slow: dict[str, Future[Answer]] = {}
        """Slow commands of this process still computing, by inbox key: the inbox's handler
        waits for the running one instead of computing it again."""

    # -- slash commands ----------------------------------------------------------------
    def command(self, ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        """Ack listener of every slash command: never raises, always acks."""
        try:
            self._command(ack, body, context)
        except Exception:
            log.exception("slash command %s failed", body.get("command"))
            if ack.response is None:
                ack(response_type="ephemeral", text=FAILED)

    def _command(self, ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
        gaps = missing(body, "user_id", "command", "response_url")
        if gaps:
            ack(response_type="ephemeral", text=INCOMPLETE.format(fields=", ".join(gaps)))
            return
        future = self.core.submit(self.answer, command_request(body))
        try:
            answer = future.result(timeout=self._time_left(context))
        except TimeoutError:
            if self.inbox is not None:  # stored before the ack: a stop or crash cannot lose it
                key = f"cmd:{body.get('trigger_id') or uuid.uuid4().hex}"
                self._slow[key] = future
                if self.inbox.accept(key, "slack", body["user_id"], json.dumps({"slash": body}, ensure_ascii=False)):
                    ack()
                    return
                del self._slow[key]  # a trigger_id seen before (Slack never repeats one): answer it directly
            ack()  # Slack hears from us in time; the answer follows via response_url
            future.add_done_callback(lambda done: self._later(done, body))
            return
        ack({"response_type": "ephemeral", **answer.payloads[0]})
        if answer.has_more:
            self.followups.submit(self._rest, answer, body, context.get(ACK_SENT))

    def slow_answer(self, key: str, body: dict[str, Any]) -> Answer:
        """The inbox's answer to a stored slow command: the computation this process started,
        or (after a restart, on another replica) a new one."""
        future = self._slow.pop(key, None)
        if future is not None:
            try:
                return future.result()
            except Exception:  # noqa: BLE001  (answer() catches; a cancelled future lands here)
                log.exception("slow command %s failed", body.get("command"))
        return self.answer(command_request(body))

    def _time_left(self, context: BoltContext) -> float:
        received = context.get(RECEIVED_AT)
        elapsed = time.monotonic() - received if isinstance(received, float) else 0.0
        return max(0.0, self.answer_within - elapsed)

    def answer(self, request: Request) -> Answer:
        """The core's reply, rendered; any failure becomes a short error reply, never a traceback."""
        try:
            reply = self.bot.handle(request)
            return Answer(reply, self.delivery.payloads(reply))
        except Exception:
            log.exception("answer to %s failed", request.text[:40])
        reply = Reply.error(FAILED)
        try:
            return Answer(reply, self.delivery.payloads(reply))
        except Exception:
            log.exception("error reply could not be rendered")
            return Answer(reply, [{"text": FAILED}])

    def _later(self, done: Future[Answer], body: dict[str, Any]) -> None:
        """The deadline passed: the whole answer goes via response_url, once, when ready."""
        def send() -> None:
            answer = done.result()
            self.delivery.respond(body["response_url"], answer.reply, user_id=body["user_id"],
                                  produced_for=command_request(body).channel_kind, payloads=answer.payloads)

        try:
            self.followups.submit(_guarded, f"answer to {body['command']}", send)
        except RuntimeError:  # shutting down: the pool takes no more work
            log.error("answer to %s dropped: shutting down", body["command"])

    def _rest(self, answer: Answer, body: dict[str, Any], ack_sent: threading.Event | None) -> None:
        """The messages after the first (and charts), once the ack carrying the first has left."""
        if isinstance(ack_sent, threading.Event) and not ack_sent.wait(ACK_SENT_WAIT_S):
            log.warning("ack of %s not confirmed sent; sending the rest anyway", body["command"])
        _guarded(f"rest of the answer to {body['command']}",
                 lambda: self.delivery.respond(body["response_url"], answer.reply, user_id=body["user_id"],
                                               produced_for=command_request(body).channel_kind,
                                               payloads=answer.payloads, shown=1))

    # -- DMs and @-mentions ---------------------------------------------------------------
    def ack_event(self) -> None:
        """Events are acknowledged by Bolt itself; there is nothing to say in the ack."""

    def run_message(self, event: dict[str, Any]) -> None:
        self._post(self.event_reply(event))

    def run_mention(self, event: dict[str, Any]) -> None:
        self._post(self.event_reply(event))

    def _post(self, answer: "EventReply | None") -> None:
        if answer is not None:
            _guarded("reply", lambda: self.delivery.post(answer.channel, answer.reply, produced_for=answer.kind,
                                                         thread_ts=answer.thread_ts,
                                                         channel_type=answer.channel_type))

    @staticmethod
    def answers(event: dict[str, Any]) -> tuple[ChannelKind, str | None] | None:
        """(channel kind, thread) if this event is one the bot answers: a person's plain DM, or an
        @-mention in a channel (a DM's mention also arrives as message.im and is answered there)."""
        if not isinstance(event, dict) or event.get("bot_id") or missing(event, "user", "channel"):
            return None  # not a person's plain message: edits, joins, other bots
        if event.get("type") == "message" and event.get("subtype") is None:
            kind = channel_kind(event["channel"], event.get("channel_type"))
            return (kind, event.get("thread_ts")) if kind == "dm" else None  # channels: @-mentions only
        if event.get("type") == "app_mention":
            kind = channel_kind(event["channel"], event.get("channel_type"))
            return None if kind == "dm" else (kind, event.get("thread_ts") or event.get("ts"))
        return None

    def event_reply(self, event: dict[str, Any]) -> "EventReply | None":
        """The core's answer to an event the bot answers, and where it goes (None: not answered)."""
        where = self.answers(event)
        if where is None:
            return None
        kind, thread_ts = where
        text = event["text"] if isinstance(event.get("text"), str) else ""
        request = Request(text=text, platform="slack", user_id=event["user"], channel_kind=kind,
                          channel_id=event["channel"])
        return EventReply(self.bot.handle(request), event["channel"], kind, thread_ts, event.get("channel_type"))

    # -- buttons -------------------------------------------------------------------------
    def ack_action(self, ack: Ack) -> None:
        ack()

    def run_action(self, body: dict[str, Any]) -> None:
        actions = body.get("actions")
        action = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
        name = action_name(str(action.get("action_id", "")), ACTION_PREFIX)
        user = _dict(body.get("user")).get("id")
        container = _dict(body.get("container"))
        channel = _dict(body.get("channel")).get("id") or container.get("channel_id")
        response_url = body.get("response_url") if isinstance(body.get("response_url"), str) else None
        if not name or not isinstance(user, str) or not user:
            log.warning("button click without action or user ignored")
            return
        kind = channel_kind(channel)
        reply = self.bot.handle_action(ActionRequest(
            action=name, value=str(action.get("value", "")), platform="slack", user_id=user,
            channel_kind=kind, channel_id=channel,
        ))
        if reply.kind == "error":
            _guarded("click error", lambda: self._tell_clicker(reply, user, kind, channel, response_url))
            return
        done_by = reply.summary or reply.title
        message = _dict(body.get("message"))
        block_id = str(action.get("block_id", ""))
        if message.get("ts") and channel and not container.get("is_ephemeral"):
            _guarded("click update", lambda: self._update_and_thread(channel, message, block_id, done_by, reply, kind))
        else:
            _guarded("click answer", lambda: self._update_ephemeral(message, block_id, done_by, reply, user, kind,
                                                                    channel, response_url))

    def _update_and_thread(self, channel: str, message: dict[str, Any], block_id: str, done_by: str,
                           reply: Reply, kind: ChannelKind) -> None:
        """The item shows who handled it; the details go into the message's thread."""
        try:
            self.delivery.mark_done(channel, message, block_id, done_by)
        except RenderError:
            log.warning("clicked block %s not found in message %s", block_id, message.get("ts"))
        thread_ts = message.get("thread_ts") or message.get("ts")
        self.delivery.post(channel, reply, produced_for=kind, thread_ts=str(thread_ts))

    def _update_ephemeral(self, message: dict[str, Any], block_id: str, done_by: str, reply: Reply, user: str,
                          kind: ChannelKind, channel: str | None, response_url: str | None) -> None:
        """Ephemeral messages cannot be chat.update'd or threaded: rewrite via response_url."""
        if response_url and isinstance(message.get("blocks"), list):
            try:
                blocks = mark_item_done(message["blocks"], block_id, done_by, self.delivery.templates_dir)
                self.delivery.replace(response_url, blocks, str(message.get("text") or reply.title))
            except RenderError:
                log.warning("clicked block %s not found in ephemeral message", block_id)
        self._tell_clicker(reply, user, kind, channel, response_url)

    def _tell_clicker(self, reply: Reply, user: str, kind: ChannelKind, channel: str | None,
                      response_url: str | None) -> None:
        if response_url:
            self.delivery.respond(response_url, reply, user_id=user, produced_for=kind, channel=channel)
        elif channel:
            self.delivery.post_ephemeral(channel, user, reply, produced_for=kind)
