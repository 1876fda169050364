"""The delivery worker: claims outbox rows and sends them, exactly once per row."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import defaultdict
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
    errors: list[str] = field(default_factory=list)

    def add(self, other: "DeliveryStats") -> None:
        self.sent += other.sent
        self.verified += other.verified
        self.retried += other.retried
        self.dead += other.dead
        self.errors += other.errors

    @property
    def moved(self) -> bool:
        return bool(self.sent or self.verified or self.retried or self.dead)


def backoff(attempt: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** attempt, 1800))


class DeliveryWorker:
    """Claims rows in batches; channels are served in parallel, each channel's rows in order.

    A channel takes one message per `min_interval` seconds (a sender's `min_interval`
    attribute, e.g. Slack's ~1 message/s/channel), so 2,000 branch channels fill in parallel
    instead of one after another.
    """

    def __init__(
        self,
        engine: Engine,
        senders: Mapping[str, Sender],
        worker_id: str | None = None,
        lease: timedelta = timedelta(minutes=5),
        batch: int = 200,
        max_attempts: int = 8,
        now: Callable[[], datetime] = clock.now,
        concurrency: int = 16,
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
        self._pace_lock = threading.Lock()

    def run_once(self) -> DeliveryStats:
        rows = outbox.claim(self.engine, self.worker_id, self.now(), self.lease, self.batch)
        by_channel: dict[tuple[str, str], list[outbox.Outbox]] = defaultdict(list)
        for row in rows:
            by_channel[(row.platform, row.target)].append(row)
        total = DeliveryStats()
        if len(by_channel) <= 1 or self.concurrency <= 1:
            for channel_rows in by_channel.values():
                total.add(self._deliver_channel(channel_rows))
            return total
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(by_channel))) as pool:
            for stats in pool.map(self._deliver_channel, by_channel.values()):
                total.add(stats)
        return total

    def drain(self, max_rounds: int = 10_000) -> DeliveryStats:
        """Deliver until nothing is ready (rows waiting for a retry later are left for later)."""
        total = DeliveryStats()
        for _ in range(max_rounds):
            stats = self.run_once()
            if not stats.moved:
                break
            total.add(stats)
        return total

    def _deliver_channel(self, rows: list[outbox.Outbox]) -> DeliveryStats:
        stats = DeliveryStats()
        for row in rows:
            self._pace(row)
            self._deliver(row, stats)
        return stats

    def _pace(self, row: outbox.Outbox) -> None:
        interval = float(getattr(self.senders.get(row.platform), "min_interval", 0.0) or 0.0)
        if interval <= 0:
            return
        key = (row.platform, row.target)
        with self._pace_lock:
            wait = self._last_send.get(key, 0.0) + interval - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        with self._pace_lock:
            self._last_send[key] = time.monotonic()

    def _deliver(self, row: outbox.Outbox, stats: DeliveryStats) -> None:
        sender = self.senders.get(row.platform)
        if sender is None:
            outbox.mark_failed(self.engine, row, self.now(), f"no sender for platform {row.platform}", backoff(row.attempts))
            stats.retried += 1
            return
        try:
            if row.status == "verifying":
                since = (row.created_at or self.now()) - timedelta(minutes=1)
                found = sender.find_sent(row.target, row.key, since)
                if found is not None:
                    outbox.mark_sent(self.engine, row, self.now(), found)
                    stats.verified += 1
                    return
            if not outbox.start_sending(self.engine, row, self.now(), self.lease):
                return  # someone else took it over after our lease ran out
            row.status = "sending"
            message_id = sender.send(row.target, Reply.model_validate_json(row.payload), row.key)
            outbox.mark_sent(self.engine, row, self.now(), message_id)
            stats.sent += 1
        except TransientSendError as exc:
            final = row.attempts + 1 >= self.max_attempts
            outbox.mark_failed(self.engine, row, self.now(), str(exc), None if final else backoff(row.attempts))
            stats.dead += final
            stats.retried += not final
            stats.errors.append(f"{row.key}: {exc}")
            log.warning("push %s failed (attempt %d): %s", row.key, row.attempts + 1, exc)
        except PermanentSendError as exc:
            outbox.mark_failed(self.engine, row, self.now(), str(exc), None)
            stats.dead += 1
            stats.errors.append(f"{row.key}: {exc}")
            log.error("push %s dead: %s", row.key, exc)
        except Exception as exc:  # noqa: BLE001
            # Unknown outcome: leave the row as it is; when the lease runs out it is verified
            # with the platform before any second send.
            stats.errors.append(f"{row.key}: {exc.__class__.__name__}: {exc}")
            log.exception("push %s: unexpected error, will verify after the lease", row.key)
