"""The pipelined delivery worker: pacing from the answer, longest channel first, rows rendered
when built, and claims that read only what is left to send."""

from __future__ import annotations

import random
import threading
import time
from datetime import date, datetime, time as dtime, timedelta
from pathlib import Path

from sqlalchemy import event, select, update
from sqlmodel import Session

from bot.clock import SHANGHAI
from bot.core.reply import Reply
from bot.push.delivery import DeliveryWorker
from bot.push.pacing import AnswerTimes, SendQueue
from bot.push.service import PushService
from bot.store import outbox
from bot.store.models import Outbox
from bot.store.outbox import Claimed
from bot.testing import Harness

MONDAY = date(2026, 11, 23)
NOW = datetime.combine(MONDAY, dtime(8, 30), SHANGHAI)


def rows(h: Harness) -> list[Outbox]:
    with Session(h.engine) as s:
        return list(s.execute(select(Outbox).order_by(Outbox.id)).scalars())


def enqueue(h: Harness, channels: dict[str, int], platform: str = "file") -> None:
    """`channels`: target → rows, enqueued interleaved (row i of every channel, then row i+1…)."""
    messages = []
    for i in range(max(channels.values())):
        for target, n in channels.items():
            if i < n:
                reply = Reply(title=f"{target} {i + 1}/{n}", masked=True)
                messages.append(outbox.NewMessage(f"t:{target}:{i + 1}", "churn", "SB01", MONDAY, platform, target,
                                                  reply.model_dump_json(exclude_defaults=True)))
    outbox.enqueue(h.engine, messages, NOW)


class Platform:
    """The outside world: counts a message when it arrives, somewhere inside the call."""

    platform = "file"
    min_interval = 0.0

    def __init__(self, jitter: float = 0.0) -> None:
        self.jitter = jitter
        self.rng = random.Random(7)
        self.lock = threading.Lock()
        self.arrivals: list[tuple[str, str, float]] = []
        self.rendered: list[str] = []

    def send(self, target: str, reply: Reply, key: str) -> str:
        with self.lock:
            before, after = self.rng.uniform(0, self.jitter), self.rng.uniform(0, self.jitter)
        time.sleep(before)  # the request on its way
        with self.lock:
            self.arrivals.append((target, key, time.monotonic()))
        time.sleep(after)  # the answer on its way back
        return key

    def find_sent(self, target: str, key: str, since: datetime) -> str | None:
        return None


def test_a_channel_is_paced_from_the_previous_answer_whatever_the_jitter(rmbot: Harness) -> None:
    enqueue(rmbot, {"C1": 4, "C2": 4, "C3": 3})
    platform = Platform(jitter=0.06)
    platform.min_interval = 0.2
    stats = DeliveryWorker(rmbot.engine, {"file": platform}, now=lambda: NOW).drain()
    assert stats.sent == 11 and not stats.errors
    for channel in ("C1", "C2", "C3"):
        stamps = [t for target, _, t in platform.arrivals if target == channel]
        gaps = [b - a for a, b in zip(stamps, stamps[1:])]
        assert all(g >= platform.min_interval for g in gaps), (channel, gaps)  # no tolerance needed


class Slow(Platform):
    """Sends slower than the worker's default tick (0.05 s), as under CPU load."""

    def send(self, target: str, reply: Reply, key: str) -> str:
        time.sleep(0.08)
        return super().send(target, reply, key)


def test_the_longest_channel_goes_first(rmbot: Harness) -> None:
    """Among the heads claimed together, the channel with the most rows left goes first.
    The tick is longer than the drain, so the next heads are claimed only once every row of
    the claim is settled: the order does not depend on how fast sends are (with the default
    0.05 s tick, a slow send let `long:2` be claimed and overtake `short:1`)."""
    enqueue(rmbot, {"short": 1, "long": 3, "middle": 2})  # "short" has the oldest row
    platform = Slow()
    DeliveryWorker(rmbot.engine, {"file": platform}, now=lambda: NOW, concurrency=1, tick=3600).drain()
    order = [key for _, key, _ in platform.arrivals]
    assert order == ["t:long:1", "t:middle:1", "t:short:1", "t:long:2", "t:middle:2", "t:long:3"]


class Rendering(Platform):
    """A platform that renders when the push is built and then only posts."""

    def render(self, reply: Reply) -> str | None:
        return None if "不渲染" in reply.title else f"rendered:{reply.title}"

    def send_rendered(self, target: str, rendered: str, key: str) -> str:
        with self.lock:
            self.rendered.append(rendered)
        return self.send(target, Reply(title=rendered), key)


def test_rows_rendered_when_built_are_posted_as_built_and_dropped_once_sent(
        pushes: tuple[Harness, PushService, Path]) -> None:
    h, plain, _ = pushes
    platform = Rendering()
    service = PushService(h.engine, plain.policy, plain.calendar, renderers={"file": platform.render})
    enqueued = sum(b.enqueued for b in service.build("churn", MONDAY, now=NOW).branches)
    built = rows(h)
    assert enqueued == len(built) > 0
    assert all(r.rendered == f"rendered:{Reply.model_validate_json(r.payload).title}" for r in built)
    with h.engine.begin() as conn:  # one row the renderer declined: rendered at send, as before
        conn.execute(update(Outbox).where(Outbox.id == built[0].id).values(rendered=None))
    stats = DeliveryWorker(h.engine, {"file": platform}, now=lambda: NOW).drain()
    assert stats.sent == enqueued
    assert sorted(platform.rendered) == sorted(r.rendered for r in built[1:])
    assert len(platform.arrivals) == enqueued
    after = rows(h)
    assert all(r.status == "sent" and r.rendered is None for r in after)
    assert [r.payload for r in after] == [r.payload for r in built]  # the neutral reply is kept


def test_a_renderer_that_fails_leaves_the_row_to_be_rendered_at_send(pushes: tuple[Harness, PushService, Path]) -> None:
    h, service, _ = pushes

    def broken(reply: Reply) -> str:
        raise ValueError("cannot render")

    failing = PushService(h.engine, service.policy, service.calendar, renderers={"file": broken})
    assert sum(b.enqueued for b in failing.build("downgrade", MONDAY, now=NOW).branches) > 0
    assert {r.rendered for r in rows(h)} == {None}


def test_a_claim_reads_heads_from_the_index_of_unsent_rows(rmbot: Harness) -> None:
    """A year of sent pushes must not slow claims down: heads come from an index over unsent
    rows, never a scan of the table (the status list is written into the SQL: SQLite uses the
    partial index `ix_outbox_unsent` only when the query's terms match its own)."""
    enqueue(rmbot, {"C1": 3, "C2": 2})
    with rmbot.engine.begin() as conn:  # history: the first row of each channel went out long ago
        conn.execute(update(Outbox).where(Outbox.key.in_(["t:C1:1", "t:C2:1"])).values(status="sent"))
    statements: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, params, context, executemany) -> None:  # noqa: ANN001
        statements.append((statement, params))

    event.listen(rmbot.engine, "before_cursor_execute", capture)
    try:
        claimed = outbox.claim(rmbot.engine, "w", NOW, timedelta(minutes=5), 10)
    finally:
        event.remove(rmbot.engine, "before_cursor_execute", capture)
    assert [r.key for r in claimed] == ["t:C1:2", "t:C2:2"]
    assert all(r.status == "sending" and r.claimed_by and r.claimed_by.startswith("w:") for r in claimed)
    head_claim = next(s for s in statements if "min(outbox.id)" in s[0])
    with rmbot.engine.connect() as conn:
        plan = [str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + head_claim[0], head_claim[1])]
    assert not [step for step in plan if step.startswith("SCAN outbox") and "INDEX" not in step], plan
    assert "('pending', 'claimed', 'sending', 'verifying')" in head_claim[0]  # matches the partial index


def test_run_once_settles_what_it_claimed(rmbot: Harness) -> None:
    enqueue(rmbot, {"C1": 2, "C2": 1})
    worker = DeliveryWorker(rmbot.engine, {"file": Platform()}, now=lambda: NOW)
    first = worker.run_once()
    assert (first.claimed, first.sent) == (2, 2)
    assert [r.status for r in rows(rmbot)] == ["sent", "sent", "pending"]
    assert worker.run_once().sent == 1 and worker.run_once().claimed == 0


def claimed(row_id: int, target: str) -> Claimed:
    return Claimed(row_id, f"k{row_id}", "churn", "SB01", "file", target, "{}", None, "sending", 0, "w", NOW)


def test_the_send_queue_hands_out_due_rows_longest_first_and_none_while_paused() -> None:
    q = SendQueue(AnswerTimes())
    q.answered.record(("file", "busy"), time.monotonic())
    q.put([(claimed(1, "busy"), 0.3, 9), (claimed(2, "short"), 0.3, 1), (claimed(3, "long"), 0.3, 5)])
    assert [q.take().target, q.take().target] == ["long", "short"]  # type: ignore[union-attr]
    taken: list[tuple[str, float]] = []
    start = time.monotonic()
    with q.paused():
        taker = threading.Thread(target=lambda: taken.append((q.take().target, time.monotonic())))  # type: ignore[union-attr]
        taker.start()
        time.sleep(0.4)  # "busy" is due by now, but nothing leaves while paused
        assert taken == []
    taker.join(timeout=2)
    assert taken and taken[0][0] == "busy" and taken[0][1] - start >= 0.4
    closer = threading.Thread(target=lambda: taken.append((str(q.take()), 0.0)))
    closer.start()
    q.close()
    closer.join(timeout=2)
    assert taken[-1][0] == "None" and len(q) == 0


def test_two_drains_of_one_worker_at_once_share_its_pacing(rmbot: Harness) -> None:
    """The scheduler's retry tick may drain while the 08:30 job drains the same worker."""
    enqueue(rmbot, {"C1": 4, "C2": 3, "C3": 2})
    platform = Platform(jitter=0.02)
    platform.min_interval = 0.2
    worker = DeliveryWorker(rmbot.engine, {"file": platform}, now=lambda: NOW)
    drains = [threading.Thread(target=worker.drain) for _ in range(2)]
    for t in drains:
        t.start()
    for t in drains:
        t.join(timeout=30)
    keys = [key for _, key, _ in platform.arrivals]
    assert sorted(keys) == sorted(r.key for r in rows(rmbot)) and len(keys) == len(set(keys)) == 9
    for channel in ("C1", "C2", "C3"):
        mine = [(key, t) for target, key, t in platform.arrivals if target == channel]
        assert [k for k, _ in mine] == sorted(k for k, _ in mine)
        assert all(b - a >= platform.min_interval for (_, a), (_, b) in zip(mine, mine[1:])), mine
    assert {r.status for r in rows(rmbot)} == {"sent"}
