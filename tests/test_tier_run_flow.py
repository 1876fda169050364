"""The tier run inside the nightly flow: the push build runs it, the push and /summary show its history."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, time
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import Session, select

from bot.calendar_data import load_calendar
from bot.clock import SHANGHAI
from bot.push.delivery import DeliveryWorker
from bot.push.senders import FileSender
from bot.push.service import PushService
from bot.store.models import Balance, Customer, Org, TierHistory
from bot.testing import DEMO_DATA_DATE, Harness, add_file_destinations
from rules.policy import default_policy

MONDAY = date(2026, 11, 23)
NOW = datetime.combine(MONDAY, time(8, 30), SHANGHAI)


@pytest.fixture(params=["sqlite", "pg"])
def harness(request: pytest.FixtureRequest) -> Harness:
    return request.getfixturevalue("rmbot" if request.param == "sqlite" else "rmbot_pg")


def _sb01_potential(h: Harness) -> tuple[str, str]:
    """A 潜力客户 of 西湖支行 (SB01) with a balance on the data date, below 20万."""
    with Session(h.engine) as s:
        cid, name = s.execute(
            select(Customer.id, Customer.name).join(Org, Org.id == Customer.org_id)
            .join(Balance, Balance.customer_id == Customer.id)
            .where(Customer.tier == "潜力客户", Org.path.startswith("/BR01/SB01/"),
                   Balance.as_of == DEMO_DATA_DATE, Balance.aum_fen < 20_000_000)
            .order_by(Customer.id).limit(1)).one()
        s.execute(update(Balance).where(Balance.customer_id == cid, Balance.as_of == DEMO_DATA_DATE)
                  .values(aum_fen=25_000_000))  # 25万 on the data date: 快升
        s.commit()
    return cid, name


def test_push_build_runs_tiers_and_the_push_shows_the_change_masked(harness: Harness, tmp_path: Path) -> None:
    cid, name = _sb01_potential(harness)
    folder = tmp_path / "outbox"
    add_file_destinations(harness.engine, folder)
    service = PushService(harness.engine, default_policy(), load_calendar())
    service.build("churn", MONDAY, dry_run=True, now=NOW)
    with Session(harness.engine) as s:  # a preview writes nothing, tiers included
        assert s.get(Customer, cid).tier == "潜力客户"  # type: ignore[union-attr]
    result = service.build("churn", MONDAY, now=NOW)
    assert result.skipped is None
    with Session(harness.engine) as s:
        assert s.get(Customer, cid).tier == "贵宾客户"  # type: ignore[union-attr]
        h = s.get(TierHistory, (DEMO_DATA_DATE, cid))
        assert h is not None and (h.from_tier, h.to_tier, h.change, h.point_fen, h.line_fen) == (
            "潜力客户", "贵宾客户", "fast_upgrade", 25_000_000, 20_000_000)
    DeliveryWorker(harness.engine, {"file": FileSender()}, now=lambda: NOW).drain()
    texts = {p.name: p.read_text() for p in (folder / "SB01").glob("churn_SB01_*.txt")}
    change = [t for t in texts.values() if "【等级变动】" in t]
    assert len(change) == 1, sorted(texts)
    text = change[0]
    assert f"（{cid}）· ⬆ 升档 潜力客户 → 贵宾客户 · 时点余额 20–50万 ≥ 20万（快升）" in text
    assert name not in text and name[0] + "*" in text and "25.0万" not in text
    assert re.search(r"升档 \d+ 户、降档 \d+ 户", text)
    # a second build of the day: no second change, no second message
    again = service.build("churn", MONDAY, now=NOW)
    assert all(b.enqueued == 0 for b in again.branches)
    with Session(harness.engine) as s:
        assert len(s.exec(select(TierHistory).where(TierHistory.customer_id == cid)).all()) == 1
    for path in (folder / "SB01").glob("churn_SB01_*.json"):
        assert json.loads(path.read_text())["reply"]["masked"] is True


def test_summary_upgrades_and_downgrades_come_from_the_history(harness: Harness) -> None:
    before = harness.ask("BM01", "/summary 本月").text
    assert "升档 0 户、降档 0 户（所持等级" in before  # nothing run yet: the history is empty
    cid, _ = _sb01_potential(harness)
    PushService(harness.engine, default_policy(), load_calendar()).build("maturing", MONDAY, now=NOW)
    with Session(harness.engine) as s:
        rows = s.execute(select(TierHistory.change).join(Customer, Customer.id == TierHistory.customer_id)
                         .join(Org, Org.id == Customer.org_id).where(Org.path.startswith("/BR01/SB01/"))).scalars().all()
    ups = sum(c in ("upgrade", "fast_upgrade") for c in rows)
    downs = sum(c == "downgrade" for c in rows)
    assert ups >= 1
    after = harness.ask("BM01", "/summary 本月").text
    assert f"升档 {ups} 户、降档 {downs} 户（所持等级" in after
    assert "升档 0 户" in harness.ask("BM01", "/summary 上月").text  # before the run date
