"""What a command handler gets: who asks, where, the store session, the policy and the date."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import Session

from bot.core.request import ActionRequest, Request
from rules.policy import Policy


@dataclass(frozen=True)
class StaffView:
    id: str
    name: str
    role: str
    org_id: str
    org_path: str
    org_name: str

    @property
    def is_manager(self) -> bool:
        return self.role in ("branch_manager", "regional_manager")


@dataclass
class Context:
    request: Request | ActionRequest
    session: Session
    policy: Policy
    staff: StaffView
    now: datetime
    command: str = ""
    extras: dict[str, object] = field(default_factory=dict)
    audit: list[object] = field(default_factory=list)
    """Audit entries staged by the command; `OpenSession` makes sure they are written."""

    @property
    def today(self) -> date:
        return self.now.date()

    @property
    def masked(self) -> bool:
        """Group channels get masked customer data (docs/DOMAIN.md §8)."""
        return self.request.channel_kind == "group"
