"""Slack payloads → the neutral request: who, where (dm/group) and what text."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.core.request import ChannelKind


DM_LABELS = {"channel_type": "im", "channel_name": "directmessage"}


def channel_kind(channel_id: str | None, channel_type: str | None = None,
                 channel_name: str | None = None) -> ChannelKind:
    """The channel id decides: Slack's DM ids start with D; everything else (C public, G
    private or group DM, anything unknown) is a group, so data gets masked.

    `channel_type` and `channel_name` are labels beside the id: they can only make a D… channel
    count as a group (a label that disagrees is treated as the stricter case), never make a C…
    or G… channel a DM. A payload saying `directmessage` about C… would otherwise show a DM's
    unmasked data to the whole channel Slack delivers it to.
    """
    if not (isinstance(channel_id, str) and channel_id.startswith("D")):
        return "group"
    if channel_type is not None and channel_type != DM_LABELS["channel_type"]:
        return "group"
    if channel_name is not None and channel_name != DM_LABELS["channel_name"]:
        return "group"
    return "dm"


def command_text(command: str, text: str | None) -> str:
    """`/tier` + `C0000001` → "/tier C0000001": the core parses slash commands like typed ones."""
    name = command.strip().lstrip("/")
    rest = (text or "").strip()
    return f"/{name} {rest}" if rest else f"/{name}"


def missing(payload: Mapping[str, Any], *keys: str) -> list[str]:
    return [k for k in keys if not isinstance(payload.get(k), str) or not payload.get(k)]


def action_name(action_id: str, prefix: str) -> str | None:
    """"rmbot:followup:item-3:0" → "followup"."""
    parts = action_id.split(":")
    if len(parts) >= 2 and parts[0] == prefix and parts[1]:
        return parts[1]
    return None
