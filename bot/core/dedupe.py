"""Process a delivery once: platforms retry (Slack events, WeCom callbacks) and requests can be
replayed. `Deduper` is the whole interface, shared by every adapter, so the in-process set can
be swapped for the store-backed one when several bot processes serve the same app.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import timedelta
from typing import Protocol

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

from bot import clock as shanghai
from bot.store.models import SeenKey


class Deduper(Protocol):
    def first_seen(self, key: str) -> bool:
        """True exactly once per key within the retention window; records the key atomically."""
        ...


class MemoryDeduper:
    """A bounded TTL set in this process (oldest keys drop out first when it is full)."""

    def __init__(self, ttl: float = 3600.0, capacity: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.capacity = capacity
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_seen(self, key: str) -> bool:
        now = self._clock()
        with self._lock:
            while self._seen and next(iter(self._seen.values())) <= now - self.ttl:
                self._seen.popitem(last=False)
            if key in self._seen:
                return False
            self._seen[key] = now
            while len(self._seen) > self.capacity:
                self._seen.popitem(last=False)
            return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)


class StoreDeduper:
    """Keys in the database (a unique row per key): every replica of the bot sees them.

    One INSERT … ON CONFLICT DO NOTHING per delivery; keys older than `ttl` are swept now and
    then by the same statement path, so the table stays small.
    """

    def __init__(self, engine: Engine, ttl: timedelta = timedelta(hours=1), sweep_every: int = 500) -> None:
        self.engine = engine
        self.ttl = ttl
        self.sweep_every = sweep_every
        self._count = 0
        self._insert = pg_insert if engine.dialect.name == "postgresql" else sqlite_insert

    def first_seen(self, key: str) -> bool:
        now = shanghai.now()
        stmt = self._insert(SeenKey).values(key=key[:200], seen_at=now).on_conflict_do_nothing(index_elements=["key"])
        with self.engine.begin() as conn:
            inserted = conn.execute(stmt.returning(SeenKey.key)).first() is not None
            self._count += 1
            if self._count % self.sweep_every == 0:
                conn.execute(delete(SeenKey).where(SeenKey.seen_at < now - self.ttl))
        return inserted
