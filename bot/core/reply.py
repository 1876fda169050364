"""The neutral reply model every command returns and every adapter renders.

It holds structure, not markup: Slack turns it into Block Kit, WeCom into markdown or a
template card, the console into text, `rmbot ask --json` into JSON.

Texts are `Rich`: a plain string, or a `bot.core.sensitive.Text` holding typed customer values
(name, phone, ID, money, aggregates). Those are never formatted by the command: the masking
policy (`bot.core.privacy.resolve`) turns them into what the reply's audience may see, and every
renderer resolves first. What leaves the core is resolved (all plain strings).
"""

from __future__ import annotations

import base64
from typing import Literal

from pydantic import BaseModel, Field as PydField

from bot.core.sensitive import Rich


class Field(BaseModel):
    label: Rich
    value: Rich


class Table(BaseModel):
    columns: list[Rich]
    rows: list[list[Rich]]
    title: Rich | None = None


class Button(BaseModel):
    label: str
    action: str
    """Registered action name (e.g. ``followup``); clicks come back as `ActionRequest`s."""
    value: str
    style: Literal["primary", "danger"] | None = None


class Item(BaseModel):
    """One line a user can act on (a maturing product, a churning customer) with its buttons."""

    text: Rich
    buttons: list[Button] = PydField(default_factory=list)
    ref: str | None = None
    done_by: Rich | None = None
    """Set once handled, e.g. "已联系 · 王芳 11-24 09:12": adapters show it instead of buttons."""


class Section(BaseModel):
    title: Rich | None = None
    mention: str | None = None
    """Staff id to @-mention in group pushes (adapters map it to a platform user)."""
    text: Rich | None = None
    fields: list[Field] = PydField(default_factory=list)
    tables: list[Table] = PydField(default_factory=list)
    items: list[Item] = PydField(default_factory=list)


class Image(BaseModel):
    """A picture sent after the reply's text (today: PNG charts of /summary).

    The PNG travels inside the reply as base64 rather than as a file path: a reply is one
    self-contained JSON document, so an outbox row can be delivered later by any replica, and
    `rmbot ask --json` shows everything. Adapters send it their own way (Slack files_upload_v2,
    WeCom image message, a file in the console); a text-only renderer may ignore it.
    """

    title: Rich
    filename: str
    """A plain file name ending in .png, used for uploads and saved files."""
    png_base64: str
    customers: int | None = None
    """How many customers' money the picture shows (None: no money); groups get no chart of
    fewer customers than the masking policy's number (bot.core.privacy)."""

    @classmethod
    def from_png(cls, title: Rich, filename: str, data: bytes, customers: int | None = None) -> "Image":
        return cls(title=title, filename=filename, png_base64=base64.b64encode(data).decode("ascii"),
                   customers=customers)

    @property
    def data(self) -> bytes:
        return base64.b64decode(self.png_base64)


class Reply(BaseModel):
    title: Rich
    kind: Literal["info", "warning", "error"] = "info"
    summary: Rich | None = None
    """One-line answer first (e.g. "贵宾客户"), details after."""
    fields: list[Field] = PydField(default_factory=list)
    tables: list[Table] = PydField(default_factory=list)
    sections: list[Section] = PydField(default_factory=list)
    items: list[Item] = PydField(default_factory=list)
    buttons: list[Button] = PydField(default_factory=list)
    notes: list[Rich] = PydField(default_factory=list)
    usage: str | None = None
    """Correct usage, shown with error replies."""
    masked: bool = False
    """The audience: True for a group channel or a push (customer values masked), False for a DM.
    Set by the core from the request's channel kind, never by a command."""
    images: list[Image] = PydField(default_factory=list)
    """Charts sent after the text; empty for almost every reply."""

    @classmethod
    def error(cls, message: str, usage: str | None = None, title: str = "无法完成") -> "Reply":
        return cls(title=title, kind="error", summary=message, usage=usage)

    def add(self, label: Rich, value: Rich) -> "Reply":
        self.fields.append(Field(label=label, value=value))
        return self
