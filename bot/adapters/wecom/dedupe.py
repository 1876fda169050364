"""Callback de-duplication: WeCom re-sends a callback it thinks went unanswered (3 tries in all).

We answer at once, so retries are rare, but a slow network or a restart can still deliver the
same message twice, and a repeated follow-up click would write the follow-up log twice.
`Deduper` is the whole interface (the same `first_seen` as the Slack adapter's, so one DB-backed
store, a unique key in a table shared by several server processes, can serve both) and replaces
the in-memory one without touching the callback code.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Protocol


class Deduper(Protocol):
    def first_seen(self, key: str) -> bool:
        """True the first time `key` is seen (the caller then processes it), False after."""
        ...


def message_key(msg: Mapping[str, str]) -> str | None:
    """MsgId for messages; events have none, so sender + time + what was clicked.

    None when the callback carries nothing to key on (then it is processed: better twice
    than never for a message we cannot identify).
    """
    if msg.get("MsgId"):
        return f"msg:{msg['MsgId']}"
    sender, created = msg.get("FromUserName", ""), msg.get("CreateTime", "")
    if not sender or not created:
        return None
    parts = [sender, created, msg.get("Event", ""), msg.get("EventKey", ""), msg.get("TaskId", "")]
    return "evt:" + "\x1f".join(parts)


class MemoryDeduper:
    """Bounded, expiring set of seen keys for one process.

    `ttl` must outlast WeCom's retry window (seconds) and the callback timestamp tolerance, so a
    replay that passes the timestamp check is still caught here.
    """

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
            self._expire(now)
            if key in self._seen:
                return False
            self._seen[key] = now + self.ttl
            while len(self._seen) > self.capacity:
                self._seen.popitem(last=False)
            return True

    def _expire(self, now: float) -> None:
        while self._seen:
            key, deadline = next(iter(self._seen.items()))
            if deadline > now:
                return
            del self._seen[key]

    def __len__(self) -> int:
        return len(self._seen)
