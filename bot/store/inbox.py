"""Inbox rows: accept once (by the platform's dedupe key), claim per user in order, finish
with the reply's outbox rows in one transaction. The "nothing acknowledged is lost" protocol.

States: pending → working → done (or dead after `max_attempts` claims, for an operator).
Accepting writes the row in the one transaction that also decides "first time seen" (the key is
unique): a retry of an accepted message is refused because the row exists, and the row exists
only if the message will be handled, so a crash between acknowledging and answering loses
nothing. A claim takes only each user's *oldest unfinished* row, so one user's messages are
handled one at a time, in the order they were sent, across replicas (`FOR UPDATE SKIP LOCKED`
on PostgreSQL; SQLite serialises writers). A worker that dies leaves its row 'working' under a
lease; when the lease ends (at once for a dead process of this host) the next claim runs it
again. `finish` marks the row done and enqueues its replies in one transaction and only while
the row is still ours, so a reply is enqueued exactly once; the outbox sends it exactly once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from bot.store.models import InboxRow, Org, Outbox
from bot.store.outbox import NewMessage, _process_gone, holder_pid

OPEN = ("pending", "working")


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    key: str
    platform: str
    user_id: str
    payload: str
    attempts: int
    claimed_by: str | None
    request_id: str | None
    created_at: datetime | None


_COLUMNS = [InboxRow.__table__.c[f.name] for f in fields(Claimed)]  # type: ignore[attr-defined]


def _open() -> ColumnElement[bool]:
    """The predicate of `ix_inbox_open`, literal so the planner sees the partial index match."""
    return InboxRow.state.in_([literal(s, literal_execute=True) for s in OPEN])


def _insert(engine: Engine | Connection):  # noqa: ANN202
    return pg_insert if engine.dialect.name == "postgresql" else sqlite_insert


def accept(engine: Engine, key: str, platform: str, user_id: str, payload: str, now: datetime,
           request_id: str | None = None) -> int | None:
    """The row's id if this key is new (the message will be handled), None for a repeat."""
    stmt = (_insert(engine)(InboxRow).values(
        key=key[:200], platform=platform, user_id=user_id[:200], payload=payload, state="pending", attempts=0,
        created_at=now, request_id=(request_id or "")[:64] or None)
        .on_conflict_do_nothing(index_elements=["key"]).returning(InboxRow.id))
    with engine.begin() as conn:
        row = conn.execute(stmt).first()
    return None if row is None else int(row[0])


def claim(engine: Engine, worker: str, now: datetime, lease: timedelta, platforms: Sequence[str],
          limit: int = 1) -> list[Claimed]:
    """Up to `limit` rows, each the oldest unfinished row of its user, pending or with an
    expired lease; each claim counts an attempt."""
    token = f"{worker}:{uuid.uuid4().hex[:8]}"
    heads = (select(func.min(InboxRow.id).label("id")).where(_open())
             .group_by(InboxRow.platform, InboxRow.user_id).subquery())
    ready = or_(InboxRow.state == "pending", and_(InboxRow.state == "working", InboxRow.lease_until < now))
    ids = (select(InboxRow.id).join(heads, heads.c.id == InboxRow.id)
           .where(ready, InboxRow.platform.in_(list(platforms))).order_by(InboxRow.id).limit(limit)
           .with_for_update(skip_locked=True, of=InboxRow).scalar_subquery())
    with engine.begin() as conn:
        rows = [Claimed(*r) for r in conn.execute(
            update(InboxRow).where(InboxRow.id.in_(ids), ready)
            .values(state="working", claimed_by=token, lease_until=now + lease, attempts=InboxRow.attempts + 1)
            .returning(*_COLUMNS))]
    return sorted(rows, key=lambda r: r.id)


def _mine(rows: Sequence[Claimed]) -> ColumnElement[bool]:
    return and_(InboxRow.id.in_([r.id for r in rows]), InboxRow.claimed_by.in_({r.claimed_by for r in rows}),
                InboxRow.state == "working")


def finish(engine: Engine, row: Claimed, replies: Sequence[NewMessage], now: datetime) -> bool:
    """Done, and its replies queued in the outbox, in one transaction; False (nothing written)
    if the row is no longer ours (its lease ran out and another worker took it)."""
    with engine.begin() as conn:
        moved = conn.execute(update(InboxRow).where(_mine([row])).values(
            state="done", finished_at=now, lease_until=None, payload="")).rowcount  # answered: the text goes
        if moved != 1:
            conn.rollback()
            return False
        if replies:
            values = [dict(m.__dict__, status="pending", attempts=0, next_attempt_at=now, created_at=now)
                      for m in replies]
            conn.execute(_insert(conn)(Outbox).on_conflict_do_nothing(index_elements=["key"]), values)
    return True


def give_up(engine: Engine, row: Claimed, error: str, now: datetime) -> bool:
    """Dead: handling it failed `max_attempts` times (a bug, or it crashes the process)."""
    with engine.begin() as conn:
        return conn.execute(update(InboxRow).where(_mine([row])).values(
            state="dead", finished_at=now, lease_until=None, last_error=error[:500])).rowcount == 1


def renew(engine: Engine, rows: Sequence[Claimed], now: datetime, lease: timedelta) -> int:
    """The heartbeat: extend the lease of rows this worker is still handling."""
    if not rows:
        return 0
    with engine.begin() as conn:
        return conn.execute(update(InboxRow).where(_mine(rows)).values(lease_until=now + lease)).rowcount


def expire_dead_holders(engine: Engine, now: datetime) -> int:
    """Rows held by a process of this host that no longer exists (kill -9) are taken over now,
    not after their lease."""
    import socket

    host = socket.gethostname()
    held = and_(InboxRow.state == "working", InboxRow.lease_until >= now)
    with engine.connect() as conn:
        holders = [h for (h,) in conn.execute(select(InboxRow.claimed_by).where(held).distinct())]
    dead = [h for h in holders if (pid := holder_pid(h, host)) is not None and _process_gone(pid)]
    if not dead:
        return 0
    with engine.begin() as conn:
        return conn.execute(update(InboxRow).where(held, InboxRow.claimed_by.in_(dead))
                            .values(lease_until=now - timedelta(microseconds=1))).rowcount


def open_count(engine: Engine, platforms: Sequence[str] | None = None) -> int:
    stmt = select(func.count()).select_from(InboxRow).where(_open())
    if platforms is not None:
        stmt = stmt.where(InboxRow.platform.in_(list(platforms)))
    with engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def oldest_open(engine: Engine) -> datetime | None:
    """When the oldest unanswered message was accepted (inbox lag)."""
    with engine.connect() as conn:
        return conn.execute(select(func.min(InboxRow.created_at)).where(_open())).scalar_one()


def sweep(engine: Engine, before: datetime) -> int:
    """Finished rows accepted before `before` go (their keys no longer refuse a retry: platforms
    retry within minutes, rows are kept for days)."""
    with engine.begin() as conn:
        return conn.execute(delete(InboxRow).where(InboxRow.state.in_(("done", "dead")),
                                                   InboxRow.created_at < before)).rowcount


def reply_org(engine: Engine) -> str:
    """The org a chat reply's outbox row is filed under (outbox rows belong to an org): the
    root of the tree. Raises LookupError on a store without any org."""
    with engine.connect() as conn:
        org = conn.execute(select(Org.id).order_by(Org.parent_id.is_not(None), Org.id).limit(1)).scalar()
    if org is None:
        raise LookupError("no org in the store: replies cannot be queued")
    return str(org)
