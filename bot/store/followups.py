"""Follow-up state of pushed items: who handled which item, and how."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from bot.store.models import Contact, Holding, Staff


def latest_followups(session: Session, refs: Sequence[str]) -> dict[str, tuple[str, str, datetime]]:
    """ref → (outcome, staff name, time) of the newest follow-up recorded for it."""
    found: dict[str, tuple[str, str, datetime]] = {}
    for i in range(0, len(refs), 500):
        stmt = (select(Contact.ref, Contact.outcome, Staff.name, Contact.at).join(Staff, Staff.id == Contact.staff_id)
                .where(Contact.ref.in_(refs[i:i + 500])).order_by(Contact.at, Contact.id))
        for ref, outcome, name, at in session.execute(stmt):
            found[ref] = (outcome, name, at)
    return found


def ref_owner(session: Session, ref: str) -> str | None:
    """The customer a follow-up ref is about, or None for a ref no list or answer ever issues.

    The refs are those of the push list rows (bot.store.push_lists: `maturing:<holding id>`,
    `churn:<customer>:<watch|warning>`, `downgrade:<customer>:<months>`) and of /tier answers
    (`tier:<customer>`). A click's ref comes back from the chat platform, so it is untrusted: a
    holding is looked up to find whose it is, and the other kinds name their customer."""
    kind, _, rest = ref.partition(":")
    if kind == "maturing":
        if not (rest.isascii() and rest.isdigit() and len(rest) <= 10):
            return None
        return session.execute(select(Holding.customer_id).where(Holding.id == int(rest))).scalar_one_or_none()
    parts = rest.split(":")
    if kind == "tier" and len(parts) == 1:
        return parts[0] or None
    if kind == "churn" and len(parts) == 2 and parts[1] in ("watch", "warning"):
        return parts[0] or None
    if kind == "downgrade" and len(parts) == 2 and parts[1].isascii() and parts[1].isdigit():
        return parts[0] or None
    return None
