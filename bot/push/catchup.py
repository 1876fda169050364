"""One build per (push kind, day) across replicas, and catch-up after a restart.

Why: every replica runs the scheduler, so at 08:30 each one built the day's lists (N builds of
the same rows, discarded by the outbox's unique keys); and a scheduler started after 08:30
scheduled the next run for tomorrow, so a restart across the push time silently skipped the day.

`build_once` is the only way the scheduler builds: under a lock (a PostgreSQL advisory lock held
by the building connection, released if the builder dies; on SQLite, which serves one process,
a lock in this process), it builds unless a `push_build` row says the day is built, then writes
that row. `catch_up` runs at scheduler start: each kind whose push time has passed today, on a
day it is due, and that is not built yet, is built now and logged.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

from bot.push.kinds import DEFAULT_TIMES, KINDS
from bot.push.service import BuildResult, PushService, due_today
from bot.store.models import Outbox, PushBuild

log = logging.getLogger("rmbot.push")

_local_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


@contextmanager
def build_lock(engine: Engine, kind: str, day: date) -> Iterator[bool]:
    """True if this process may build (kind, day) now; False if another builder holds it."""
    name = f"rmbot-push-build:{kind}:{day.isoformat()}"
    if engine.dialect.name == "postgresql":
        key = zlib.crc32(name.encode()) - 2**31  # a signed 32-bit key; collisions only serialise
        with engine.connect() as conn:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()
        return
    with _guard:
        lock = _local_locks.setdefault(name, threading.Lock())
    got = lock.acquire(blocking=False)
    try:
        yield got
    finally:
        if got:
            lock.release()


def is_built(engine: Engine, kind: str, day: date) -> bool:
    """A build row, or (days built before rows were kept, or by `rmbot push run`) outbox rows."""
    with engine.connect() as conn:
        if conn.execute(select(PushBuild.kind).where(PushBuild.kind == kind, PushBuild.push_date == day)).first():
            return True
        return conn.execute(select(Outbox.id).where(Outbox.kind == kind, Outbox.push_date == day)
                            .limit(1)).first() is not None


def record_build(engine: Engine, kind: str, day: date, now: datetime, enqueued: int, note: str | None) -> None:
    insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert
    row = {"kind": kind, "push_date": day, "built_at": now, "built_by": f"{socket.gethostname()}:{os.getpid()}",
           "enqueued": enqueued, "note": (note or "")[:200] or None}
    with engine.begin() as conn:
        conn.execute(insert(PushBuild).values(**row).on_conflict_do_nothing(index_elements=["kind", "push_date"]))


def build_once(service: PushService, kind: str, day: date, now: datetime) -> BuildResult | None:
    """Build (kind, day) unless it is built or being built elsewhere; None when skipped so."""
    with build_lock(service.engine, kind, day) as got:
        if not got:
            log.info("push %s %s: another replica is building it", kind, day)
            return None
        if is_built(service.engine, kind, day):
            log.info("push %s %s: already built", kind, day)
            return None
        result = service.build(kind, day, now=now)
        enqueued = sum(b.enqueued for b in result.branches)
        if result.skipped is None or result.skipped.startswith("非推送日"):
            record_build(service.engine, kind, day, now, enqueued, result.skipped)
        return result


def push_time(times: dict[str, str], kind: str) -> tuple[int, int]:
    from bot.push.scheduler import parse_hhmm

    return parse_hhmm(times.get(kind) or DEFAULT_TIMES.get(kind, "08:30"))


def missed(service: PushService, times: dict[str, str], now: datetime, days: int = 0) -> list[tuple[str, date]]:
    """(kind, day) due on one of the last `days` days or today, whose push time has passed, and
    not built."""
    out: list[tuple[str, date]] = []
    for back in range(days, -1, -1):
        day = now.date() - timedelta(days=back)
        for kind in KINDS:
            hour, minute = push_time(times, kind)
            if back == 0 and (now.hour, now.minute) < (hour, minute):
                continue
            if due_today(kind, day, service.calendar)[0] and not is_built(service.engine, kind, day):
                out.append((kind, day))
    return out


def catch_up(service: PushService, times: dict[str, str], now: datetime) -> list[tuple[str, date]]:
    """At scheduler start: build today's kinds whose push time passed before we started (and
    that nobody built); returns what this process built. Earlier days are not built (their
    lists are stale): `rmbot push status` shows them for an operator to decide."""
    built: list[tuple[str, date]] = []
    for kind, day in missed(service, times, now):
        log.warning("push %s %s: push time %02d:%02d passed before this scheduler started and the day is not "
                    "built: building it now (catch-up)", kind, day, *push_time(times, kind))
        result = build_once(service, kind, day, now)
        if result is not None:
            built.append((kind, day))
            log.info("push %s %s caught up: %d rows enqueued", kind, day, sum(b.enqueued for b in result.branches))
    return built
