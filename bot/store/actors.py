"""Who did something outside a chat command (the CLI operator), and their audit rows.

Chat commands stage their audit entries on the context (bot/core/access.py); everything else —
exports, `rmbot staff link` — names its actor here, so every row says who, from where.
"""

from __future__ import annotations

import getpass
import os
import socket
from dataclasses import dataclass
from datetime import datetime

from bot import clock
from bot.store.models import AuditLog


@dataclass(frozen=True)
class Actor:
    """A staff member (`--as`) and/or the operating-system account at a host."""

    staff_id: str | None
    user_ref: str
    platform: str = "cli"
    channel_kind: str = "cli"
    channel_id: str | None = None

    @classmethod
    def cli(cls, staff_id: str | None = None) -> Actor:
        """The person at the command line: the OS account (and host) running `rmbot`."""
        return cls(staff_id, os_user()[:64], channel_id=socket.gethostname()[:64] or None)


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container user without a passwd entry
        return f"uid:{os.getuid()}"


def audit_entry(actor: Actor, *, action: str, target: str | None, outcome: str, detail: str | None,
                at: datetime | None = None) -> AuditLog:
    """An audit row for a non-chat actor: the same columns a chat command's entry has."""
    return AuditLog(at=at or clock.now(), staff_id=actor.staff_id, platform=actor.platform, user_ref=actor.user_ref,
                    channel_kind=actor.channel_kind, channel_id=actor.channel_id, action=action[:32],
                    target=target[:64] if target else None, outcome=outcome, detail=detail)
