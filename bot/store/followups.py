"""Follow-up state of pushed items: who handled which item, and how."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from bot.store.models import Contact, Staff


def latest_followups(session: Session, refs: Sequence[str]) -> dict[str, tuple[str, str, datetime]]:
    """ref → (outcome, staff name, time) of the newest follow-up recorded for it."""
    found: dict[str, tuple[str, str, datetime]] = {}
    for i in range(0, len(refs), 500):
        stmt = (select(Contact.ref, Contact.outcome, Staff.name, Contact.at).join(Staff, Staff.id == Contact.staff_id)
                .where(Contact.ref.in_(refs[i:i + 500])).order_by(Contact.at, Contact.id))
        for ref, outcome, name, at in session.execute(stmt):
            found[ref] = (outcome, name, at)
    return found
