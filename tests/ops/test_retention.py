"""Outbox retention (issue 14 item 8): `rmbot push purge` deletes delivered rows past the
retention, drops the charts of delivered rows, never touches unsent or dead rows, and a day past
the retention is never built again (its keys are gone: exactly-once is kept by the build)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine

from bot.calendar_data import load_calendar
from bot.clock import SHANGHAI
from bot.core.reply import Image, Item, Reply
from bot.push.delivery import DeliveryWorker
from bot.push.senders import FileSender
from bot.push.service import PushService
from bot.store import outbox
from bot.store.models import Outbox
from bot.store.retention import purge
from bot.testing import Harness, add_file_destinations
from rules.policy import default_policy

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)
PNG = os.urandom(180_000)  # a weekly report's chart is 160–220 KB


@pytest.fixture(params=["sqlite", "postgresql"])
def bank(request: pytest.FixtureRequest) -> Harness:
    return request.getfixturevalue("rmbot" if request.param == "sqlite" else "rmbot_pg")


def _reply(n: int, image: bool) -> str:
    reply = Reply(title=f"周报 {n}", items=[Item(text=f"C000000{n} 待跟进", ref=f"churn:C000000{n}:warning")],
                  images=[Image.from_png("资产走势", "aum.png", PNG)] if image else [])
    return reply.model_dump_json(exclude_defaults=True)


def _rows(engine: Engine) -> dict[str, tuple[str, int]]:
    with engine.connect() as conn:
        return {k: (s, int(n)) for k, s, n in conn.execute(
            select(Outbox.key, Outbox.status, func.length(Outbox.payload)))}


def _enqueue(engine: Engine, key: str, image: bool, status: str, sent_days_ago: int | None) -> None:
    outbox.enqueue(engine, [outbox.NewMessage(key, "summary", "SB01", NOW.date(), "file", "/tmp/x",
                                              _reply(len(key) % 10, image))], NOW)
    values: dict[str, object] = {"status": status}
    if sent_days_ago is not None:
        values["sent_at"] = NOW - timedelta(days=sent_days_ago)
    with engine.begin() as conn:
        conn.execute(update(Outbox).where(Outbox.key == key).values(**values))


def test_purge_deletes_old_sent_slims_sent_keeps_the_rest(bank: Harness) -> None:
    engine = bank.engine
    for n in range(5):
        _enqueue(engine, f"old:{n}", image=True, status="sent", sent_days_ago=91 + n)
    _enqueue(engine, "recent", image=True, status="sent", sent_days_ago=1)
    _enqueue(engine, "recent-text", image=False, status="sent", sent_days_ago=1)
    _enqueue(engine, "pending", image=True, status="pending", sent_days_ago=None)
    _enqueue(engine, "dead", image=True, status="dead", sent_days_ago=None)
    _enqueue(engine, "old-dead", image=False, status="dead", sent_days_ago=200)
    before = _rows(engine)

    result = purge(engine, NOW, retention_days=90, batch=2)  # batches of 2: several statements

    after = _rows(engine)
    assert result.deleted == 5 and not any(k.startswith("old:") for k in after)
    assert set(after) == {"recent", "recent-text", "pending", "dead", "old-dead"}
    assert result.slimmed == 1 and after["recent"][1] < 2_000 < before["recent"][1]
    assert after["recent-text"] == before["recent-text"]
    assert after["pending"] == before["pending"] and after["dead"] == before["dead"]  # unsent: untouched
    with engine.connect() as conn:
        slim = Reply.model_validate_json(conn.execute(select(Outbox.payload).where(Outbox.key == "recent")).scalar_one())
    assert slim.images == [] and slim.title == "周报 6" and any("图表" in n for n in slim.notes)
    assert slim.items[0].ref == "churn:C0000006:warning"  # the churn history reads refs back
    assert result.bytes_freed > 200_000

    again = purge(engine, NOW, retention_days=90)
    assert (again.deleted, again.slimmed) == (0, 0) and _rows(engine) == after


def test_a_day_past_the_retention_is_never_built_again(bank: Harness, tmp_path: Path) -> None:
    """Deliver a day, purge it away 91 days later, rebuild it: nothing is enqueued or sent twice."""
    engine = bank.engine
    add_file_destinations(engine, tmp_path / "out")
    service = PushService(engine, default_policy(), load_calendar(), retention_days=90)
    day = NOW.date()
    built = service.build("churn", day, now=NOW)
    assert built.skipped is None and sum(b.enqueued for b in built.branches) > 0
    stats = DeliveryWorker(engine, {"file": FileSender()}, now=lambda: NOW).drain()
    assert stats.sent > 0
    later = NOW + timedelta(days=91)
    assert purge(engine, later, 90).deleted == stats.sent
    again = service.build("churn", day, now=later, force=True)
    assert again.skipped is not None and "保留期" in again.skipped
    assert _rows(engine) == {}
    # within the retention the day is still protected by its keys
    inside = service.build("churn", day, now=NOW + timedelta(days=89), force=True)
    assert inside.skipped is None


def test_push_purge_command(rmbot: Harness, tmp_path: Path) -> None:
    url = str(rmbot.engine.url)
    _enqueue(rmbot.engine, "old", image=True, status="sent", sent_days_ago=40)
    _enqueue(rmbot.engine, "new", image=True, status="sent", sent_days_ago=2)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WECOM_", "RMBOT_"))}
    env.update({"DATABASE_URL": url, "PYTHONPATH": str(ROOT), "RMBOT_OUTBOX_RETENTION_DAYS": "30"})
    done = subprocess.run([sys.executable, "-m", "bot.cli", "push", "purge"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "已删除 deleted 1" in done.stdout and "slimmed 1" in done.stdout
    assert set(_rows(rmbot.engine)) == {"new"}


def test_the_scheduler_purges_daily(rmbot: Harness) -> None:
    from bot.push.scheduler import PURGE_AT, build_scheduler, purge_job

    service = PushService(rmbot.engine, default_policy(), load_calendar(), retention_days=30)
    sched = build_scheduler(service, DeliveryWorker(rmbot.engine, {"file": FileSender()}), {})
    job = sched.get_job("push-purge")
    assert job is not None and PURGE_AT == (3, 15)
    fields = {f.name: str(f) for f in job.trigger.fields}
    assert (fields["hour"], fields["minute"]) == ("3", "15")
    _enqueue(rmbot.engine, "old", image=False, status="sent", sent_days_ago=400)
    purge_job(service)  # the job itself, as APScheduler runs it (real clock: 400 days back is past 30)
    assert "old" not in _rows(rmbot.engine)
