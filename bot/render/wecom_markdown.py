"""Neutral reply → WeCom messages: markdown within WeCom's byte limits, plus button cards.

WeCom counts limits in UTF-8 bytes (app markdown 2048, robot markdown 4096) and cuts or
refuses what is longer, so a long answer is split into several messages on character
boundaries, preferring line ends; nothing is dropped. Buttons become template cards: a few
actionable items get a `button_interaction` card each (a card's buttons are greyed out together
when one is clicked); more than `BATCH_OVER` items are batched, `BATCH_ITEMS` to a
`multiple_interaction` card (one select list per item: its buttons as options, plus 暂不登记),
submitted once for all of its items. WeCom drops member messages past 30 a minute, so a branch
manager's 40-item list sent a card per item arrived over two minutes; batched it is ~1/3 the
messages and arrives at once. The submit comes back as a `template_card_event` whose selected
options are the items' button keys, run through the same actions (bot/adapters/wecom/callback.py).
"""

from __future__ import annotations

import logging
import re
import unicodedata
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from bot.core.privacy import resolve
from bot.core.reply import Button, Item, Reply, Table
from bot.render.env import jinja_env

log = logging.getLogger("rmbot.render.wecom")

MARKDOWN_MAX = 2048
"""message/send and appchat/send markdown, UTF-8 bytes."""
ROBOT_MARKDOWN_MAX = 4096
"""Group robot webhook markdown, UTF-8 bytes."""
BUTTON_KEY_MAX = 1024
CARD_BUTTONS_MAX = 6
BATCH_OVER = 3
"""Up to this many carded items: a button card each; more: batched cards."""
BATCH_ITEMS = 3
"""multiple_interaction: at most 3 select lists a card."""
SELECT_OPTIONS_MAX = 10
OPTION_ID_MAX = 128
"""option_list id: at most 128 bytes."""
SELECT_TITLE_MAX = 13
"""select_list title: WeCom shows about 13 characters."""
OPTION_TEXT_MAX = 16
SKIP_OPTION = "skip"
BATCH_SUBMIT = "rmbot-batch"
"""The submit button's key: a batched card's answer, whatever its options."""
SOURCE_DESC = "客户经理助手"
KEY_SEP = "|"

# Button styles 1..4 are only shown as a picture in WeCom's docs; 1 (the default) is the
# emphasised one. Cosmetic only: a wrong guess never changes what a click does.
_STYLE = {"primary": 1, "danger": 2, None: 4}

_ZWSP = "\u200b"
_BLANK_RUNS = re.compile(r"\n{3,}")
_LINE_START = re.compile(r"^([ \t]*)([#>\-+]|\d+\.)", re.MULTILINE)


@dataclass(frozen=True)
class WeComMessage:
    msgtype: Literal["markdown", "template_card"]
    body: Any
    """markdown: the content string; template_card: the card dict."""


# -- escaping ---------------------------------------------------------------------------------


def md(text: object) -> str:
    """Data must not restyle the message: a masked name "欧阳**" would open bold, a "<" could
    forge <font> or <@userid>. A zero-width space after the trigger keeps every character
    visible as typed while breaking the markup."""
    s = str(text)
    s = s.replace("*", "*" + _ZWSP).replace("<", "<" + _ZWSP).replace("](", "]" + _ZWSP + "(")
    s = s.replace("`", "`" + _ZWSP)
    return _LINE_START.sub(lambda m: m.group(1) + _ZWSP + m.group(2), s)


def code(text: object) -> str:
    """Inside `code` only a backtick can end the span early."""
    return str(text).replace("`", "'")


# -- splitting --------------------------------------------------------------------------------


def _glued(ch: str) -> bool:
    """Characters that belong to the one before them: never start a part with one."""
    return ch in (_ZWSP, "\u200d", "\ufe0f", "\ufe0e") or unicodedata.combining(ch) != 0


def split_utf8(text: str, limit: int) -> list[str]:
    """Parts of at most `limit` UTF-8 bytes whose concatenation is exactly `text`.

    Cuts after a line end when one falls in the second half of the budget, else after a
    sentence mark or space in its last quarter, else at the last whole character; a mark or
    joiner stays with the character it modifies.
    """
    if limit < 8:
        raise ValueError("limit too small")
    parts: list[str] = []
    rest = text
    while len(rest.encode("utf-8")) > limit:
        raw = rest.encode("utf-8")
        cut = limit
        while cut > 0 and (raw[cut] & 0xC0) == 0x80:  # raw[cut] must start a character
            cut -= 1
        head = raw[:cut].decode("utf-8")
        n = len(head)
        while n > 1 and (_glued(rest[n]) or rest[n - 1] == "\u200d"):
            n -= 1
        head = rest[:n]
        half = len(head.encode("utf-8")) // 2
        nl = head.rfind("\n")
        if nl >= 0 and len(head[: nl + 1].encode("utf-8")) >= half:
            n = nl + 1
        else:
            quarter = len(head) * 3 // 4
            soft = max(head.rfind(ch) for ch in "。！？；，、 \t")
            if soft >= quarter and not _glued(rest[soft + 1]):
                n = soft + 1
        parts.append(rest[:n])
        rest = rest[n:]
    if rest:
        parts.append(rest)
    return parts


# -- markdown ---------------------------------------------------------------------------------


def _table(t: Table) -> str:
    lines = [f"**{md(t.title)}**"] if t.title else []
    lines.append('<font color="comment">' + " · ".join(md(c) for c in t.columns) + "</font>")
    for row in t.rows:
        lines.append("- " + " · ".join(md(c) if c else "—" for c in row))
    return "\n".join(lines)


def _carded(item: Item) -> bool:
    return bool(item.buttons) and not item.done_by


def render_markdown(
    reply: Reply,
    templates_dir: str | None = None,
    *,
    cards: bool = True,
    mentions: Mapping[str, str] | None = None,
    robot: bool = False,
) -> str:
    """The whole reply as one markdown text (unsplit).

    With `cards`, items' buttons are left to the cards and only listed here; without (group
    chats, robots: no interactive cards there), button labels are shown as text.
    `mentions` maps staff ids to WeCom userids; only robot markdown can really @ someone.
    """
    reply = resolve(reply)  # the masking policy decides what each customer value reads as
    mentions = mentions or {}
    carded = sum(_carded(i) for i in _all_items(reply)) if cards else 0

    def item_line(item: Item, index: int) -> str:
        line = f"{index}. {md(item.text)}"
        if item.done_by:
            return line + f' <font color="info">✔ {md(item.done_by)}</font>'
        if item.buttons and not cards:
            return line + "（" + " / ".join(md(b.label) for b in item.buttons) + "）"
        return line

    def mention(staff_id: str) -> str:
        userid = mentions.get(staff_id)
        if userid and robot:
            return f"<@{userid}>"
        return "@" + md(staff_id)

    template = jinja_env(templates_dir).get_template("wecom_markdown.md.j2")
    text = template.render(reply=reply, md=md, code=code, table=_table, item_line=item_line,
                           mention=mention, cards=cards, carded=carded)
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines))


def _all_items(reply: Reply) -> list[Item]:
    return [*reply.items, *(i for s in reply.sections for i in s.items)]


# -- cards ------------------------------------------------------------------------------------


def button_key(button: Button) -> str:
    """The click comes back as EventKey: it must say which action and with what value."""
    return f"{button.action}{KEY_SEP}{button.value}"


def parse_button_key(key: str) -> tuple[str, str] | None:
    action, sep, value = key.partition(KEY_SEP)
    if not sep or not action or not value:
        return None
    return action, value


def _keys_fit(buttons: list[Button]) -> bool:
    keys = [button_key(b) for b in buttons]
    return all(len(k.encode("utf-8")) <= BUTTON_KEY_MAX for k in keys) and len(set(keys)) == len(keys)


def template_card(title: str, desc: str | None, text: str, buttons: list[Button],
                  task_id: str | None = None) -> dict[str, Any]:
    card: dict[str, Any] = {
        "card_type": "button_interaction",
        "source": {"desc": SOURCE_DESC},
        "main_title": {"title": title, **({"desc": desc} if desc else {})},
        "sub_title_text": text,
        "button_list": [
            {"text": b.label, "style": _STYLE.get(b.style, 4), "key": button_key(b)} for b in buttons
        ],
        "task_id": task_id or f"rmbot-{uuid.uuid4().hex}",
    }
    return card


def _batchable(item: Item) -> bool:
    """Its buttons fit a select list: ≤ 9 options besides 暂不登记, each id ≤ 128 bytes."""
    keys = [button_key(b) for b in item.buttons]
    return (len(keys) < SELECT_OPTIONS_MAX and len(set(keys)) == len(keys) and SKIP_OPTION not in keys
            and all(len(k.encode("utf-8")) <= OPTION_ID_MAX for k in keys))


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def batch_card(title: str, numbered: list[tuple[int, Item]], task_id: str) -> dict[str, Any]:
    """One `multiple_interaction` card for up to three items, each a select list of its buttons.
    The question key is the item's number in the markdown list above, so the member can match
    each select to the full line (the select's title shows only its start)."""
    first, last = numbered[0][0], numbered[-1][0]
    return {
        "card_type": "multiple_interaction",
        "source": {"desc": SOURCE_DESC},
        "main_title": {"title": _short(title, 26), "desc": f"第 {first}–{last} 项：选择结果后提交"
                       if first != last else f"第 {first} 项：选择结果后提交"},
        "select_list": [
            {"question_key": f"q{index}", "title": _short(f"{index}. {item.text}", SELECT_TITLE_MAX),
             "selected_id": SKIP_OPTION,
             "option_list": [{"id": SKIP_OPTION, "text": "暂不登记"}] + [
                 {"id": button_key(b), "text": _short(b.label, OPTION_TEXT_MAX)} for b in item.buttons]}
            for index, item in numbered
        ],
        "submit_button": {"text": "提交", "key": BATCH_SUBMIT},
        "task_id": task_id,
    }


def render_cards(reply: Reply, task_id: Callable[[], str] | None = None) -> list[dict[str, Any]]:
    """One card per pending item when there are a few, else batched cards of three items (and
    one card per six reply-level buttons)."""
    reply = resolve(reply)
    new_id = task_id or (lambda: f"rmbot-{uuid.uuid4().hex}")
    cards: list[dict[str, Any]] = []
    groups: list[tuple[str, list[Item]]] = [(reply.title, reply.items)]
    groups += [(s.title or reply.title, s.items) for s in reply.sections]
    batched = sum(_carded(i) for _, items in groups for i in items) > BATCH_OVER
    for title, items in groups:
        pending: list[tuple[int, Item]] = []
        for index, item in enumerate(items, 1):
            if not _carded(item):
                continue
            if batched and _batchable(item):
                pending.append((index, item))
                if len(pending) == BATCH_ITEMS:
                    cards.append(batch_card(title, pending, new_id()))
                    pending = []
                continue
            buttons = item.buttons[:CARD_BUTTONS_MAX]
            if len(item.buttons) > CARD_BUTTONS_MAX or not _keys_fit(buttons):
                log.warning("item %r: buttons do not fit a WeCom card; shown as text only", item.ref)
                continue
            cards.append(template_card(title, f"第 {index} 项", item.text, buttons, new_id()))
        if pending:
            cards.append(batch_card(title, pending, new_id()))
    for start in range(0, len(reply.buttons), CARD_BUTTONS_MAX):
        buttons = reply.buttons[start:start + CARD_BUTTONS_MAX]
        if _keys_fit(buttons):
            cards.append(template_card(reply.title, None, reply.summary or reply.title, buttons, new_id()))
        else:
            log.warning("reply %r: buttons do not fit a WeCom card", reply.title)
    return cards


# -- the entry points ---------------------------------------------------------------------------


def render_messages(reply: Reply, templates_dir: str | None = None, *, cards: bool = True,
                    limit: int = MARKDOWN_MAX) -> list[WeComMessage]:
    """What to send to one member through message/send, in order."""
    reply = resolve(reply)
    text = render_markdown(reply, templates_dir, cards=cards)
    messages = [WeComMessage("markdown", part) for part in split_utf8(text, limit) if part.strip()]
    if cards:
        messages += [WeComMessage("template_card", card) for card in render_cards(reply)]
    return messages


def render_robot_markdown(reply: Reply, templates_dir: str | None = None,
                          mentions: Mapping[str, str] | None = None) -> list[str]:
    """Group robot parts (≤ 4096 bytes each); robots have no interactive cards."""
    text = render_markdown(reply, templates_dir, cards=False, mentions=mentions, robot=True)
    return [part for part in split_utf8(text, ROBOT_MARKDOWN_MAX) if part.strip()]


def parse_selected(selected: str) -> list[tuple[str, list[str]]]:
    """A batched card's answer (the callback's SelectedItems as bot/adapters/wecom/callback.py
    stores it: JSON [[question_key, [option ids]], …]) → (question, chosen options)."""
    import json

    try:
        doc = json.loads(selected or "[]")
        return [(str(q), [str(o) for o in opts]) for q, opts in doc]
    except (ValueError, TypeError):
        return []


def render_done(reply: Reply, templates_dir: str | None = None) -> str:
    """The label that replaces a clicked card's buttons (who handled it, when)."""
    reply = resolve(reply)
    return jinja_env(templates_dir).get_template("wecom_card_done.j2").render(reply=reply).strip()
