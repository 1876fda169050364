"""The neutral request: the one seam between chat adapters and the command core.

Adapters turn a Slack slash command, a WeCom callback or a console line into a `Request`
(or a button click into an `ActionRequest`); nothing past this point knows the platform.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from bot import clock

ChannelKind = Literal["dm", "group"]

_LINE_BREAKS = re.compile("\r\n|[\r\u2028\u2029\u0085\x0b\x0c]")


def clean_input(text: str) -> str:
    """What a person typed, safe to store and render: every kind of line break becomes "\n"
    (U+2028/U+2029/U+0085 split JSON lines and broke Slack rendering) and other control and
    bidi-override characters are dropped; tabs stay. Applied to every Request and ActionRequest,
    so no chat input (commands, campaign copy, reasons) reaches a command uncleaned."""
    text = _LINE_BREAKS.sub("\n", text)
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cs")
                   and not ("\u202a" <= ch <= "\u202e" or "\u2066" <= ch <= "\u2069"))


@dataclass(frozen=True)
class Request:
    text: str
    platform: str
    """console | slack | wecom"""
    user_id: str
    """The platform's user id (Slack U…, WeCom userid); on the console, the staff id."""
    channel_kind: ChannelKind = "dm"
    """Group channels get masked customer data (docs/DOMAIN.md §8)."""
    channel_id: str | None = None
    received_at: datetime = field(default_factory=clock.now)

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", clean_input(self.text))


@dataclass(frozen=True)
class ActionRequest:
    """A button click: `action` names the registered action, `value` is the button's payload."""

    action: str
    value: str
    platform: str
    user_id: str
    channel_kind: ChannelKind = "group"
    channel_id: str | None = None
    received_at: datetime = field(default_factory=clock.now)

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", clean_input(self.value))
