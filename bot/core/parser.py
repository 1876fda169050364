"""Turn what people type into (command word, args).

Bank staff type on phones with Chinese IMEs: full-width slashes and letters (`／tier　Ｃ１２３`),
a leading @-mention of the bot, Chinese command names, or no slash at all. NFKC folds the
full-width forms; the rest is peeled off here so every adapter gets the same behaviour.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"), None)
# Slack <@U123ABC> / <@U123|name>, or a plain @name (WeCom, console), at the start.
_MENTION = re.compile(r"^(?:<@[A-Za-z0-9._-]+(?:\|[^>]*)?>|@\S+)\s*")
MAX_TEXT = 2000
"""Longer texts are refused before parsing: no command needs more, and it bounds work."""


@dataclass(frozen=True)
class Parsed:
    word: str
    args: list[str]


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    text = text.replace("\u3000", " ")
    return " ".join(text.split())


def strip_mentions(text: str) -> str:
    while True:
        stripped = _MENTION.sub("", text, count=1)
        if stripped == text:
            return text
        text = stripped


def parse(text: str) -> Parsed | None:
    """None for an empty message (the caller answers with help)."""
    text = strip_mentions(normalize(text))
    if text.startswith("/"):
        text = text[1:].lstrip()
    if not text:
        return None
    word, *args = text.split(" ")
    return Parsed(word=word, args=args)
