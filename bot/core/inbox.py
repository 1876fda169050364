"""The durable inbox at work in `rmbot serve`: accept, handle in order, reply through the outbox.

Adapters hand every accepted message to `InboxService.accept` before answering the platform
(one INSERT: the dedupe key and the message together), and register a handler per platform
that runs the command and returns the reply's outbox rows. Worker threads claim rows (each
user's oldest unfinished one: per-user order across replicas, bot/store/inbox.py), run the
handler, and `finish` marks the row done and queues the replies in one transaction. A delivery
thread then sends replies from the outbox with the push machinery (`DeliveryWorker`, limited to
the reply platforms): each user's replies in order, exactly once per row.

Latency: `accept` wakes a worker in this process at once and `finish` wakes the delivery
thread, so a reply costs a few commits more than answering directly; other replicas' rows and
expired leases are found by polling every `poll` seconds. Started and stopped with the app's
lifespan; what is not finished at shutdown stays in the inbox/outbox for the next start.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta

from sqlalchemy.engine import Engine

from bot import clock
from bot.logs import request_id as current_request_id
from bot.push.delivery import DeliveryWorker
from bot.push.senders import Sender
from bot.store import inbox, outbox
from bot.store.inbox import Claimed
from bot.store.outbox import NewMessage

log = logging.getLogger("rmbot.inbox")

Handler = Callable[[Claimed], Sequence[NewMessage]]
"""Runs the command of one accepted message; returns its replies as outbox rows (keys from
`reply_key`). Must not send anything itself: a row handled twice (after a crash) would."""

KEEP = timedelta(days=2)
"""Finished rows (and so their dedupe keys) are kept this long: platforms retry within minutes."""


def reply_key(row: Claimed, n: int) -> str:
    """The outbox key of a row's n-th reply: the same row handled twice queues the same keys."""
    return f"reply:{row.platform}:{row.id}:{n}"


class InboxService:
    def __init__(self, engine: Engine, *, threads: int = 4, lease: timedelta = timedelta(seconds=30),
                 poll: float = 0.5, max_attempts: int = 5) -> None:
        self.engine = engine
        self.threads = threads
        self.lease = lease
        self.poll = poll
        self.max_attempts = max_attempts
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}"
        self.handlers: dict[str, Handler] = {}
        self.senders: dict[str, Sender] = {}
        self._wake = threading.Condition()
        self._generation = 0
        self._stop = threading.Event()
        self._held: dict[int, Claimed] = {}
        self._held_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._delivery: DeliveryWorker | None = None
        self._deliver_now = threading.Event()
        self._finished = 0
        self._start_lock = threading.Lock()

    def register(self, platform: str, handler: Handler, senders: Mapping[str, Sender]) -> None:
        """`platform`'s accepted rows go to `handler`; its replies' outbox platforms to `senders`."""
        self.handlers[platform] = handler
        self.senders.update(senders)

    # -- accepting (request threads / the event loop) ------------------------------------------------

    def accept(self, key: str | None, platform: str, user_id: str, payload: str) -> bool:
        """Record the message; False if its key was accepted before (a platform's retry). A
        message without a key of its own gets a unique one (handled, never deduplicated)."""
        rid = current_request_id.get() or uuid.uuid4().hex[:16]
        new = inbox.accept(self.engine, key or f"nokey:{uuid.uuid4().hex}", platform, user_id, payload,
                           clock.now(), rid)
        if new is not None:
            if not self._threads:  # an app served without its lifespan (tests): start on first use
                self.start()
            self._notify()
        return new is not None

    def _notify(self) -> None:
        with self._wake:
            self._generation += 1
            self._wake.notify_all()

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        with self._start_lock:
            if not self._threads:
                self._start()

    def _start(self) -> None:
        self._stop.clear()
        inbox.expire_dead_holders(self.engine, clock.now())
        self._delivery = DeliveryWorker(self.engine, self.senders, worker_id=self.worker_id,
                                        platforms=tuple(self.senders), tick=0.005)
        targets: list[tuple[Callable[[], None], str]] = [(self._work, "inbox")] * self.threads
        targets += [(self._heartbeat, "inbox-heartbeat"), (self._deliver, "inbox-reply")]
        for target, name in targets:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        self._deliver_now.set()  # replies a previous run queued and did not send
        log.info("inbox started: %d workers for %s", self.threads, ", ".join(sorted(self.handlers)) or "nothing")

    def stop(self, timeout: float) -> bool:
        """Stop claiming; wait up to `timeout` s for commands under way and for queued replies
        to go out. True if everything accepted here was answered; what was not stays stored
        (rows in progress are taken over by the next start, or by another replica)."""
        deadline = time.monotonic() + timeout
        self._stop.set()
        self._notify()
        for thread in self._threads:
            if thread.name == "inbox":
                thread.join(max(0.0, deadline - time.monotonic()))
        while time.monotonic() < deadline and self._unsent_replies():
            self._deliver_now.set()
            time.sleep(0.02)
        done = not self._unsent_replies() and not self._held
        if self._delivery is not None:
            self._delivery.stop()
        self._deliver_now.set()
        for thread in self._threads:
            thread.join(max(0.0, min(2.0, deadline - time.monotonic())))
        left = inbox.open_count(self.engine, list(self.handlers))
        if not done or left:
            log.warning("inbox stopped: %d accepted messages and %d replies left for the next start", left,
                        self._unsent_replies())
        self._threads = []
        return done

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every accepted message is handled and its replies sent (tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not inbox.open_count(self.engine, list(self.handlers)) and not self._unsent_replies():
                return True
            time.sleep(0.01)
        return False

    def _unsent_replies(self) -> int:
        backlog = outbox.backlog(self.engine)
        return sum(n for (platform, _), n in backlog.items() if platform in self.senders)

    # -- the workers ----------------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stop.is_set():
            with self._wake:
                seen = self._generation
            try:
                rows = inbox.claim(self.engine, self.worker_id, clock.now(), self.lease, list(self.handlers))
            except Exception:  # noqa: BLE001  (the database away: try again after the poll)
                log.exception("inbox claim failed")
                rows = []
            if not rows:
                with self._wake:
                    self._wake.wait_for(lambda: self._generation != seen or self._stop.is_set(), self.poll)
                continue
            for row in rows:
                self._handle(row)

    def _handle(self, row: Claimed) -> None:
        with self._held_lock:
            self._held[row.id] = row
        token = current_request_id.set(row.request_id)
        try:
            if row.attempts > self.max_attempts:
                log.error("inbox %s from %s: given up after %d attempts", row.key, row.user_id, row.attempts - 1)
                inbox.give_up(self.engine, row, "too many attempts", clock.now())
                return
            try:
                replies = self.handlers[row.platform](row)
            except Exception as exc:  # noqa: BLE001  (a bug: the row stays, retried after its lease)
                log.exception("inbox %s from %s failed (attempt %d)", row.key, row.user_id, row.attempts)
                if row.attempts >= self.max_attempts:
                    inbox.give_up(self.engine, row, f"{exc.__class__.__name__}: {exc}", clock.now())
                return
            if inbox.finish(self.engine, row, replies, clock.now()):
                self._deliver_now.set()
                self._finished += 1
                if self._finished % 500 == 0:
                    inbox.sweep(self.engine, clock.now() - KEEP)
            else:
                log.warning("inbox %s: lease lost while handling; another worker answers it", row.key)
        finally:
            current_request_id.reset(token)
            with self._held_lock:
                self._held.pop(row.id, None)

    def _heartbeat(self) -> None:
        every = self.lease.total_seconds() / 4
        last_expire = time.monotonic()
        while not self._stop.wait(every):
            try:
                with self._held_lock:
                    rows = list(self._held.values())
                inbox.renew(self.engine, rows, clock.now(), self.lease)
                if time.monotonic() - last_expire >= 2.0:
                    if inbox.expire_dead_holders(self.engine, clock.now()):
                        self._notify()
                    last_expire = time.monotonic()
            except Exception:  # noqa: BLE001
                log.exception("inbox heartbeat failed")

    def _deliver(self) -> None:
        """Send queued replies whenever a row finishes (and every second, for other replicas'
        rows, retries and rows a crashed process left)."""
        assert self._delivery is not None
        while not self._delivery.stopping:
            self._deliver_now.wait(1.0)
            self._deliver_now.clear()
            if self._delivery.stopping:
                return
            try:
                self._delivery.drain()
            except Exception:  # noqa: BLE001  (the database away: next round)
                log.exception("reply delivery failed")
