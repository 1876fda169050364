"""Bolt listeners: acknowledge at once, then run the core in a lazy function.

Slack gives 3 seconds to acknowledge; a database under load may not. Acks never touch the
store, and everything after the ack catches its own errors so one bad delivery cannot stop
the app from serving the next request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack
from slack_sdk.errors import SlackApiError

from bot.adapters.slack.delivery import Delivery
from bot.adapters.slack.inbound import action_name, channel_kind, command_text, missing
from bot.core.app import Rmbot
from bot.core.reply import Reply
from bot.core.request import ActionRequest, ChannelKind, Request
from bot.render.blockkit import ACTION_PREFIX, RenderError, mark_item_done

log = logging.getLogger("rmbot.slack")

INCOMPLETE = "请求不完整（缺少 {fields}），请重试。Incomplete request from Slack (missing {fields})."


def _guarded(what: str, fn: Callable[[], object]) -> None:
    try:
        fn()
    except SlackApiError as exc:
        log.error("%s: Slack API error %s", what, exc.response.get("error"))
    except Exception:
        log.exception("%s failed", what)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class SlackHandlers:
    def __init__(self, bot: Rmbot, delivery: Delivery) -> None:
        self.bot = bot
        self.delivery = delivery

    # -- slash commands ----------------------------------------------------------------
    def ack_command(self, ack: Ack, body: dict[str, Any]) -> None:
        gaps = missing(body, "user_id", "command", "response_url")
        if gaps:
            ack(response_type="ephemeral", text=INCOMPLETE.format(fields=", ".join(gaps)))
        else:
            ack()

    def run_command(self, body: dict[str, Any]) -> None:
        if missing(body, "user_id", "command", "response_url"):
            return
        kind = channel_kind(body.get("channel_id"), None, body.get("channel_name"))
        request = Request(
            text=command_text(body["command"], body.get("text")),
            platform="slack",
            user_id=body["user_id"],
            channel_kind=kind,
            channel_id=body.get("channel_id") or None,
        )
        reply = self.bot.handle(request)
        _guarded(f"answer to {body['command']}",
                 lambda: self.delivery.respond(body["response_url"], reply, user_id=body["user_id"],
                                               produced_for=kind))

    # -- DMs and @-mentions ---------------------------------------------------------------
    def ack_event(self) -> None:
        """Events are acknowledged by Bolt itself; there is nothing to say in the ack."""

    def run_message(self, event: dict[str, Any]) -> None:
        if event.get("bot_id") or missing(event, "user", "channel"):
            return  # not a person's plain message: edits, joins, other bots
        kind = channel_kind(event["channel"], event.get("channel_type"))
        if kind != "dm":
            return  # in channels the bot answers @-mentions only (app_mention)
        self._answer(event, kind, thread_ts=event.get("thread_ts"))

    def run_mention(self, event: dict[str, Any]) -> None:
        if event.get("bot_id") or missing(event, "user", "channel"):
            return
        kind = channel_kind(event["channel"], event.get("channel_type"))
        if kind == "dm":
            return  # the same text arrives as message.im and is answered there
        self._answer(event, kind, thread_ts=event.get("thread_ts") or event.get("ts"))

    def _answer(self, event: dict[str, Any], kind: ChannelKind, thread_ts: str | None) -> None:
        text = event["text"] if isinstance(event.get("text"), str) else ""
        request = Request(text=text, platform="slack", user_id=event["user"], channel_kind=kind,
                          channel_id=event["channel"])
        reply = self.bot.handle(request)
        _guarded("reply", lambda: self.delivery.post(event["channel"], reply, produced_for=kind,
                                                     thread_ts=thread_ts, channel_type=event.get("channel_type")))

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
