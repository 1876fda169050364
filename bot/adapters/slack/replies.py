"""Chat replies the durable inbox queued for Slack (bot/core/inbox.py): the outbox rows of an
answered DM or @-mention, and the sender that posts them.

An accepted event is stored before its ack (DedupeMiddleware); the inbox's worker runs the core
and queues the reply here as an outbox row of platform `slack_post`, target the channel, so one
channel's replies go out in order and a crash between the ack and the post loses nothing.
`rendered` is the post's options (JSON, one line) and a newline before the neutral Reply.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError

from bot.adapters.slack.delivery import Delivery, DeliveryFailed, MaskingRefused
from bot.core.reply import Reply
from bot.push.senders import PermanentSendError, TransientSendError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from bot.adapters.slack.handlers import SlackHandlers
    from bot.core.inbox import Handler
    from bot.store.inbox import Claimed

log = logging.getLogger("rmbot.slack")

PLATFORM = "slack_post"
RESPOND = "slack_respond"
"""Slow slash commands' answers, via response_url; target = the user (one user's in order)."""
RETRYABLE = frozenset({"ratelimited", "service_unavailable", "request_timeout", "internal_error", "fatal_error"})


class SlackRespondSender:
    """A slow slash command's answer through its response_url (valid 30 minutes, 5 messages)."""

    platform = RESPOND

    def __init__(self, delivery: Delivery) -> None:
        self.delivery = delivery

    def send(self, target: str, reply: Reply, key: str) -> str | None:
        raise PermanentSendError("a slash command's answer needs its response_url")

    def send_rendered(self, target: str, text: str, key: str) -> str | None:
        head, _, body = text.partition("\n")
        options = json.loads(head)
        try:
            self.delivery.respond(options["response_url"], Reply.model_validate_json(body), user_id=target,
                                  produced_for=options.get("produced_for", "dm"))
        except MaskingRefused as exc:
            raise PermanentSendError(str(exc)) from exc
        except (DeliveryFailed, SlackApiError) as exc:
            raise TransientSendError(str(exc)) from exc
        return None

    def find_sent(self, target: str, key: str, since: datetime) -> str | None:
        return None


def rendered(reply: Reply, *, produced_for: str, thread_ts: str | None, channel_type: str | None) -> str:
    options = {"produced_for": produced_for, "thread_ts": thread_ts, "channel_type": channel_type}
    return json.dumps(options) + "\n" + reply.model_dump_json()


class SlackPostSender:
    platform = PLATFORM

    def __init__(self, delivery: Delivery) -> None:
        self.delivery = delivery

    def send(self, target: str, reply: Reply, key: str) -> str | None:
        return self._post(target, reply, {"produced_for": "dm"})

    def send_rendered(self, target: str, text: str, key: str) -> str | None:
        head, _, body = text.partition("\n")
        return self._post(target, Reply.model_validate_json(body), json.loads(head))

    def _post(self, channel: str, reply: Reply, options: dict[str, Any]) -> str | None:
        try:
            stamps = self.delivery.post(channel, reply, produced_for=options.get("produced_for", "dm"),
                                        thread_ts=options.get("thread_ts"), channel_type=options.get("channel_type"))
        except MaskingRefused as exc:
            raise PermanentSendError(str(exc)) from exc
        except SlackApiError as exc:
            error = str(exc.response.get("error", ""))
            if error in RETRYABLE or exc.response.status_code >= 500:
                raise TransientSendError(error) from exc
            raise PermanentSendError(error) from exc
        return stamps[0] if stamps else None

    def find_sent(self, target: str, key: str, since: datetime) -> str | None:
        return None


def inbox_handler(handlers: "SlackHandlers", engine: "Engine") -> "Handler":
    """The inbox's handler of stored Slack events: the reply as an outbox row to its channel."""
    from bot import clock
    from bot.adapters.slack.inbound import channel_kind
    from bot.core.inbox import reply_key
    from bot.store.inbox import reply_org
    from bot.store.outbox import NewMessage

    def handle(row: "Claimed") -> list[NewMessage]:
        body = json.loads(row.payload)
        if isinstance(body, dict) and isinstance(body.get("slash"), dict):
            slash = body["slash"]
            reply = handlers.slow_answer(row.key, slash).reply
            options = {"response_url": slash["response_url"],
                       "produced_for": channel_kind(slash.get("channel_id"), None, slash.get("channel_name"))}
            return [NewMessage(key=reply_key(row, 0), kind="reply", org_id=reply_org(engine),
                               push_date=clock.today(), platform=RESPOND, target=row.user_id,
                               payload=reply.model_dump_json(), rendered=json.dumps(options) + "\n" +
                               reply.model_dump_json())]
        answer = handlers.event_reply(body.get("event") if isinstance(body, dict) else {})
        if answer is None:
            return []
        return [NewMessage(key=reply_key(row, 0), kind="reply", org_id=reply_org(engine), push_date=clock.today(),
                           platform=PLATFORM, target=answer.channel, payload=answer.reply.model_dump_json(),
                           rendered=rendered(answer.reply, produced_for=answer.kind, thread_ts=answer.thread_ts,
                                             channel_type=answer.channel_type))]

    return handle
