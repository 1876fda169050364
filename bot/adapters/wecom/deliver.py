"""Sending a neutral Reply to the three kinds of WeCom destination.

Shared by the callback (answers to a member) and, later, the push worker (app group chats and
group robots), so every path renders and splits the same way. Each returns how many messages
went out; a WeComError stops the rest (they would fail the same way) and is raised to the
caller, who knows whether to retry, log or mark an outbox row. A reply's charts (`images`)
follow its text as image messages, best effort (see `_images`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from bot.adapters.wecom.client import WeComClient, WeComError
from bot.core.reply import Image, Reply
from bot.render.wecom_markdown import render_messages, render_robot_markdown

log = logging.getLogger("rmbot.wecom")


def to_member(client: WeComClient, userid: str, reply: Reply, templates_dir: str | None = None,
              *, cards: bool = True) -> int:
    """Markdown part(s), then one button card per pending item."""
    sent = 0
    for message in render_messages(reply, templates_dir, cards=cards):
        if message.msgtype == "markdown":
            client.send_markdown(userid, message.body)
        else:
            client.send_template_card(userid, message.body)
        sent += 1
    return sent + _images(reply, lambda image: client.send_image(userid, client.upload_image(image.filename, image.data)),
                          f"member {userid}")


def to_app_chat(client: WeComClient, chatid: str, reply: Reply, templates_dir: str | None = None) -> int:
    """appchat/send has no interactive cards: buttons are listed as text."""
    sent = 0
    for message in render_messages(reply, templates_dir, cards=False):
        client.appchat_send_markdown(chatid, message.body)
        sent += 1
    return sent + _images(reply, lambda image: client.appchat_send_image(
        chatid, client.upload_image(image.filename, image.data)), f"chat {chatid}")


def to_robot(client: WeComClient, key: str, reply: Reply, templates_dir: str | None = None,
             mentions: Mapping[str, str] | None = None) -> int:
    """Group robot markdown (≤ 4096 bytes a part); `mentions` maps staff ids to WeCom userids."""
    sent = 0
    for part in render_robot_markdown(reply, templates_dir, mentions):
        client.webhook_markdown(key, part)
        sent += 1
    return sent + _images(reply, lambda image: client.webhook_image(key, image.data), "robot")


def _images(reply: Reply, send: Callable[[Image], object], where: str) -> int:
    """Charts after the text as image messages, best effort: the text already went out with
    every figure, and failing now would make a push retry send that text twice."""
    sent = 0
    for image in reply.images:
        try:
            send(image)
            sent += 1
        except (WeComError, ValueError) as exc:
            log.warning("chart %s not sent to %s: %s", image.filename, where, exc)
    return sent
