"""The weekly 经营周报 push: last week's /summary of every org with a manager, through the same
outbox as the daily lists, on the first working day of the week only, at 09:00."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.calendar_data import load_calendar
from bot.clock import SHANGHAI
from bot.core.reply import Reply
from bot.push.delivery import DeliveryWorker
from bot.push.kinds import KIND_ZH, KINDS, WEEKLY
from bot.push.scheduler import build_scheduler
from bot.push.senders import FileSender
from bot.push.service import PushService
from bot.store.models import Outbox
from rules.calendar import first_working_day_of_week
from rules.policy import default_policy
from tests.summary.bank import add_destinations

MONDAY = date(2026, 11, 23)


def at(day: date, hh: int = 9) -> datetime:
    return datetime.combine(day, time(hh, 0), SHANGHAI)


def service(engine: Engine) -> PushService:
    return PushService(engine, default_policy(), load_calendar())


def rows(engine: Engine) -> list[Outbox]:
    with Session(engine) as s:
        return list(s.execute(select(Outbox).where(Outbox.kind == "summary").order_by(Outbox.key)).scalars())


def test_summary_is_a_weekly_kind() -> None:
    assert "summary" in KINDS and "summary" in WEEKLY and KIND_ZH["summary"] == "经营周报"


def test_enqueued_on_the_first_working_day_only(bank: Engine, tmp_path: Path) -> None:
    add_destinations(bank, str(tmp_path))
    svc = service(bank)
    for day in (MONDAY + timedelta(days=1), MONDAY - timedelta(days=1), MONDAY + timedelta(days=5)):
        result = svc.build("summary", day, now=at(day))
        assert result.skipped and "不是本周第一个工作日" in result.skipped
    assert rows(bank) == []
    result = svc.build("summary", MONDAY, now=at(MONDAY))
    assert result.skipped is None
    by_org = {b.branch_id: b for b in result.branches}
    assert by_org["SB01"].enqueued == by_org["SB02"].enqueued == 1
    assert by_org["BR01"].enqueued == 0 and "未配置推送目的地" in by_org["BR01"].note  # regional: no destination yet
    assert [r.key for r in rows(bank)] == ["summary:SB01:2026-11-23:file:1", "summary:SB02:2026-11-23:file:1"]
    # a rerun the same day enqueues nothing new
    again = svc.build("summary", MONDAY, now=at(MONDAY, 10))
    assert sum(b.enqueued for b in again.branches) == 0 and len(rows(bank)) == 2


def test_a_holiday_monday_moves_it_to_the_first_working_day() -> None:
    cal = load_calendar()
    from bot.push.service import due_today

    week = [date(2026, 10, 5) + timedelta(days=i) for i in range(7)]  # National Day week
    first = first_working_day_of_week(cal, week[0])
    assert first == date(2026, 10, 8)
    assert [d for d in week if due_today("summary", d, cal)[0]] == [first]


def test_the_message_is_last_weeks_summary_with_charts(bank: Engine, tmp_path: Path) -> None:
    add_destinations(bank, str(tmp_path))
    service(bank).build("summary", MONDAY, now=at(MONDAY))
    sb02 = Reply.model_validate_json(rows(bank)[1].payload)
    assert sb02.title == "【经营周报】滨江支行 · 11-16 至 11-22"
    assert sb02.masked  # aggregate figures only: fit for the branch's group chat
    values = {f.label: f.value for f in sb02.fields}
    assert values["期间"] == "上周（2026-11-16 至 11-22），数据日期 2026-11-20"
    # one customer's holding: a band in the group, as /tier shows it (masking.group_min_customers)
    assert values["到期承接"].startswith("1 笔 100–300万（到期日 2026-11-16 至 2026-11-22）；承接率 0.0%")
    assert [s.mention for s in sb02.sections] == ["BM02"]  # its manager is @-mentioned
    assert len(sb02.images) == 3 and all(i.data.startswith(b"\x89PNG") for i in sb02.images)
    assert "推送日 2026-11-23 · 数据日期 2026-11-20" in sb02.notes


def test_delivered_through_the_outbox_to_files(bank: Engine, tmp_path: Path) -> None:
    add_destinations(bank, str(tmp_path))
    service(bank).build("summary", MONDAY, now=at(MONDAY))
    stats = DeliveryWorker(bank, {"file": FileSender()}, now=lambda: at(MONDAY)).drain()
    assert (stats.sent, stats.dead) == (2, 0)
    text = (tmp_path / "SB01" / "summary_SB01_2026-11-23_file_1.txt").read_text(encoding="utf-8")
    assert "【经营周报】西湖支行" in text and "金融资产" in text
    saved = json.loads((tmp_path / "SB01" / "summary_SB01_2026-11-23_file_1.json").read_text(encoding="utf-8"))
    assert len(saved["reply"]["images"]) == 3
    assert {r.status for r in rows(bank)} == {"sent"}


def test_branch_filter(bank: Engine, tmp_path: Path) -> None:
    add_destinations(bank, str(tmp_path))
    result = service(bank).build("summary", MONDAY, branch_ids=["SB02"], now=at(MONDAY))
    assert [b.branch_id for b in result.branches if b.enqueued] == ["SB02"]


def test_scheduled_at_nine_by_default(bank: Engine) -> None:
    svc = service(bank)
    worker = DeliveryWorker(bank, {"file": FileSender()})
    sched = build_scheduler(svc, worker, {"maturing": "08:30"})
    job = {j.id: j for j in sched.get_jobs()}["push-summary"]
    fire = job.trigger.get_next_fire_time(None, datetime(2026, 11, 23, 0, 0, tzinfo=SHANGHAI))
    assert (fire.hour, fire.minute) == (9, 0)
    custom = build_scheduler(svc, worker, {"summary": "10:15"})
    job = {j.id: j for j in custom.get_jobs()}["push-summary"]
    fire = job.trigger.get_next_fire_time(None, datetime(2026, 11, 23, 0, 0, tzinfo=SHANGHAI))
    assert (fire.hour, fire.minute) == (10, 15)
