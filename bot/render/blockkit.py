"""Neutral reply → Slack Block Kit messages, through the `slack_*.j2` templates.

The templates decide what the blocks look like (a bank may override them); this module
keeps every message inside Slack's limits. Slack rejects a message that breaks a limit
outright, so long content is cut into pieces *before* templating (text chunks, table
slices, field groups) and the resulting blocks are packed into as many messages as needed.
Nothing is dropped: the tests count every item of a 500-item reply across the messages.

Templates emit one JSON block per line. A block may carry `"_with_next": true` to ask the
packer to keep it in the same message as the block after it (an item's text and its
buttons); keys starting with "_" never reach Slack.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Environment, StrictUndefined

from bot.core.privacy import resolve
from bot.core.reply import Field, Reply, Table
from bot.render.env import jinja_env
from bot.render.text import render_table

# Slack's documented limits (https://api.slack.com/reference/block-kit).
MAX_BLOCKS = 50
SECTION_TEXT = 3000
HEADER_TEXT = 150
FIELDS_PER_SECTION = 10
FIELD_TEXT = 2000
BUTTON_TEXT = 75
BUTTON_VALUE = 2000
ACTIONS_ELEMENTS = 25
CONTEXT_ELEMENTS = 10
CONTEXT_TEXT = 2000
FALLBACK_TEXT = 4000
MESSAGE_TEXT_BUDGET = 10_000
"""Not a documented limit: chat.postMessage answers `msg_blocks_too_long` somewhere past
~12,000 characters of block text in total (slackapi/bolt-js#2509, #2867), so each message
stays well below that."""

ACTION_PREFIX = "rmbot"
"""action_id = "rmbot:{action}:{item}:{button}"; the adapter routes every such click."""

_ENTITY_TAIL = re.compile(r"&[a-z]{0,4}$")


class RenderError(ValueError):
    """A reply that cannot be shown without losing data (e.g. a button value over 2000)."""


def esc(text: object) -> str:
    """Slack mrkdwn needs &, <, > escaped; customer data must never become a <!channel>."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: object, limit: int) -> str:
    """Visible shortening ("…") for labels only; content is chunked, never clipped."""
    s = str(text)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def chunks(text: str, limit: int = SECTION_TEXT) -> list[str]:
    """Split at line breaks where possible; never inside an escaped entity like &amp;."""
    if len(text) <= limit:
        return [text]
    out: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = line if not current else current + "\n" + line
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            out.append(current)
        while len(line) > limit:
            cut = limit
            tail = _ENTITY_TAIL.search(line[:cut])
            if tail:
                cut = tail.start() or cut
            out.append(line[:cut])
            line = line[cut:]
        current = line
    if current:
        out.append(current)
    return out


def flat_chunks(texts: Iterable[str], limit: int) -> list[str]:
    return [part for text in texts for part in chunks(text, limit)]


def bundles(texts: Iterable[str], count: int, chars: int = SECTION_TEXT) -> list[list[str]]:
    """Consecutive texts grouped by at most `count` and about `chars` in total, so that one
    block of fields or context elements never holds more than a section's worth of text."""
    out: list[list[str]] = []
    current: list[str] = []
    size = 0
    for text in texts:
        if current and (len(current) == count or size + len(text) > chars):
            out.append(current)
            current, size = [], 0
        current.append(text)
        size += len(text)
    if current:
        out.append(current)
    return out


@dataclass(frozen=True)
class FieldGroup:
    """Either up to ten short fields shown side by side, or one long field as plain sections."""

    fields: list[str]
    long: list[str]


def field_groups(fields: Sequence[Field]) -> list[FieldGroup]:
    groups: list[FieldGroup] = []
    short: list[str] = []

    def flush() -> None:
        groups.extend(FieldGroup(b, []) for b in bundles(short, FIELDS_PER_SECTION))
        short.clear()

    for f in fields:
        text = f"*{esc(f.label)}*\n{esc(f.value)}"
        if len(text) <= FIELD_TEXT:
            short.append(text)
            continue
        flush()
        groups.append(FieldGroup([], chunks(text, SECTION_TEXT)))
    flush()
    return groups


def table_chunks(table: Table) -> list[str]:
    """A table as monospace code blocks, each ≤ 3000 chars, the header row repeated in each."""
    safe = Table(
        title=None,
        columns=[esc(c) for c in table.columns],
        rows=[[esc(c) for c in row] for row in table.rows],
    )
    lines = render_table(safe).split("\n")
    head, body = lines[:2], lines[2:]
    title = f"*{esc(table.title)}*\n" if table.title else ""
    if sum(len(h) + 1 for h in head) + len(title) > SECTION_TEXT // 2:
        head, body = [], lines  # a header this wide is not worth repeating in every chunk
    fence = "```"
    out: list[str] = []
    prefix = title
    current: list[str] = []

    def flush() -> None:
        nonlocal prefix, current
        out.append(prefix + fence + "\n" + "\n".join(head + current) + fence)
        prefix, current = "", []

    overhead = len(fence) * 2 + 1 + sum(len(h) + 1 for h in head)
    for line in body:
        for piece in chunks(line, SECTION_TEXT - overhead - len(title) - 1):
            size = len(prefix) + overhead + sum(len(x) + 1 for x in current) + len(piece)
            if current and size > SECTION_TEXT:
                flush()
            current.append(piece)
    if current or not out:
        flush()
    return out


def button_value(value: str) -> str:
    if len(value) > BUTTON_VALUE:
        raise RenderError(f"button value is {len(value)} chars; Slack allows {BUTTON_VALUE}")
    return value


@lru_cache(maxsize=8)
def _env(templates_dir: str | None) -> Environment:
    # Same loaders (and bank overrides) as every other renderer, plus the Block Kit helpers.
    base = jinja_env(templates_dir)
    env = Environment(
        loader=base.loader,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters.update(
        json=lambda v: json.dumps(v, ensure_ascii=False),
        esc=esc,
        clip=clip,
        chunks=chunks,
        flat_chunks=flat_chunks,
        bundles=bundles,
    )
    env.globals.update(
        field_groups=field_groups,
        table_chunks=table_chunks,
        button_value=button_value,
        ACTION_PREFIX=ACTION_PREFIX,
        L={
            "section": SECTION_TEXT,
            "header": HEADER_TEXT,
            "button": BUTTON_TEXT,
            "actions": ACTIONS_ELEMENTS,
            "context": CONTEXT_ELEMENTS,
            "context_text": CONTEXT_TEXT,
        },
    )
    return env


def _blocks_from(template: str, templates_dir: str | None, **ctx: Any) -> list[dict[str, Any]]:
    out = _env(templates_dir).get_template(template).render(**ctx)
    blocks: list[dict[str, Any]] = []
    # "\n" only: str.splitlines() also splits on U+2028/U+2029/U+0085, which JSON leaves raw
    # inside strings, so a customer name holding one broke the block (issue 15).
    for n, line in enumerate(out.split("\n"), 1):
        if line.strip():
            try:
                blocks.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise RenderError(f"{template} line {n} is not one JSON block: {exc}") from exc
    return blocks


def render_blocks(
    reply: Reply, mentions: Mapping[str, str] | None = None, templates_dir: str | None = None
) -> list[dict[str, Any]]:
    """Every block of the reply, in order, before packing into messages."""
    reply = resolve(reply)  # the masking policy decides what each customer value reads as
    return _blocks_from("slack_reply.j2", templates_dir, reply=reply, mentions=dict(mentions or {}))


def text_size(node: Any) -> int:
    """Characters of text a block carries (what Slack's undocumented total limit counts)."""
    if isinstance(node, dict):
        return sum(len(v) if k == "text" and isinstance(v, str) else text_size(v) for k, v in node.items())
    if isinstance(node, list):
        return sum(text_size(v) for v in node)
    return 0


def _groups(blocks: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    group: list[dict[str, Any]] = []
    for block in blocks:
        group.append(block)
        if not block.get("_with_next"):
            yield group
            group = []
    if group:
        yield group


def _clean(block: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in block.items() if not k.startswith("_")}


def _pack(blocks: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Greedy packing; later messages keep one block free for the "continued" marker."""
    messages: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    size = 0

    def capacity() -> int:
        return MAX_BLOCKS if not messages else MAX_BLOCKS - 1

    def budget() -> int:
        return MESSAGE_TEXT_BUDGET if not messages else MESSAGE_TEXT_BUDGET - 400

    def flush() -> None:
        nonlocal current, size
        if current:
            messages.append(current)
        current, size = [], 0

    for group in _groups(blocks):
        gsize = sum(text_size(b) for b in group)
        if current and (len(current) + len(group) > capacity() or size + gsize > budget()):
            flush()
        if len(group) > capacity() or gsize > budget():
            for block in group:  # too big to keep together: place block by block
                bsize = text_size(block)
                if current and (len(current) + 1 > capacity() or size + bsize > budget()):
                    flush()
                current.append(block)
                size += bsize
            continue
        current.extend(group)
        size += gsize
    flush()
    return [[_clean(b) for b in message] for message in messages]


def fallback_text(reply: Reply, part: int = 1, parts: int = 1) -> str:
    """The notification / screen-reader text: a summary of the blocks, not their content.

    Slack formats it as mrkdwn too, so it is escaped like the blocks.
    """
    reply = resolve(reply)
    head = reply.title if parts == 1 else f"{reply.title}（{part}/{parts}）"
    text = f"{head}：{reply.summary}" if reply.summary and part == 1 else head
    return clip(esc(text), FALLBACK_TEXT)


def render_messages(
    reply: Reply, mentions: Mapping[str, str] | None = None, templates_dir: str | None = None
) -> list[dict[str, Any]]:
    """The reply as one or more message payloads {"text", "blocks"}, each within Slack's limits."""
    reply = resolve(reply)
    packed = _pack(render_blocks(reply, mentions, templates_dir))
    total = len(packed)
    payloads: list[dict[str, Any]] = []
    for n, blocks in enumerate(packed, 1):
        if n > 1:
            marker = _blocks_from("slack_continued.j2", templates_dir, reply=reply, part=n, parts=total)
            blocks = [_clean(b) for b in marker] + blocks
        payloads.append({"text": fallback_text(reply, n, total), "blocks": blocks})
    return payloads


def item_key(block_id: str) -> str:
    """Actions blocks of one item are "item-3", "item-3.1", …: all share the key "item-3"."""
    return block_id.split(".", 1)[0]


def mark_item_done(
    blocks: Sequence[Mapping[str, Any]], block_id: str, done_by: str, templates_dir: str | None = None
) -> list[dict[str, Any]]:
    """The message's blocks with the clicked item's buttons replaced by who handled it."""
    key = item_key(block_id)
    done = [_clean(b) for b in _blocks_from("slack_item_done.j2", templates_dir, done_by=done_by, block_id=key)]
    out: list[dict[str, Any]] = []
    replaced = False
    for block in blocks:
        bid = str(block.get("block_id", ""))
        if bid and item_key(bid) == key and block.get("type") in ("actions", "context"):
            if not replaced:
                out.extend(copy.deepcopy(done))
                replaced = True
            continue
        out.append(copy.deepcopy(dict(block)))
    if not replaced:
        raise RenderError(f"block {block_id!r} is not in the message")
    return out
