"""The delivery worker: claims outbox rows and sends them, exactly once per row, each channel
in order and paced to its platform's rate, all channels at once."""

from __future__ import annotations

import logging
import math
import os
import queue
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from bot import clock
from bot import metrics
from bot.core.reply import Reply
from bot.push.pacing import AnswerTimes, SendQueue
from bot.push.senders import PermanentSendError, Sender, TransientSendError
from bot.store import outbox
from bot.store.outbox import Claimed

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


STALE_EVERY = 10.0
"""Seconds between looks for rows whose lease ran out (a crashed worker's): every drain's first
claim looks, and a long drain again this often."""

DEFAULT_LEASE = timedelta(seconds=20)
"""A claim's lease. Short, because it is renewed while the worker lives (the heartbeat, every
quarter lease): a worker that dies (kill -9, a lost host) leaves rows that others verify and
send within seconds, not minutes. Rows of a dead process on this host are taken over at once."""


def backoff(attempt: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** attempt, 1800))


Attempt = tuple[Claimed, str, str | None, float]
"""(row, sent|verified|retry|dead|unknown, message id or error, when the platform answered)."""


class DeliveryWorker:
    """Delivers the outbox as a pipeline: claims, sends and marks overlap.

    A claim takes the head row of every ready channel (never a second row of a channel whose
    earlier row is unsent), so each channel's messages go out one at a time, in order. Claimed
    rows wait in a `SendQueue` until their channel may take the next message — `min_interval`
    of its sender (Slack: 1 s) after the previous one was answered — and `concurrency` sending
    threads take them from there, longest channel first. This thread settles the answers: each
    `tick` it marks those sent in one statement and claims the rows that frees, so a channel's
    next row is claimed while it waits out its interval. 2,000 branch channels fill in
    parallel, each at its platform's rate.

    `concurrency` bounds the calls in flight: rate × call time, e.g. 2,000 channels at 1/s with
    ~60 ms per call keep ~120 busy. Memory is bounded by `batch` (rows held at once).
    """

    def __init__(
        self,
        engine: Engine,
        senders: Mapping[str, Sender],
        worker_id: str | None = None,
        lease: timedelta = DEFAULT_LEASE,
        batch: int = 2000,
        max_attempts: int = 8,
        now: Callable[[], datetime] = clock.now,
        concurrency: int = 128,
        tick: float | None = None,
        platforms: tuple[str, ...] | None = None,
    ) -> None:
        self.engine = engine
        self.senders = dict(senders)
        self.platforms = platforms
        """Claim only rows of these platforms (None: every row; a row without a sender retries)."""
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.lease = lease
        self.batch = batch
        self.max_attempts = max_attempts
        self.now = now
        self.concurrency = max(1, concurrency)
        self._longest = max((self._interval(p) for p in self.senders), default=0.0)
        self.tick = tick if tick is not None else (min(0.25, self._longest / 4) if self._longest else 0.05)
        """Seconds between marking answers sent and claiming the rows that frees. A quarter of
        the interval: a channel's next row is claimed well before it is due."""
        self._answered = AnswerTimes()
        """Pacing outlives a drain: the next drain's first message to a channel waits too."""
        self._stop = threading.Event()

    def stop(self) -> None:
        """Graceful shutdown: drains stop claiming; rows claimed but not yet handed to a sending
        thread go back to the outbox at once (pending again, or verified by the next worker);
        sends already in flight finish and are recorded. Running drains then return."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run_once(self) -> DeliveryStats:
        """One claim, and everything it took sent (paced) and settled. `claimed` in the result
        tells whether there was anything to do."""
        return self._deliver(max_claims=1)

    def drain(self, max_rounds: int = 100_000) -> DeliveryStats:
        """Deliver until nothing is ready (rows waiting for a retry later are left for later)."""
        return self._deliver(max_claims=max_rounds)

    # -- the pipeline -----------------------------------------------------------------
    def _deliver(self, max_claims: int) -> DeliveryStats:
        stats = DeliveryStats()
        backlog = outbox.backlog(self.engine)
        answers: queue.SimpleQueue[Attempt] = queue.SimpleQueue()
        sendq = SendQueue(self._answered)
        threads: list[threading.Thread] = []
        done: list[tuple[Claimed, str | None]] = []
        outstanding = 0  # rows handed to the sending threads and not settled yet
        claims = 0
        want_claim = True  # at first, after rows were settled, and while claims come back full
        last_claim = last_settle = last_stale = -math.inf
        held: dict[int, Claimed] = {}  # claimed by this drain and not settled in the database
        last_renew = time.monotonic()
        released = False
        outbox.expire_dead_holders(self.engine, self.now())
        try:
            while True:
                now = time.monotonic()
                if done and (not outstanding or now - last_settle >= self.tick):
                    with sendq.paused():  # bookkeeping first: it frees the next rows
                        outbox.mark_sent_many(self.engine, done, self.now())
                    for row, _ in done:
                        held.pop(row.id, None)
                    done = []
                    last_settle, want_claim = now, True
                if held and now - last_renew >= self.lease.total_seconds() / 4:
                    outbox.renew(self.engine, list(held.values()), self.now(), self.lease)  # the heartbeat
                    last_renew = now
                if self._stop.is_set() and not released:
                    left = sendq.take_all()
                    outbox.release(self.engine, left, self.now())
                    for row in left:
                        held.pop(row.id, None)
                    outstanding -= len(left)
                    released, want_claim = True, False
                    if left:
                        log.info("stopping: %d claimed rows not started, back in the outbox", len(left))
                can_claim = want_claim and not released and claims < max_claims and outstanding < self.batch
                if can_claim and (not outstanding or now - last_claim >= self.tick):
                    stale = now - last_stale >= STALE_EVERY
                    limit = self.batch - outstanding
                    claimed = self._claim(sendq, limit, stale, backlog, held)
                    claims += 1
                    stats.claimed += claimed
                    outstanding += claimed
                    last_claim, want_claim = now, claimed == limit
                    last_stale = now if stale else last_stale
                    while len(threads) < min(self.concurrency, outstanding):
                        threads.append(self._start_sender(sendq, answers))
                    can_claim = want_claim and not released and claims < max_claims
                if not outstanding and not done and not can_claim:
                    return stats
                until = self._next_tick(bool(done), can_claim, last_settle, last_claim)
                outstanding -= self._collect(answers, until, done, stats, backlog, held)
        finally:
            sendq.close()
            for thread in threads:
                thread.join()

    def _claim(self, sendq: SendQueue, limit: int, stale: bool, backlog: dict[tuple[str, str], int],
               held: dict[int, Claimed]) -> int:
        """Claim up to `limit` rows into the send queue; how many."""
        with sendq.paused():
            if stale:
                outbox.expire_dead_holders(self.engine, self.now())
            rows = outbox.claim(self.engine, self.worker_id, self.now(), self.lease, limit, stale=stale,
                                platforms=self.platforms)
        held.update((row.id, row) for row in rows)
        self._answered.forget(time.monotonic() - self.tick - self._longest)
        sendq.put((row, self._interval(row.platform), backlog.get(row.channel, 1)) for row in rows)
        return len(rows)

    def _next_tick(self, settling: bool, can_claim: bool, last_settle: float, last_claim: float) -> float:
        """When this thread next has bookkeeping to do (inf: only once an answer comes)."""
        ticks = [t + self.tick for t, pending in ((last_settle, settling), (last_claim, can_claim)) if pending]
        return min(ticks, default=math.inf)

    def _collect(self, answers: queue.SimpleQueue[Attempt], until: float, done: list[tuple[Claimed, str | None]],
                 stats: DeliveryStats, backlog: dict[tuple[str, str], int], held: dict[int, Claimed]) -> int:
        """Settle the answers there are, waiting for the first until `until` (1 s at most);
        returns how many."""
        try:
            attempt = answers.get(timeout=min(1.0, max(0.0, until - time.monotonic())))
        except queue.Empty:
            return 0
        settled = 0
        while True:
            if self._settle(attempt, done, stats, backlog):
                held.pop(attempt[0].id, None)  # settled in the database already: no more heartbeat
            settled += 1
            try:
                attempt = answers.get_nowait()
            except queue.Empty:
                return settled

    def _start_sender(self, sendq: SendQueue, answers: queue.SimpleQueue[Attempt]) -> threading.Thread:
        thread = threading.Thread(target=self._send_loop, args=(sendq, answers), name="push-send", daemon=True)
        thread.start()
        return thread

    def _send_loop(self, sendq: SendQueue, answers: queue.SimpleQueue[Attempt]) -> None:
        """A sending thread: due rows from the queue until it closes."""
        while (row := sendq.take()) is not None:
            try:
                answers.put(self._attempt(row))
            except BaseException as exc:  # noqa: BLE001  (a bug, the database down: the row still gets an answer)
                log.exception("push %s: delivery failed unexpectedly", row.key)
                answers.put((row, "unknown", f"{exc.__class__.__name__}: {exc}", time.monotonic()))

    def _settle(self, attempt: Attempt, done: list[tuple[Claimed, str | None]], stats: DeliveryStats,
                backlog: dict[tuple[str, str], int]) -> bool:
        """Record an answer: pacing, then sent rows to mark with the next tick, failures now
        (True: the row's state is written, so its lease is no longer renewed)."""
        row, outcome, detail, answered_at = attempt
        self._answered.record(row.channel, answered_at)
        metrics.delivered(row.platform, row.kind, outcome, row.created_at, self.now())
        if outcome in ("sent", "verified"):
            done.append((row, detail))
            backlog[row.channel] = backlog.get(row.channel, 1) - 1
            if outcome == "sent":
                stats.sent += 1
            else:
                stats.verified += 1
            return False
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
        return True

    def _interval(self, platform: str) -> float:
        return float(getattr(self.senders.get(platform), "min_interval", 0.0) or 0.0)

    # -- one row ------------------------------------------------------------------------
    def _attempt(self, row: Claimed) -> Attempt:
        outcome, detail = self._outcome(row)
        return row, outcome, detail, time.monotonic()

    def _outcome(self, row: Claimed) -> tuple[str, str | None]:
        """(sent|verified|retry|dead|unknown, message id or error)."""
        sender = self.senders.get(row.platform)
        if sender is None:
            return "retry", f"no sender for platform {row.platform}"
        if row.status == "verifying":
            try:
                found = sender.find_sent(row.target, row.key, (row.created_at or self.now()) - timedelta(minutes=1))
            except Exception as exc:  # noqa: BLE001  (can't tell: never resend blind)
                log.warning("push %s: cannot verify yet: %s", row.key, exc)
                return "unknown", f"verify failed: {exc.__class__.__name__}: {exc}"
            if found is not None:
                return "verified", found
            if not outbox.start_sending(self.engine, row, self.now(), self.lease):
                return "unknown", "lease lost before sending"
        send_rendered = getattr(sender, "send_rendered", None)
        try:
            if row.rendered is not None and send_rendered is not None:
                return "sent", send_rendered(row.target, row.rendered, row.key)
            return "sent", sender.send(row.target, Reply.model_validate_json(row.payload), row.key)
        except TransientSendError as exc:
            log.warning("push %s failed (attempt %d): %s", row.key, row.attempts + 1, exc)
            return "retry", str(exc)
        except PermanentSendError as exc:
            log.error("push %s dead: %s", row.key, exc)
            return "dead", str(exc)
        except Exception as exc:  # noqa: BLE001  (outcome unknown: verify after the lease)
            log.exception("push %s: unexpected error, will verify after the lease", row.key)
            return "unknown", f"{exc.__class__.__name__}: {exc}"
