"""Outbox rows: enqueue once, claim under row locks, mark sent. The exactly-once protocol.

States: pending → claimed → sending → sent (or back to pending with backoff, or dead).
A row is 'sending' only while its platform call may be in flight. A worker that dies leaves it
'sending' with an expired lease; whoever reclaims it asks the platform whether the message got
there (`verifying`) before sending again. Claims use `FOR UPDATE SKIP LOCKED` on PostgreSQL, so
two bots never take the same row; SQLite serialises writers, and every UPDATE re-checks the
row's state, so a stale claim changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

from bot.store.models import Outbox


@dataclass(frozen=True)
class NewMessage:
    key: str
    kind: str
    org_id: str
    push_date: date
    platform: str
    target: str
    payload: str


def enqueue(engine: Engine, messages: Sequence[NewMessage], now: datetime) -> int:
    """Insert what is not there yet (by key); returns how many rows were new."""
    if not messages:
        return 0
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    rows = [dict(m.__dict__, status="pending", attempts=0, next_attempt_at=now, created_at=now) for m in messages]
    stmt = insert(Outbox).on_conflict_do_nothing(index_elements=["key"]).returning(Outbox.id)
    with engine.begin() as conn:
        # RETURNING gives the rows really inserted; rowcount is unreliable for batched inserts.
        return len(conn.execute(stmt, rows).all())


def exists_for(engine: Engine, kind: str, org_id: str, push_date: date) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(Outbox.id).where(
            Outbox.kind == kind, Outbox.org_id == org_id, Outbox.push_date == push_date).limit(1)).first() is not None


def claim(engine: Engine, worker: str, now: datetime, lease: timedelta, limit: int) -> list[Outbox]:
    """Take up to `limit` rows: fresh ones to send, and stale in-flight ones to verify first."""
    token = f"{worker}:{uuid.uuid4().hex[:8]}"
    ready = or_(and_(Outbox.status == "pending", Outbox.next_attempt_at <= now),
                and_(Outbox.status == "claimed", Outbox.lease_until < now))
    stale = and_(Outbox.status.in_(("sending", "verifying")), Outbox.lease_until < now)
    with engine.begin() as conn:
        for condition, new_status in ((stale, "verifying"), (ready, "claimed")):
            ids = (select(Outbox.id).where(condition).order_by(Outbox.id).limit(limit)
                   .with_for_update(skip_locked=True).scalar_subquery())
            conn.execute(update(Outbox).where(Outbox.id.in_(ids), condition)
                         .values(status=new_status, claimed_by=token, lease_until=now + lease))
    with engine.connect() as conn:
        rows = conn.execute(select(Outbox).where(Outbox.claimed_by == token,
                                                 Outbox.status.in_(("claimed", "verifying"))).order_by(Outbox.id))
        return [Outbox.model_validate(dict(r._mapping)) for r in rows]


def _move(engine: Engine, row: Outbox, expect: Sequence[str], **values: object) -> bool:
    """Change a row only if it is still ours and in an expected state."""
    with engine.begin() as conn:
        result = conn.execute(update(Outbox).where(
            Outbox.id == row.id, Outbox.claimed_by == row.claimed_by, Outbox.status.in_(expect)).values(**values))
        return result.rowcount == 1


def start_sending(engine: Engine, row: Outbox, now: datetime, lease: timedelta) -> bool:
    return _move(engine, row, ("claimed", "verifying"), status="sending", lease_until=now + lease)


def mark_sent(engine: Engine, row: Outbox, now: datetime, message_id: str | None) -> bool:
    return _move(engine, row, ("sending", "verifying"), status="sent", sent_at=now,
                 message_id=(message_id or "")[:128] or None, lease_until=None)


def mark_failed(engine: Engine, row: Outbox, now: datetime, error: str, retry_in: timedelta | None) -> bool:
    """Back to pending after `retry_in`, or dead when None."""
    values: dict[str, object] = {"attempts": row.attempts + 1, "last_error": error[:500], "lease_until": None}
    if retry_in is None:
        values["status"] = "dead"
    else:
        values.update(status="pending", next_attempt_at=now + retry_in)
    return _move(engine, row, ("claimed", "sending", "verifying"), **values)


def status_counts(engine: Engine, push_date: date | None = None) -> list[tuple[str, str, str, int]]:
    """(kind, org, status, rows) for the status command."""
    stmt = select(Outbox.kind, Outbox.org_id, Outbox.status, func.count()).group_by(
        Outbox.kind, Outbox.org_id, Outbox.status).order_by(Outbox.kind, Outbox.org_id, Outbox.status)
    if push_date is not None:
        stmt = stmt.where(Outbox.push_date == push_date)
    with engine.connect() as conn:
        return [(k, o, s, int(n)) for k, o, s, n in conn.execute(stmt)]
