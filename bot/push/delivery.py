"""The delivery worker: claims outbox rows and sends them, exactly once per row."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from bot import clock
from bot.core.reply import Reply
from bot.push.senders import PermanentSendError, Sender, TransientSendError
from bot.store import outbox

log = logging.getLogger("rmbot.push")


@dataclass
class DeliveryStats:
    sent: int = 0
    verified: int = 0
    """Found already delivered after a crash: marked sent without sending again."""
    retried: int = 0
    dead: int = 0
    unknown: int = 0
    """Outcome not known (e.g. a timeout after sending): checked with the platform after the lease."""
    claimed: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: "DeliveryStats") -> None:
        self.sent += other.sent
        self.verified += other.verified
        self.retried += other.retried
        self.dead += other.dead
        self.unknown += other.unknown
        self.claimed += other.claimed
        self.errors += other.errors


def backoff(attempt: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** attempt, 1800))


class DeliveryWorker:
    """Delivers in rounds: each round claims the head row of every ready channel, sends them in
    parallel, and marks them sent in one statement.

    A channel gets at most one message per round and rounds are spaced by the platforms'
    per-channel rate (a sender's `min_interval`, e.g. Slack's ~1 message/s/channel), so 2,000
    branch channels fill in parallel while each channel's messages arrive in order.
    """

    def __init__(
        self,
        engine: Engine,
        senders: Mapping[str, Sender],
        worker_id: str | None = None,
        lease: timedelta = timedelta(minutes=5),
        batch: int = 2000,
        max_attempts: int = 8,
        now: Callable[[], datetime] = clock.now,
        concurrency: int = 32,
    ) -> None:
        self.engine = engine
        self.senders = dict(senders)
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.lease = lease
        self.batch = batch
        self.max_attempts = max_attempts
        self.now = now
        self.concurrency = concurrency
        self._last_send: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def run_once(self) -> DeliveryStats:
        """One round. `claimed` in the result tells `drain` whether there was anything to do."""
        rows = outbox.claim(self.engine, self.worker_id, self.now(), self.lease, self.batch)
        stats = DeliveryStats(claimed=len(rows))
        if not rows:
            return stats
        self._pace(rows)
        if len(rows) == 1 or self.concurrency <= 1:
            results = [self._attempt(row) for row in rows]
        else:
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(rows))) as pool:
                results = list(pool.map(self._attempt, rows))
        done: list[tuple[outbox.Outbox, str | None]] = []
        for row, outcome, detail in results:
            if outcome in ("sent", "verified"):
                done.append((row, detail))
                if outcome == "sent":
                    stats.sent += 1
                else:
                    stats.verified += 1
                continue
            stats.errors.append(f"{row.key}: {detail}")
            if outcome == "retry":
                final = row.attempts + 1 >= self.max_attempts
                outbox.mark_failed(self.engine, row, self.now(), detail or "", None if final else backoff(row.attempts))
                stats.dead += final
                stats.retried += not final
            elif outcome == "dead":
                outbox.mark_failed(self.engine, row, self.now(), detail or "", None)
                stats.dead += 1
            else:  # unknown: verified with the platform once the lease is over
                outbox.note_unknown(self.engine, row, detail or "", self.max_attempts)
                stats.unknown += 1
        outbox.mark_sent_many(self.engine, done, self.now())
        return stats

    def drain(self, max_rounds: int = 100_000) -> DeliveryStats:
        """Deliver until nothing is ready (rows waiting for a retry later are left for later)."""
        total = DeliveryStats()
        for _ in range(max_rounds):
            stats = self.run_once()
            total.add(stats)
            if not stats.claimed:
                break
        return total

    def _pace(self, rows: list[outbox.Outbox]) -> None:
        """Wait, once per round, until every channel in it may take its next message."""
        wait = 0.0
        with self._lock:
            now = time.monotonic()
            for row in rows:
                interval = float(getattr(self.senders.get(row.platform), "min_interval", 0.0) or 0.0)
                last = self._last_send.get((row.platform, row.target))
                if interval and last is not None:
                    wait = max(wait, last + interval - now)
        if wait > 0:
            time.sleep(wait)

    def _attempt(self, row: outbox.Outbox) -> tuple[outbox.Outbox, str, str | None]:
        """(row, sent|verified|retry|dead|unknown, message id or error)."""
        sender = self.senders.get(row.platform)
        if sender is None:
            return row, "retry", f"no sender for platform {row.platform}"
        if row.status == "verifying":
            try:
                found = sender.find_sent(row.target, row.key, (row.created_at or self.now()) - timedelta(minutes=1))
            except Exception as exc:  # noqa: BLE001  (can't tell: never resend blind)
                log.warning("push %s: cannot verify yet: %s", row.key, exc)
                return row, "unknown", f"verify failed: {exc.__class__.__name__}: {exc}"
            if found is not None:
                return row, "verified", found
            if not outbox.start_sending(self.engine, row, self.now(), self.lease):
                return row, "unknown", "lease lost before sending"
        try:
            with self._lock:
                self._last_send[(row.platform, row.target)] = time.monotonic()
            return row, "sent", sender.send(row.target, Reply.model_validate_json(row.payload), row.key)
        except TransientSendError as exc:
            log.warning("push %s failed (attempt %d): %s", row.key, row.attempts + 1, exc)
            return row, "retry", str(exc)
        except PermanentSendError as exc:
            log.error("push %s dead: %s", row.key, exc)
            return row, "dead", str(exc)
        except Exception as exc:  # noqa: BLE001  (outcome unknown: verify after the lease)
            log.exception("push %s: unexpected error, will verify after the lease", row.key)
            return row, "unknown", f"{exc.__class__.__name__}: {exc}"
