"""A restart across the push time: the day is built at start, once, even with two schedulers;
`rmbot push status` names days that were due and not built."""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from datetime import date, datetime, time as dtime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from bot.calendar_data import load_calendar
from bot.clock import SHANGHAI
from bot.push.catchup import catch_up
from bot.push.delivery import DeliveryWorker
from bot.push.scheduler import build_scheduler, shutdown
from bot.push.senders import FileSender
from bot.push.service import PushService
from bot.store.models import Outbox, PushBuild
from bot.testing import Harness, add_file_destinations, postgres_schema_engine
from rules.calendar import is_working_day
from rules.policy import default_policy
from tests.ops.conftest import RMBOT, environment

MONDAY = date(2026, 11, 23)
TIMES = {"maturing": "08:30", "churn": "08:30", "downgrade": "08:30", "summary": "09:00"}


def at(hh: int, mm: int) -> datetime:
    return datetime.combine(MONDAY, dtime(hh, mm), SHANGHAI)


def _builds(engine) -> list[tuple[str, date]]:  # noqa: ANN001
    with Session(engine) as s:
        return sorted((b.kind, b.push_date) for b in s.execute(select(PushBuild)).scalars())


def _outbox_rows(engine) -> int:  # noqa: ANN001
    with Session(engine) as s:
        return s.execute(select(func.count()).select_from(Outbox)).scalar_one()


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_a_scheduler_started_after_the_push_time_builds_the_day_once(
        db: str, request: pytest.FixtureRequest, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    h: Harness = request.getfixturevalue("rmbot" if db == "sqlite" else "rmbot_pg")
    add_file_destinations(h.engine, tmp_path / "out")
    service = PushService(h.engine, default_policy(), load_calendar())
    assert catch_up(service, TIMES, at(8, 25)) == [] and _outbox_rows(h.engine) == 0  # before 08:30: cron's job

    caplog.set_level(logging.INFO, logger="rmbot.push")
    clock = lambda: at(8, 35)  # noqa: E731  (restarted at 08:35)
    worker = DeliveryWorker(h.engine, {"file": FileSender()}, now=clock)
    sched = build_scheduler(service, worker, TIMES)
    sched.start()
    try:
        deadline = time.monotonic() + 60
        while len(_builds(h.engine)) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        shutdown(sched, worker, timeout=30)
    assert _builds(h.engine) == [("churn", MONDAY), ("downgrade", MONDAY), ("maturing", MONDAY)]
    assert "passed before this scheduler started" in caplog.text and "catch-up" in caplog.text
    rows = _outbox_rows(h.engine)
    assert rows > 0
    assert catch_up(service, TIMES, at(8, 40)) == [] and _outbox_rows(h.engine) == rows  # a second restart: nothing
    assert catch_up(service, TIMES, at(9, 1)) == [("summary", MONDAY)]  # 经营周报 at 09:00 on the week's first day


def test_two_schedulers_on_postgres_build_once(rmbot_pg: Harness, pg_schema: str, tmp_path: Path) -> None:
    add_file_destinations(rmbot_pg.engine, tmp_path / "out")
    engines = [postgres_schema_engine(pg_schema) for _ in range(2)]
    services = [PushService(e, default_policy(), load_calendar()) for e in engines]
    gate = threading.Barrier(2)
    built: list[list[tuple[str, date]]] = [[], []]

    def replica(n: int) -> None:
        gate.wait()
        built[n] = catch_up(services[n], TIMES, at(8, 35))

    threads = [threading.Thread(target=replica, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for e in engines:
        e.dispose()
    every = sorted(built[0] + built[1])
    assert every == [("churn", MONDAY), ("downgrade", MONDAY), ("maturing", MONDAY)], built
    assert _builds(rmbot_pg.engine) == every


def test_push_status_names_days_due_and_not_built(rmbot: Harness, tmp_path: Path) -> None:
    cal = load_calendar()
    today = datetime.now(SHANGHAI).date()
    day = next(today - timedelta(days=n) for n in range(1, 8) if is_working_day(cal, today - timedelta(days=n)).working)
    url = rmbot.engine.url.render_as_string(hide_password=False)

    def rmbot_cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(RMBOT + list(args), cwd=tmp_path, env=environment(url), capture_output=True, text=True,
                              timeout=120)

    before = rmbot_cli("push", "status")
    assert before.returncode == 0, before.stderr
    assert f"due, not built: {day} 到期" in before.stdout and f"--date {day} --kind maturing" in before.stdout
    assert rmbot_cli("push", "run", "--date", str(day), "--kind", "maturing").returncode == 0
    after = rmbot_cli("push", "status")
    assert f"{day} 到期" not in after.stdout and f"--date {day} --kind churn" in after.stdout, after.stdout
