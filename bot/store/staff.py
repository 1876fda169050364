"""Staff and chat identities: linking a Slack/WeCom user to a staff member."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from bot.store.models import ChatIdentity, Staff

PLATFORMS = ("slack", "wecom")


def link_identity(session: Session, platform: str, external_id: str, staff_id: str) -> ChatIdentity:
    """Idempotent: re-linking moves the chat account to the given staff member."""
    if platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}; expected one of {', '.join(PLATFORMS)}")
    if session.get(Staff, staff_id) is None:
        raise LookupError(f"unknown staff id {staff_id}")
    identity = session.get(ChatIdentity, (platform, external_id))
    if identity is None:
        identity = ChatIdentity(platform=platform, external_id=external_id, staff_id=staff_id)
        session.add(identity)
    else:
        identity.staff_id = staff_id
    session.flush()
    return identity


def unlink_identity(session: Session, platform: str, external_id: str) -> bool:
    identity = session.get(ChatIdentity, (platform, external_id))
    if identity is None:
        return False
    session.delete(identity)
    return True


def identities_of(session: Session, staff_ids: list[str], platform: str) -> dict[str, str]:
    """staff id → platform user id, for @-mentions in group pushes."""
    rows = session.execute(
        select(ChatIdentity.staff_id, ChatIdentity.external_id).where(
            ChatIdentity.platform == platform, ChatIdentity.staff_id.in_(staff_ids)
        )
    )
    return {staff_id: external_id for staff_id, external_id in rows}
