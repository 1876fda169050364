"""Chat accounts named by a staff extract, linked in the import's own transaction.

Linking 2,500 RMs one `rmbot staff link` at a time does not scale: the staff extract may carry
`slack_user_id` and `wecom_userid`, and with WECOM_USERID_FROM_STAFF_ID=true a staff member
without a WeCom account column is linked under their 工号 (the common WeCom set-up, where the
userid is the employee number). Every link goes through `bot.store.staff.link_identity`, so it is
audited like a hand-made one; an account already linked to the same staff member is left alone
(no audit row per nightly import).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.engine import Connection
from sqlmodel import Session

from bot.imports.staging import STAGE
from bot.store.actors import Actor
from bot.store.models import ChatIdentity
from bot.store.staff import link_identity, lookup_ids


@dataclass
class LinkSummary:
    linked: int = 0
    """New links, or accounts moved to another staff member (each audited)."""
    kept: int = 0
    """Already linked to the same staff member."""
    problems: list[str] = field(default_factory=list)


def _linked_to(session: Session, platform: str, external_id: str) -> str | None:
    for key in lookup_ids(platform, external_id):
        row = session.get(ChatIdentity, (platform, key))
        if row is not None:
            return row.staff_id
    return None


def link_staged(conn: Connection, wecom_from_staff_id: bool, actor: Actor | None = None) -> LinkSummary:
    """Link the accepted rows of the staged staff file (imp_stage holds only accepted rows once
    the import has written them)."""
    summary = LinkSummary()
    rows = conn.exec_driver_sql(f"SELECT id, slack_user_id, wecom_userid FROM {STAGE}").all()
    session = Session(bind=conn)
    try:
        for staff_id, slack_id, wecom_id in rows:
            wanted = [("slack", slack_id), ("wecom", wecom_id or (staff_id.lower() if wecom_from_staff_id else None))]
            for platform, external_id in wanted:
                if not external_id:
                    continue
                if _linked_to(session, platform, external_id) == staff_id:
                    summary.kept += 1
                    continue
                try:
                    link_identity(session, platform, external_id, staff_id, actor or Actor.cli())
                except (ValueError, LookupError) as exc:
                    summary.problems.append(f"{staff_id} {platform}:{external_id}: {exc}")
                    continue
                summary.linked += 1
        session.flush()
    finally:
        session.close()
    return summary
