"""When each claimed outbox row may be sent: per-channel pacing, longest channel first, handed
straight to whichever sending thread is free."""

from __future__ import annotations

import heapq
import math
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from bot.store.outbox import Claimed

Channel = tuple[str, str]


class AnswerTimes:
    """When each channel's last message was answered (time.monotonic). Kept by the worker across
    its drains, which may run at once (the scheduler's retry tick next to a 08:30 push)."""

    def __init__(self) -> None:
        self._at: dict[Channel, float] = {}
        self._lock = threading.Lock()

    def due(self, channel: Channel, interval: float) -> float:
        with self._lock:
            return self._at.get(channel, -math.inf) + interval

    def record(self, channel: Channel, at: float) -> None:
        with self._lock:
            self._at[channel] = max(at, self._at.get(channel, -math.inf))

    def forget(self, older_than: float) -> None:
        """Drop times that can no longer delay anything: one entry per recently active channel."""
        with self._lock:
            for channel in [c for c, at in self._at.items() if at < older_than]:
                del self._at[channel]


class SendQueue:
    """Claimed rows waiting for their turn, shared by the worker and its sending threads.

    A row is due `interval` after its channel's previous message was *answered*. The platform
    counts a message when it arrives, which is before its answer is back, so pacing from the
    answer keeps a channel under the rate whatever the network's jitter; pacing from the start
    of the previous call would not (a slow call followed by a fast one arrives too close).

    Among due rows the channel with the most rows still to deliver goes first: a delivery is
    over when its longest channel is, and that channel cannot finish sooner than
    (rows − 1) × interval, so it must never wait behind channels that have time to spare.

    Sending threads `take()` rows themselves, so a free thread starts the next due row at once,
    whatever the worker's own thread is doing (marking, claiming). One waiting thread watches
    the clock for the next due row; the others sleep until woken, so 128 idle threads cost
    nothing.
    """

    def __init__(self, answered: AnswerTimes) -> None:
        self.answered = answered
        self._cond = threading.Condition()
        self._waiting: list[tuple[float, int, Claimed, int]] = []
        """Heap of (due, row id, row, backlog): rows whose channel is still inside its interval."""
        self._ready: list[tuple[int, int, Claimed]] = []
        """Heap of (−backlog, row id, row): due rows, longest channel first, then oldest row."""
        self._timer = False
        """A taker is waiting for the next due time."""
        self._closed = False
        self._paused = False

    # -- the worker's side --------------------------------------------------------------
    def put(self, rows: Iterable[tuple[Claimed, float, int]]) -> None:
        """(row, its channel's interval, rows its channel has left) for each claimed row."""
        with self._cond:
            now = time.monotonic()
            for row, interval, backlog in rows:
                due = self.answered.due(row.channel, interval)
                if due <= now:
                    heapq.heappush(self._ready, (-backlog, row.id, row))
                else:
                    heapq.heappush(self._waiting, (due, row.id, row, backlog))
            self._cond.notify_all()  # free takers, and the clock watcher if a row is due sooner

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No new sends meanwhile: the worker's bookkeeping (marks, claims) then runs without
        128 threads competing for the interpreter, and frees the next rows sooner."""
        with self._cond:
            self._paused = True
        try:
            yield
        finally:
            with self._cond:
                self._paused = False
                self._cond.notify_all()

    def take_all(self) -> list[Claimed]:
        """Every row not yet taken by a sending thread, removed from the queue (shutdown)."""
        with self._cond:
            rows = [r for _, _, r, _ in self._waiting] + [r for _, _, r in self._ready]
            self._waiting.clear()
            self._ready.clear()
            return rows

    def close(self) -> None:
        """Every taker gets None from now on. Rows still here (a drain that failed) stay claimed
        in the database, verified and sent after their lease."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # -- the sending threads' side --------------------------------------------------------
    def take(self) -> Claimed | None:
        """The next due row, waiting for one as long as needed; None once closed."""
        with self._cond:
            while not self._closed:
                if self._paused:
                    self._cond.wait()
                    continue
                now = time.monotonic()
                row = self._pop_due(now)
                if row is not None:
                    if self._ready or self._waiting:
                        self._cond.notify()  # the next one for another taker, or its clock to watch
                    return row
                if self._waiting and not self._timer:
                    self._timer = True
                    try:
                        self._cond.wait(self._waiting[0][0] - now)
                    finally:
                        self._timer = False
                else:
                    self._cond.wait()
            return None

    def _pop_due(self, now: float) -> Claimed | None:
        while self._waiting and self._waiting[0][0] <= now:
            _, row_id, row, backlog = heapq.heappop(self._waiting)
            heapq.heappush(self._ready, (-backlog, row_id, row))
        return heapq.heappop(self._ready)[2] if self._ready else None

    def __len__(self) -> int:
        with self._cond:
            return len(self._waiting) + len(self._ready)
