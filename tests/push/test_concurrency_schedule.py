"""Two delivery workers on one PostgreSQL database; the scheduler's jobs and working days."""

import logging
import threading
import time as clock_time
from datetime import date, datetime, time
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select
from sqlmodel import Session

from bot.clock import SHANGHAI
from bot.push.delivery import DeliveryWorker
from bot.push.scheduler import build_scheduler, parse_hhmm, run_kind
from bot.push.senders import FileSender
from bot.push.service import PushService
from bot.store.models import Outbox
from bot.testing import Harness, add_file_destinations, postgres_schema_engine
from rules.calendar import HolidayCalendar
from rules.policy import default_policy

MONDAY = date(2026, 11, 23)
NOW = datetime.combine(MONDAY, time(8, 30), SHANGHAI)


class RecordingPlatform:
    """Stands in for a chat platform: records every message it accepts, slowly."""

    platform = "file"

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted: list[str] = []

    def send(self, target: str, reply: object, key: str) -> str:
        clock_time.sleep(0.005)
        with self.lock:
            self.accepted.append(key)
            return str(len(self.accepted))

    def find_sent(self, target: str, key: str, since: datetime) -> str | None:
        with self.lock:
            return key if key in self.accepted else None


def test_two_workers_on_postgres_never_send_a_row_twice(rmbot_pg: Harness, pg_schema: str, tmp_path: Path,
                                                        calendar: HolidayCalendar) -> None:
    add_file_destinations(rmbot_pg.engine, tmp_path)
    service = PushService(rmbot_pg.engine, default_policy(), calendar)
    for kind in ("maturing", "churn", "downgrade"):
        service.build(kind, MONDAY, now=NOW)
    platform = RecordingPlatform()
    engines = [rmbot_pg.engine, postgres_schema_engine(pg_schema)]  # two bots, two connection pools
    workers = [DeliveryWorker(e, {"file": platform}, worker_id=f"bot-{i}", batch=2, now=lambda: NOW)
               for i, e in enumerate(engines)]
    threads = [threading.Thread(target=w.drain) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    with Session(rmbot_pg.engine) as s:
        keys = [r.key for r in s.execute(select(Outbox)).scalars()]
        assert {r.status for r in s.execute(select(Outbox)).scalars()} == {"sent"}
    assert sorted(platform.accepted) == sorted(keys) and len(keys) >= 10


def test_two_builders_enqueue_each_message_once(rmbot_pg: Harness, tmp_path: Path, calendar: HolidayCalendar) -> None:
    add_file_destinations(rmbot_pg.engine, tmp_path)
    services = [PushService(rmbot_pg.engine, default_policy(), calendar) for _ in range(2)]
    threads = [threading.Thread(target=s.build, args=("churn", MONDAY), kwargs={"now": NOW}) for s in services]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    with Session(rmbot_pg.engine) as s:
        keys = [r.key for r in s.execute(select(Outbox)).scalars()]
    assert keys and len(keys) == len(set(keys))


def test_cron_jobs_fire_at_0830_shanghai(rmbot: Harness, calendar: HolidayCalendar) -> None:
    service = PushService(rmbot.engine, default_policy(), calendar)
    sched = build_scheduler(service, DeliveryWorker(rmbot.engine, {"file": FileSender()}), {"churn": "07:45"})
    jobs = {j.id: j for j in sched.get_jobs()}
    assert {"push-maturing", "push-churn", "push-downgrade", "push-deliver"} <= set(jobs)
    trigger = jobs["push-maturing"].trigger
    assert isinstance(trigger, CronTrigger)
    fire = trigger.get_next_fire_time(None, datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI))
    assert fire == datetime(2026, 11, 24, 8, 30, tzinfo=SHANGHAI)
    early = jobs["push-churn"].trigger.get_next_fire_time(None, datetime(2026, 11, 23, 0, 0, tzinfo=SHANGHAI))
    assert (early.hour, early.minute) == (7, 45)


def test_cron_job_does_nothing_on_a_holiday_and_delivers_on_a_workday(rmbot: Harness, tmp_path: Path,
                                                                     calendar: HolidayCalendar) -> None:
    add_file_destinations(rmbot.engine, tmp_path)
    service = PushService(rmbot.engine, default_policy(), calendar)
    worker = DeliveryWorker(rmbot.engine, {"file": FileSender()}, now=lambda: NOW)
    run_kind(service, worker, "churn", date(2026, 10, 1))
    with Session(rmbot.engine) as s:
        assert s.execute(select(Outbox)).first() is None
    run_kind(service, worker, "churn", date(2026, 10, 10))
    with Session(rmbot.engine) as s:
        statuses = {r.status for r in s.execute(select(Outbox)).scalars()}
    assert statuses == {"sent"}
    assert any(tmp_path.glob("*/churn_*_2026-10-10_*.txt"))


def test_a_failing_job_does_not_raise(rmbot: Harness, calendar: HolidayCalendar,
                                      caplog: pytest.LogCaptureFixture) -> None:
    """A cron job that fails is logged with its traceback and the rerun command, and nothing
    escapes (an exception would stop APScheduler's job, not the day's pushes)."""
    service = PushService(rmbot.engine, default_policy(), calendar)
    with caplog.at_level(logging.ERROR, logger="rmbot.push"):
        assert run_kind(service, DeliveryWorker(rmbot.engine, {}), "no-such-kind", MONDAY) is None
    failures = [r for r in caplog.records if r.name == "rmbot.push" and r.levelno == logging.ERROR]
    assert len(failures) == 1
    assert failures[0].exc_info is not None and failures[0].exc_info[0] is not None  # the traceback is logged
    assert "push no-such-kind 2026-11-23 failed" in failures[0].getMessage()
    assert "rmbot push run --date 2026-11-23 --kind no-such-kind" in failures[0].getMessage()
    with Session(rmbot.engine) as s:
        assert not list(s.execute(select(Outbox)).scalars())  # nothing half-built


def test_push_time_validation() -> None:
    assert parse_hhmm("08:30") == (8, 30)
    for bad in ("8.30", "25:00", "x"):
        try:
            parse_hhmm(bad)
        except ValueError:
            continue
        raise AssertionError(bad)


def test_year_without_data_falls_back_to_weekdays(rmbot: Harness, calendar: HolidayCalendar) -> None:
    service = PushService(rmbot.engine, default_policy(), calendar)
    assert service.build("churn", date(2030, 1, 5), dry_run=True).skipped is not None  # a Saturday
    assert service.build("churn", date(2030, 1, 7), dry_run=True).skipped is None  # a Monday
