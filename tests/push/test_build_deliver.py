"""Building pushes into the outbox and delivering them: content, idempotency, exactly-once."""

import json
import re
from datetime import date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlmodel import Session

from bot.clock import SHANGHAI
from bot.core.reply import Reply
from bot.push.delivery import DeliveryWorker
from bot.push.messages import ITEMS_PER_PART
from bot.push.senders import FileSender, TransientSendError
from bot.push.service import PushService
from bot.store import outbox
from bot.store.models import Contact, Outbox
from bot.testing import Harness

MONDAY = date(2026, 11, 23)


def at(day: date, hh: int = 8, mm: int = 30) -> datetime:
    return datetime.combine(day, time(hh, mm), SHANGHAI)


def rows(h: Harness) -> list[Outbox]:
    with Session(h.engine) as s:
        return list(s.execute(select(Outbox).order_by(Outbox.id)).scalars())


def test_churn_push_per_branch_per_rm_masked(pushes: tuple[Harness, PushService, Path]) -> None:
    h, service, folder = pushes
    result = service.build("churn", MONDAY, now=at(MONDAY))
    assert result.skipped is None
    sb01 = next(b for b in result.branches if b.branch_id == "SB01")
    assert sb01.items > 0 and sb01.enqueued == sb01.parts
    stats = DeliveryWorker(h.engine, {"file": FileSender()}, now=lambda: at(MONDAY)).drain()
    assert stats.sent == sum(b.enqueued for b in result.branches) and stats.dead == 0
    first = json.loads((folder / "SB01" / "churn_SB01_2026-11-23_file_1.json").read_text())["reply"]
    assert first["title"].startswith("【流失预警】西湖支行 · 2026-11-23")
    assert first["masked"] is True
    sections = first["sections"]
    assert sections[0]["mention"] == "RM001"
    text = (folder / "SB01" / "churn_SB01_2026-11-23_file_1.txt").read_text()
    assert "C0000003" in text and "预警" in text and "流向他行" in text and "数据日期 2026-11-20" in text
    full_name = h.ask("RM001", "/tier C0000003").reply.title.split("·")[1].split("（")[0].strip()
    assert full_name not in text and full_name[0] + "*" in text
    assert all(len(item["buttons"]) == 3 for s in sections for item in s["items"])


def _band_floor(text: str) -> float:
    """The lower bound of the AUM band an item shows (`10–20万`, `5万以下`, `600万以上`)."""
    m = re.search(r" (?:([0-9.]+)–[0-9.]+万|([0-9.]+)万以下|([0-9.]+)万以上) ·", text)
    assert m, text
    return 0.0 if m.group(2) else float(m.group(1) or m.group(3))


def test_maturing_push_amounts_banded_largest_first(pushes: tuple[Harness, PushService, Path]) -> None:
    h, service, folder = pushes
    service.build("maturing", MONDAY, now=at(MONDAY))
    DeliveryWorker(h.engine, {"file": FileSender()}, now=lambda: at(MONDAY)).drain()
    for path in sorted(folder.glob("*/maturing_*_1.json")):
        reply = json.loads(path.read_text())["reply"]
        assert "到期" in reply["summary"] and "万" in reply["summary"]
        for section in reply["sections"]:
            # a group sees one customer's amount as a band (as /tier does), never the figure
            amounts = [_band_floor(i["text"]) for i in section["items"]]
            assert amounts == sorted(amounts, reverse=True)


def test_rerun_of_a_delivered_day_sends_nothing_new(pushes: tuple[Harness, PushService, Path]) -> None:
    h, service, folder = pushes
    worker = DeliveryWorker(h.engine, {"file": FileSender()}, now=lambda: at(MONDAY))
    service.build("maturing", MONDAY, now=at(MONDAY))
    first = worker.drain().sent
    again = service.build("maturing", MONDAY, now=at(MONDAY, 10))
    assert sum(b.enqueued for b in again.branches) == 0
    assert worker.drain().sent == 0 and first > 0
    assert len(rows(h)) == first


def test_no_push_on_holiday_push_on_adjusted_saturday(pushes: tuple[Harness, PushService, Path]) -> None:
    _h, service, _ = pushes
    assert service.build("churn", date(2026, 10, 1)).skipped is not None
    assert service.build("churn", date(2026, 11, 22)).skipped is not None  # an ordinary Sunday
    assert service.build("churn", date(2026, 10, 10)).skipped is None
    assert service.build("downgrade", MONDAY).skipped is None  # first working day of the week
    assert service.build("downgrade", MONDAY + timedelta(days=1)).skipped is not None


def test_handled_items_are_not_pushed_again_unless_the_state_changes(pushes: tuple[Harness, PushService, Path]) -> None:
    h, service, _ = pushes
    first = service.build("churn", MONDAY, dry_run=True)
    refs = {i.ref for p in first.previews for part in p.parts for s in part.sections for i in s.items}
    assert "churn:C0000003:warning" in refs and "churn:C0000004:watch" in refs
    h.click("RM001", "followup", "contacted|C0000003|churn:C0000003:warning")
    # a follow-up recorded for the watch level does not silence a later warning
    h.click("RM001", "followup", "contacted|C0000004|churn:C0000004:warning")
    later = service.build("churn", MONDAY + timedelta(days=1), dry_run=True)
    refs = {i.ref for p in later.previews for part in p.parts for s in part.sections for i in s.items}
    assert "churn:C0000003:warning" not in refs and "churn:C0000004:watch" in refs


def test_long_lists_split_into_parts_without_losing_items(pushes: tuple[Harness, PushService, Path]) -> None:
    _h, service, _ = pushes
    result = service.build("maturing", MONDAY, dry_run=True)
    for push in result.previews:
        items = [i.ref for part in push.parts for s in part.sections for i in s.items]
        assert len(items) == push.items == len(set(items))
        assert all(sum(len(s.items) for s in part.sections) <= ITEMS_PER_PART for part in push.parts)
        if len(push.parts) > 1:
            assert push.parts[0].title.endswith(f"（1/{len(push.parts)}）")


def test_killed_between_send_and_mark_is_delivered_exactly_once(pushes: tuple[Harness, PushService, Path]) -> None:
    """The database state a SIGKILL leaves after the platform accepted the message."""
    h, service, folder = pushes
    service.build("downgrade", MONDAY, now=at(MONDAY))
    sender = FileSender()
    victim = outbox.claim(h.engine, "dead-worker", at(MONDAY), timedelta(minutes=5), 1)[0]
    assert outbox.start_sending(h.engine, victim, at(MONDAY), timedelta(minutes=5))
    sender.send(victim.target, Reply.model_validate_json(victim.payload), victim.key)
    sent_file = Path(victim.target) / f"{victim.key.replace(':', '_')}.txt"
    stamp = sent_file.stat().st_mtime_ns
    # the process dies here; a new one starts before the lease is over: it must not touch the row
    early = DeliveryWorker(h.engine, {"file": sender}, now=lambda: at(MONDAY, 8, 31)).drain()
    assert all(r.status != "sent" for r in rows(h) if r.id == victim.id)
    late = DeliveryWorker(h.engine, {"file": sender}, now=lambda: at(MONDAY, 9, 0)).drain()
    assert late.verified == 1 and early.sent + late.sent == len(rows(h)) - 1
    assert sent_file.stat().st_mtime_ns == stamp  # not written a second time
    assert all(r.status == "sent" for r in rows(h))


class FlakyPlatform:
    """The outside world: fails the first call for each key, then accepts."""

    platform = "file"

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.accepted: list[str] = []

    def send(self, target: str, reply: object, key: str) -> str:
        self.calls.append(key)
        if self.calls.count(key) == 1:
            raise TransientSendError("429 rate limited")
        self.accepted.append(key)
        return f"ts-{len(self.accepted)}"

    def find_sent(self, target: str, key: str, since: datetime) -> str | None:
        return None


def test_transient_failures_retry_with_backoff(pushes: tuple[Harness, PushService, Path]) -> None:
    h, service, _ = pushes
    service.build("downgrade", MONDAY, now=at(MONDAY))
    platform = FlakyPlatform()
    clock = [at(MONDAY)]
    worker = DeliveryWorker(h.engine, {"file": platform}, now=lambda: clock[0])
    first = worker.drain()
    assert first.sent == 0 and first.retried == len(rows(h))
    assert worker.drain().sent == 0  # backoff not over yet
    clock[0] = at(MONDAY, 8, 32)
    assert worker.drain().sent == len(rows(h))
    assert sorted(platform.accepted) == sorted(r.key for r in rows(h))
    assert all(r.status == "sent" and r.attempts == 1 and r.message_id for r in rows(h))


def test_repeated_failures_end_dead_and_visible(pushes: tuple[Harness, PushService, Path]) -> None:
    h, service, _ = pushes
    service.build("downgrade", MONDAY, branch_ids=["SB01"], now=at(MONDAY))

    class Down(FlakyPlatform):
        def send(self, target: str, reply: object, key: str) -> str:
            raise TransientSendError("503 service unavailable")

    clock = [at(MONDAY)]
    worker = DeliveryWorker(h.engine, {"file": Down()}, now=lambda: clock[0], max_attempts=3)
    for _ in range(5):
        worker.drain()
        clock[0] += timedelta(hours=1)
    assert [(r.status, r.attempts) for r in rows(h)] == [("dead", 3)]
    assert "503" in (rows(h)[0].last_error or "")


def test_follow_up_click_lands_in_the_log(pushes: tuple[Harness, PushService, Path]) -> None:
    h, service, _ = pushes
    result = service.build("maturing", MONDAY, dry_run=True)
    item = next(i for p in result.previews for part in p.parts for s in part.sections for i in s.items
                if s.mention == "RM001")
    retained = next(b for b in item.buttons if b.label == "已承接")
    assert h.click("RM001", retained.action, retained.value).reply.kind == "info"
    assert h.click("RM002", retained.action, retained.value).reply.kind == "error"  # not RM002's customer
    with Session(h.engine) as s:
        log = s.execute(select(Contact).where(Contact.ref == item.ref)).scalars().all()
    assert [(c.staff_id, c.outcome) for c in log] == [("RM001", "retained")]


def test_stale_claim_cannot_overwrite_a_reclaimed_row(pushes: tuple[Harness, PushService, Path]) -> None:
    h, service, _ = pushes
    service.build("downgrade", MONDAY, branch_ids=["SB01"], now=at(MONDAY))
    slow = outbox.claim(h.engine, "slow", at(MONDAY), timedelta(minutes=1), 5)[0]
    fast = outbox.claim(h.engine, "fast", at(MONDAY, 8, 40), timedelta(minutes=1), 5)[0]
    assert slow.id == fast.id and slow.claimed_by != fast.claimed_by
    assert not outbox.start_sending(h.engine, slow, at(MONDAY, 8, 41), timedelta(minutes=1))
    assert outbox.start_sending(h.engine, fast, at(MONDAY, 8, 41), timedelta(minutes=1))
    with h.engine.begin() as conn:
        conn.execute(update(Outbox).values(status="sent"))


class TimedPlatform:
    """Records when each message arrives, per channel; one message per channel per `min_interval`."""

    platform = "file"
    min_interval = 0.2

    def __init__(self) -> None:
        import threading

        self.lock = threading.Lock()
        self.arrivals: list[tuple[str, str, float]] = []

    def send(self, target: str, reply: object, key: str) -> str:
        import time

        with self.lock:
            self.arrivals.append((target, key, time.monotonic()))
        return key

    def find_sent(self, target: str, key: str, since: datetime) -> str | None:
        return None


def test_each_channel_in_order_and_paced_channels_in_parallel(pushes: tuple[Harness, PushService, Path]) -> None:
    h, service, _ = pushes
    for kind in ("maturing", "churn", "downgrade"):
        service.build(kind, MONDAY, now=at(MONDAY))
    platform = TimedPlatform()
    stats = DeliveryWorker(h.engine, {"file": platform}, now=lambda: at(MONDAY)).drain()
    assert stats.sent == len(rows(h)) and not stats.errors
    by_channel: dict[str, list[tuple[str, float]]] = {}
    for target, key, t in platform.arrivals:
        by_channel.setdefault(target, []).append((key, t))
    ids = {r.key: r.id for r in rows(h)}
    for target, arrivals in by_channel.items():
        assert [ids[k] for k, _ in arrivals] == sorted(ids[k] for k, _ in arrivals), target  # in order
        gaps = [b - a for (_, a), (_, b) in zip(arrivals, arrivals[1:])]
        assert all(g >= platform.min_interval * 0.95 for g in gaps), (target, gaps)
    # channels fill in parallel: total time ≈ longest channel, not the sum of all channels
    longest = max(len(a) for a in by_channel.values())
    span = max(t for *_, t in platform.arrivals) - min(t for *_, t in platform.arrivals)
    assert span < (longest + 2) * platform.min_interval
