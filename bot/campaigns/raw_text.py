"""Free text as the user typed it: the core's parser folds every message with NFKC (full-width
letters and slashes become ASCII) and collapses whitespace, which is right for command words but
turns Chinese copy's ，。：into ASCII punctuation and joins its lines. Copy, reasons and texts to
lint are therefore taken from the raw message, when it provably holds the same words."""

from __future__ import annotations

import re

from bot.core.parser import normalize

_WORD = re.compile(r"\S+")


def raw_tail(raw: str, tail: list[str]) -> str:
    """The last `len(tail)` words of `raw` with their original characters and line breaks, if they
    normalise to exactly `tail`; otherwise the normalised words joined by spaces."""
    if not tail:
        return ""
    joined = " ".join(tail)
    words = list(_WORD.finditer(raw))
    if len(words) < len(tail):
        return joined
    text = raw[words[-len(tail)].start():].strip()
    return text if normalize(text) == joined else joined


def typed_text(request: object, tail: list[str]) -> str:
    """`raw_tail` for a chat request (button clicks carry no typed text)."""
    raw = getattr(request, "text", None)
    return raw_tail(raw, tail) if isinstance(raw, str) else " ".join(tail)
