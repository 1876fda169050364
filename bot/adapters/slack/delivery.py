"""Getting rendered replies to Slack: channel posts, response_url answers, item updates.

Every path goes through `guard()` first: a reply the core produced for a DM may hold unmasked
customer data (docs/DOMAIN.md §8) and must never land in a group channel, whatever bug or push
configuration asks for it.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.adapters.slack.client import make_webhook
from bot.adapters.slack.inbound import channel_kind
from bot.core.reply import Reply
from bot.core.request import ChannelKind
from bot.render.blockkit import mark_item_done, render_messages
from bot.store.staff import identities_of

log = logging.getLogger("rmbot.slack")

RESPONSE_URL_MAX = 5
"""Slack accepts up to 5 messages per response_url (within 30 minutes)."""


class MaskingRefused(RuntimeError):
    """A DM reply was about to be posted where others can read it."""


class DeliveryFailed(RuntimeError):
    pass


def guard(produced_for: ChannelKind, destination: ChannelKind, where: str) -> None:
    if destination == "group" and produced_for != "group":
        log.error("refused to post a reply produced for a %s into group channel %s", produced_for, where)
        raise MaskingRefused(f"reply produced for a {produced_for} cannot be posted in group channel {where}")


class Delivery:
    CACHE_SIZE = 512

    def __init__(self, client: WebClient, engine: Engine | None = None, templates_dir: str | None = None) -> None:
        self.client = client
        self.engine = engine
        self.templates_dir = templates_dir
        self._latest: OrderedDict[tuple[str, str], list[dict[str, Any]]] = OrderedDict()
        self._locks: OrderedDict[tuple[str, str], threading.Lock] = OrderedDict()
        self._cache_lock = threading.Lock()

    # -- rendering -------------------------------------------------------------------
    def payloads(self, reply: Reply) -> list[dict[str, Any]]:
        return render_messages(reply, self._mentions(reply), self.templates_dir)

    def _mentions(self, reply: Reply) -> Mapping[str, str]:
        """Staff ids named in sections → Slack user ids, so group pushes really @ the RM."""
        staff_ids = sorted({s.mention for s in reply.sections if s.mention})
        if not staff_ids or self.engine is None:
            return {}
        try:
            with Session(self.engine) as session:
                return identities_of(session, staff_ids, "slack")
        except Exception:  # a mention is a nicety; the message still goes out with "@RM001"
            log.warning("could not resolve mentions", exc_info=True)
            return {}

    # -- channel messages --------------------------------------------------------------
    def post(self, channel: str, reply: Reply, *, produced_for: ChannelKind,
             thread_ts: str | None = None, channel_type: str | None = None) -> list[str]:
        """Post every message of the reply in order; returns their ts."""
        guard(produced_for, channel_kind(channel, channel_type), channel)
        stamps = self.post_payloads(channel, self.payloads(reply), produced_for=produced_for, thread_ts=thread_ts,
                                    channel_type=channel_type)
        if reply.images:
            self.upload_images(channel, reply, produced_for=produced_for, thread_ts=thread_ts,
                               channel_type=channel_type)
        return stamps

    def post_payloads(self, channel: str, payloads: Sequence[Mapping[str, Any]], *, produced_for: ChannelKind,
                      thread_ts: str | None = None, channel_type: str | None = None) -> list[str]:
        """Already rendered messages (`payloads(reply)`, e.g. with Slack `metadata` added, as pushes
        do); the same guard applies. Returns their ts."""
        guard(produced_for, channel_kind(channel, channel_type), channel)
        stamps = []
        for payload in payloads:
            resp = self.client.chat_postMessage(channel=channel, thread_ts=thread_ts, **payload)
            stamps.append(str(resp.get("ts")))
        return stamps

    def upload_images(self, channel: str, reply: Reply, *, produced_for: ChannelKind,
                      thread_ts: str | None = None, channel_type: str | None = None) -> list[str]:
        """Each chart as a file in `channel` (files_upload_v2), after the text; the same guard.

        Block Kit image blocks need a public URL, which a bank's charts must not have: a file
        shared into the conversation stays inside the workspace. Returns the file ids.
        """
        guard(produced_for, channel_kind(channel, channel_type), channel)
        ids = []
        for image in reply.images:
            resp = self.client.files_upload_v2(channel=channel, content=image.data, filename=image.filename,
                                               title=image.title, thread_ts=thread_ts)
            ids.append(str((resp.get("file") or {}).get("id", "")))
        return ids

    def post_ephemeral(self, channel: str, user: str, reply: Reply, *, produced_for: ChannelKind) -> None:
        """Only `user` sees it, but it still sits in the channel's context: same guard."""
        guard(produced_for, channel_kind(channel), channel)
        for payload in self.payloads(reply):
            self.client.chat_postEphemeral(channel=channel, user=user, **payload)

    # -- response_url ----------------------------------------------------------------
    def respond(self, response_url: str, reply: Reply, *, user_id: str, produced_for: ChannelKind,
                channel: str | None = None, payloads: Sequence[Mapping[str, Any]] | None = None,
                shown: int = 0) -> None:
        """Ephemeral answer to a slash command or click; overflow beyond 5 messages goes to a DM.

        `payloads` are the reply already rendered (rendered here if not given); the first `shown`
        of them reached the user another way (a slash command's ack body), so only the rest go
        to the response_url, in order. Charts always follow by DM.
        """
        guard(produced_for, channel_kind(channel) if channel else produced_for, channel or "response_url")
        payloads = list(payloads) if payloads is not None else self.payloads(reply)
        pending = payloads[shown:]
        if len(pending) <= RESPONSE_URL_MAX:
            for payload in pending:
                self._send(response_url, payload)
            self._images_to_dm(response_url, reply, user_id, produced_for, channel)
            return
        head, rest = pending[: RESPONSE_URL_MAX - 1], pending[RESPONSE_URL_MAX - 1:]
        for payload in head:
            self._send(response_url, payload)
        try:
            dm = self.open_dm(user_id)
            for payload in rest:  # masked or DM-produced data is fine in the user's own DM
                self.client.chat_postMessage(channel=dm, **payload)
            notice = Reply(title=reply.title, kind="info",
                           summary=f"内容较多（共 {len(payloads)} 条消息），其余 {len(rest)} 条已通过私信发给您。"
                                   f" The remaining {len(rest)} messages were sent to you by DM.")
        except SlackApiError as exc:
            log.error("overflow DM to %s failed: %s", user_id, exc.response.get("error"))
            notice = Reply(title=reply.title, kind="warning",
                           summary=f"内容较多（共 {len(payloads)} 条消息），其余 {len(rest)} 条未能私信发送，"
                                   "请在与机器人的私信中发送该命令查看全部。"
                                   f" {len(rest)} more messages could not be sent; ask in a DM with the bot.")
        for payload in self.payloads(notice):
            self._send(response_url, payload)
        self._images_to_dm(response_url, reply, user_id, produced_for, channel)

    def _images_to_dm(self, response_url: str, reply: Reply, user_id: str, produced_for: ChannelKind,
                      channel: str | None) -> None:
        """A response_url cannot carry files: charts go to the user's own DM with the bot."""
        if not reply.images:
            return
        try:
            dm = channel if channel and channel_kind(channel) == "dm" else self.open_dm(user_id)
            self.upload_images(dm, reply, produced_for=produced_for, channel_type="im")
            if dm != channel:
                notice = Reply(title=reply.title, summary=f"图表（{len(reply.images)} 张）已通过私信发给您。"
                                                          " The charts were sent to you by DM.")
                for payload in self.payloads(notice):
                    self._send(response_url, payload)
        except Exception as exc:  # noqa: BLE001  (the text has arrived; say the charts did not)
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else f"{exc.__class__.__name__}: {exc}"
            log.error("charts for %s not uploaded: %s", user_id, error)
            notice = Reply(title=reply.title, kind="warning",
                           summary="图表未能发送（需要 files:write 权限），请稍后重试。The charts could not be uploaded.")
            for payload in self.payloads(notice):
                self._send(response_url, payload)

    def replace(self, response_url: str, blocks: Sequence[Mapping[str, Any]], text: str) -> None:
        """Rewrite the (ephemeral) message a click came from."""
        self._send(response_url, {"text": text, "blocks": list(blocks)}, replace_original=True)

    def _send(self, url: str, payload: Mapping[str, Any], *, replace_original: bool = False) -> None:
        body = dict(payload)
        body.setdefault("response_type", "ephemeral")
        body["replace_original"] = replace_original
        resp = make_webhook(url).send_dict(body)
        if resp.status_code != 200:
            raise DeliveryFailed(f"response_url answered {resp.status_code}: {resp.body[:200]}")

    def open_dm(self, user_id: str) -> str:
        resp = self.client.conversations_open(users=user_id)
        return str(resp["channel"]["id"])

    # -- handled items ---------------------------------------------------------------
    def mark_done(self, channel: str, message: Mapping[str, Any], block_id: str, done_by: str) -> list[dict[str, Any]]:
        """chat.update the clicked item to show who handled it, keeping earlier marks.

        Two clicks on one message can arrive together, each carrying the message as it was
        before either; the latest blocks we wrote are kept here so the second update does not
        undo the first.
        """
        key = (channel, str(message.get("ts")))
        with self._key_lock(key):
            with self._cache_lock:
                current = self._latest.get(key)
            blocks = mark_item_done(current or list(message.get("blocks") or []), block_id, done_by,
                                    self.templates_dir)
            self.client.chat_update(channel=channel, ts=key[1], blocks=blocks, text=str(message.get("text") or ""))
            with self._cache_lock:
                self._latest[key] = blocks
                self._latest.move_to_end(key)
                while len(self._latest) > self.CACHE_SIZE:
                    self._latest.popitem(last=False)
        return blocks

    def _key_lock(self, key: tuple[str, str]) -> threading.Lock:
        with self._cache_lock:
            lock = self._locks.pop(key, None) or threading.Lock()
            self._locks[key] = lock
            while len(self._locks) > self.CACHE_SIZE:
                self._locks.popitem(last=False)
            return lock
