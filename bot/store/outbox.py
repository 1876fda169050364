"""Outbox rows: enqueue once, claim under row locks, mark sent. The exactly-once protocol.

States: pending → sending → sent (or back to pending with backoff, or dead).
A claim takes each channel's *head* (its oldest unsent row) and marks it 'sending' under a
lease, so a channel's messages go out in order and one at a time. The lease is short and renewed
while its worker lives (`renew`, the worker's heartbeat); a worker that dies leaves its rows
'sending' with a lease that soon expires (at once, for a dead process on this host:
`expire_dead_holders`); whoever reclaims them asks the platform whether the
message got there ('verifying') before sending again. Claims use `FOR UPDATE SKIP LOCKED` on
PostgreSQL, so two bots never take the same row; SQLite serialises writers; every UPDATE
re-checks the row's state and owner, so a stale claim changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, and_, bindparam, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.store.models import AuditLog, Outbox


@dataclass(frozen=True)
class NewMessage:
    key: str
    kind: str
    org_id: str
    push_date: date
    platform: str
    target: str
    payload: str
    rendered: str | None = None
    """The platform's message(s), rendered at build time; None: the sender renders `payload`."""


def enqueue(engine: Engine, messages: Sequence[NewMessage], now: datetime, audit: Sequence[AuditLog] = ()) -> int:
    """Insert what is not there yet (by key); returns how many rows were new. `audit` (the
    disclosure the messages make) commits in the same transaction, only if a row was new: no
    message can be delivered before its audit row exists."""
    if not messages:
        return 0
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    rows = [dict(m.__dict__, status="pending", attempts=0, next_attempt_at=now, created_at=now) for m in messages]
    stmt = insert(Outbox).on_conflict_do_nothing(index_elements=["key"]).returning(Outbox.id)
    if audit:
        with Session(engine) as session:
            inserted = len(session.execute(stmt, rows).all())
            if inserted:
                session.add_all(audit)
                session.commit()
            return inserted
    with engine.begin() as conn:
        # RETURNING gives the rows really inserted; rowcount is unreliable for batched inserts.
        return len(conn.execute(stmt, rows).all())


def exists_for(engine: Engine, kind: str, org_id: str, push_date: date) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(Outbox.id).where(
            Outbox.kind == kind, Outbox.org_id == org_id, Outbox.push_date == push_date).limit(1)).first() is not None


IN_FLIGHT = ("claimed", "sending", "verifying")


@dataclass(frozen=True, slots=True)
class Claimed:
    """A claimed row, as the worker needs it. Plain, not the SQLModel table class: validating
    2,000 table objects costs ~150 ms of CPU, while 2,000 channels wait to be served."""

    id: int
    key: str
    kind: str
    org_id: str
    platform: str
    target: str
    payload: str
    rendered: str | None
    status: str
    attempts: int
    claimed_by: str | None
    created_at: datetime | None

    @property
    def channel(self) -> tuple[str, str]:
        return self.platform, self.target


_CLAIMED_COLUMNS = [Outbox.__table__.c[f.name] for f in fields(Claimed)]  # type: ignore[attr-defined]


def _status_in(statuses: Sequence[str]) -> ColumnElement[bool]:
    """`status IN (…)` with the values written into the SQL, not bound: only then can SQLite
    (and a generic PostgreSQL plan) see that the query matches the partial index on unsent rows."""
    return Outbox.status.in_([literal(s, literal_execute=True) for s in statuses])


UNSENT = ("pending", *IN_FLIGHT)


def unsent() -> ColumnElement[bool]:
    """The predicate of `ix_outbox_unsent`, as queries must write it to use that index."""
    return _status_in(UNSENT)


def claim(engine: Engine, worker: str, now: datetime, lease: timedelta, limit: int,
          stale: bool = True, platforms: Sequence[str] | None = None) -> list[Claimed]:
    """Stale in-flight rows to verify (unless `stale` is False), then the head row of up to
    `limit` channels to send.

    A channel's head is its oldest unsent row; it is claimed if it is pending and due. Heads are
    found from the partial index on unsent rows (min id per channel), so a claim costs in
    proportion to what is still to deliver, not to the outbox's history. Leases last tens of
    seconds (renewed while their worker lives): a worker claiming several times a second need not
    look for expired ones every time.
    `platforms`: only rows of these (the chat replies' worker in `rmbot serve`); None: all."""
    token = f"{worker}:{uuid.uuid4().hex[:8]}"
    expired = and_(_status_in(IN_FLIGHT), Outbox.lease_until < now)
    heads = select(func.min(Outbox.id).label("id")).where(unsent()).group_by(Outbox.platform, Outbox.target).subquery()
    due = and_(Outbox.status == "pending", Outbox.next_attempt_at <= now)
    if platforms is not None:
        expired = and_(expired, Outbox.platform.in_(list(platforms)))
        due = and_(due, Outbox.platform.in_(list(platforms)))
    claimed: list[Claimed] = []
    with engine.begin() as conn:
        if stale:
            ids = (select(Outbox.id).where(expired).order_by(Outbox.id).limit(limit)
                   .with_for_update(skip_locked=True).scalar_subquery())
            claimed += [Claimed(*r) for r in conn.execute(
                update(Outbox).where(Outbox.id.in_(ids), expired)
                .values(status="verifying", claimed_by=token, lease_until=now + lease).returning(*_CLAIMED_COLUMNS))]
        ids = (select(Outbox.id).join(heads, heads.c.id == Outbox.id).where(due).order_by(Outbox.id).limit(limit)
               .with_for_update(skip_locked=True, of=Outbox).scalar_subquery())
        claimed += [Claimed(*r) for r in conn.execute(
            update(Outbox).where(Outbox.id.in_(ids), Outbox.status == "pending")
            .values(status="sending", claimed_by=token, lease_until=now + lease).returning(*_CLAIMED_COLUMNS))]
    return sorted(claimed, key=lambda row: row.id)


def renew(engine: Engine, rows: Sequence[Claimed], now: datetime, lease: timedelta) -> int:
    """The heartbeat: extend the lease of rows this worker still holds (in flight, ours)."""
    if not rows:
        return 0
    with engine.begin() as conn:
        return conn.execute(update(Outbox).where(
            Outbox.id.in_([r.id for r in rows]), Outbox.claimed_by.in_({r.claimed_by for r in rows}),
            _status_in(IN_FLIGHT)).values(lease_until=now + lease)).rowcount


def release(engine: Engine, rows: Sequence[Claimed], now: datetime) -> None:
    """Rows claimed but never handed to a sender (a stopping worker): a 'sending' row goes back
    to pending, as if never claimed; a row still to verify gets an expired lease, so the next
    worker verifies it at once."""
    if not rows:
        return
    mine = and_(Outbox.id.in_([r.id for r in rows]), Outbox.claimed_by.in_({r.claimed_by for r in rows}))
    with engine.begin() as conn:
        conn.execute(update(Outbox).where(mine, Outbox.status == "sending")
                     .values(status="pending", claimed_by=None, lease_until=None))
        conn.execute(update(Outbox).where(mine, Outbox.status == "verifying").values(lease_until=now))


def holder_pid(claimed_by: str | None, host: str) -> int | None:
    """The process id in a claim token `host:pid:nonce` made on `host`, else None."""
    parts = (claimed_by or "").rsplit(":", 2)
    if len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
        return None
    return int(parts[1])


def _process_gone(pid: int) -> bool:
    import os

    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # someone else's process: alive
        return False
    return False


def expire_dead_holders(engine: Engine, now: datetime) -> int:
    """Rows held under a live lease by a process of this host that no longer exists (kill -9)
    get their lease ended now, so the next claim verifies and sends them at once instead of
    after the lease. Holders on other hosts are left to their (short, heartbeat) lease."""
    import socket

    host = socket.gethostname()
    held = and_(_status_in(IN_FLIGHT), Outbox.lease_until >= now)
    with engine.connect() as conn:
        holders = [h for (h,) in conn.execute(select(Outbox.claimed_by).where(held).distinct())]
    dead = [h for h in holders if (pid := holder_pid(h, host)) is not None and _process_gone(pid)]
    if not dead:
        return 0
    with engine.begin() as conn:
        return conn.execute(update(Outbox).where(held, Outbox.claimed_by.in_(dead))
                            .values(lease_until=now - timedelta(microseconds=1))).rowcount


@dataclass(frozen=True)
class Waiting:
    """Why unsent rows are not being delivered right now (`rmbot push deliver`)."""

    retry_later: int = 0
    """pending, their next attempt scheduled later (backoff after a failure)."""
    next_retry: datetime | None = None
    held: int = 0
    """in flight under another worker's live lease (being sent elsewhere, or its holder died on
    another host: the lease ends within seconds)."""
    holders: tuple[str, ...] = ()
    held_until: datetime | None = None
    blocked: int = 0
    """queued behind their channel's head row (sent in order, one at a time)."""
    dead: int = 0
    """given up on: an operator must look (`rmbot push status`)."""


def waiting(engine: Engine, now: datetime) -> Waiting:
    heads = select(func.min(Outbox.id)).where(unsent()).group_by(Outbox.platform, Outbox.target)
    with engine.connect() as conn:
        head_ids = {i for (i,) in conn.execute(heads)}
        rows = conn.execute(select(Outbox.id, Outbox.status, Outbox.next_attempt_at, Outbox.claimed_by,
                                   Outbox.lease_until).where(unsent())).all()
        dead = conn.execute(select(func.count()).where(Outbox.status == "dead")).scalar_one()
    retry = [r for r in rows if r.id in head_ids and r.status == "pending" and _aware(r.next_attempt_at) > now]
    held = [r for r in rows if r.id in head_ids and r.status in IN_FLIGHT]
    return Waiting(
        retry_later=len(retry), next_retry=min((_aware(r.next_attempt_at) for r in retry), default=None),
        held=len(held), holders=tuple(sorted({(r.claimed_by or "?").rsplit(":", 1)[0] for r in held})),
        held_until=max((_aware(r.lease_until) for r in held if r.lease_until is not None), default=None),
        blocked=len(rows) - len(head_ids), dead=int(dead))


def _aware(value: datetime) -> datetime:
    """SQLite hands datetimes back naive (stored as Asia/Shanghai wall time by the model)."""
    from bot.clock import SHANGHAI

    return value if value.tzinfo is not None else value.replace(tzinfo=SHANGHAI)


def backlog(engine: Engine) -> dict[tuple[str, str], int]:
    """Rows still to deliver per (platform, target): the worker serves the longest channels first,
    since the last message of the longest channel is what the whole delivery waits for."""
    stmt = (select(Outbox.platform, Outbox.target, func.count())
            .where(unsent()).group_by(Outbox.platform, Outbox.target))
    with engine.connect() as conn:
        return {(p, t): int(n) for p, t, n in conn.execute(stmt)}


def mark_sent_many(engine: Engine, done: Sequence[tuple[Claimed, str | None]], now: datetime) -> int:
    """One statement for a whole tick: a thousand channels cost one commit, not a thousand.
    The rendered message is dropped once delivered (~10 KB a row; the neutral payload stays)."""
    if not done:
        return 0
    stmt = (update(Outbox)
            .where(Outbox.id == bindparam("row_id"), Outbox.claimed_by == bindparam("owner"),
                   or_(Outbox.status == "sending", Outbox.status == "verifying"))
            .values(status="sent", sent_at=now, message_id=bindparam("mid"), lease_until=None, rendered=None))
    params = [{"row_id": row.id, "owner": row.claimed_by, "mid": (mid or "")[:128] or None} for row, mid in done]
    with engine.begin() as conn:
        conn.execute(stmt, params)
    return len(params)


def note_unknown(engine: Engine, row: Claimed, error: str, max_attempts: int) -> bool:
    """The outcome of a send or check is unknown: keep the row for verification after its lease,
    counting the attempt; after `max_attempts` it goes dead for an operator to look at."""
    values: dict[str, object] = {"attempts": row.attempts + 1, "last_error": error[:500]}
    if row.attempts + 1 >= max_attempts:
        values["status"] = "dead"
    return _move(engine, row, IN_FLIGHT, **values)


def _move(engine: Engine, row: Claimed, expect: Sequence[str], **values: object) -> bool:
    """Change a row only if it is still ours and in an expected state."""
    with engine.begin() as conn:
        result = conn.execute(update(Outbox).where(
            Outbox.id == row.id, Outbox.claimed_by == row.claimed_by, Outbox.status.in_(expect)).values(**values))
        return result.rowcount == 1


def start_sending(engine: Engine, row: Claimed, now: datetime, lease: timedelta) -> bool:
    """Renew the lease just before a send (and turn a verified-absent row back into 'sending')."""
    return _move(engine, row, IN_FLIGHT, status="sending", lease_until=now + lease)


def mark_sent(engine: Engine, row: Claimed, now: datetime, message_id: str | None) -> bool:
    return _move(engine, row, IN_FLIGHT, status="sent", sent_at=now,
                 message_id=(message_id or "")[:128] or None, lease_until=None, rendered=None)


def mark_failed(engine: Engine, row: Claimed, now: datetime, error: str, retry_in: timedelta | None) -> bool:
    """Back to pending after `retry_in`, or dead when None."""
    values: dict[str, object] = {"attempts": row.attempts + 1, "last_error": error[:500], "lease_until": None}
    if retry_in is None:
        values["status"] = "dead"
    else:
        values.update(status="pending", next_attempt_at=now + retry_in)
    return _move(engine, row, IN_FLIGHT, **values)


def status_counts(engine: Engine, push_date: date | None = None) -> list[tuple[str, str, str, int]]:
    """(kind, org, status, rows) for the status command."""
    stmt = select(Outbox.kind, Outbox.org_id, Outbox.status, func.count()).group_by(
        Outbox.kind, Outbox.org_id, Outbox.status).order_by(Outbox.kind, Outbox.org_id, Outbox.status)
    if push_date is not None:
        stmt = stmt.where(Outbox.push_date == push_date)
    with engine.connect() as conn:
        return [(k, o, s, int(n)) for k, o, s, n in conn.execute(stmt)]
