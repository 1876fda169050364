"""The neutral request: the one seam between chat adapters and the command core.

Adapters turn a Slack slash command, a WeCom callback or a console line into a `Request`
(or a button click into an `ActionRequest`); nothing past this point knows the platform.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from bot import clock

ChannelKind = Literal["dm", "group"]


@dataclass(frozen=True)
class Request:
    text: str
    platform: str
    """console | slack | wecom"""
    user_id: str
    """The platform's user id (Slack U…, WeCom userid); on the console, the staff id."""
    channel_kind: ChannelKind = "dm"
    """Group channels get masked customer data (DOMAIN.md §8)."""
    channel_id: str | None = None
    received_at: datetime = field(default_factory=clock.now)


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
