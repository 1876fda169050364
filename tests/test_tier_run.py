"""The daily tier run (issue 15 item 7): 快升缓降 in SQL, equal to the pure rule, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.store.db import make_engine
from bot.store.migrate import upgrade
from bot.store.models import AumMonthly, Balance, Customer, Org, Staff, TierHistory
from bot.store.tier_run import TierRunOrderError, run_tiers
from rules.policy import default_policy
from rules.tiering import MonthAum, TierInput, classify_tier

POLICY = default_policy().tiers
WAN = 1_000_000  # fen


@pytest.fixture(params=["sqlite", "pg"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "pg":
        eng = request.getfixturevalue("pg_engine")
    else:
        eng = make_engine(f"sqlite:///{tmp_path / 'tiers.db'}")
        upgrade(eng)
    with Session(eng) as s:
        s.add(Org(id="BR", name="分行", level="branch", path="/BR/"))
        s.add(Org(id="SB", name="西湖支行", level="sub_branch", parent_id="BR", path="/BR/SB/"))
        s.flush()
        s.add(Staff(id="RM1", name="王经理", role="rm", org_id="SB"))
        s.commit()
    yield eng
    if request.param == "sqlite":
        eng.dispose()


def _customer(s: Session, cid: str, tier: str | None) -> None:
    s.add(Customer(id=cid, kind="individual", name="张三", rm_id="RM1", org_id="SB", opened_on=date(2020, 1, 1),
                   tier=tier))


def _month(s: Session, cid: str, m: date, avg_fen: int) -> None:
    s.add(AumMonthly(customer_id=cid, month=m, avg_daily_fen=avg_fen, month_end_fen=avg_fen))


def _tier(eng: Engine, cid: str) -> str | None:
    with Session(eng) as s:
        return s.get(Customer, cid).tier  # type: ignore[union-attr]


def _months(year: int) -> list[date]:
    return [date(year, m, 1) for m in range(1, 13)]


def test_half_year_upgrades_at_once_downgrades_after_policy_months(engine: Engine) -> None:
    """C1 reaches 20万 in a point balance mid-January: 贵宾 on that day. C2 (贵宾) falls below 20万
    from January: kept 5 months (risk), downgraded on the first run after the 6th complete month."""
    months = _months(2026)
    with Session(engine) as s:
        _customer(s, "C1", "潜力客户")
        _customer(s, "C2", "贵宾客户")
        s.flush()
        _month(s, "C1", date(2025, 12, 1), 10 * WAN)
        _month(s, "C2", date(2025, 12, 1), 30 * WAN)
        for m in months[:7]:
            _month(s, "C2", m, 18 * WAN)
        s.add(Balance(customer_id="C1", as_of=date(2026, 1, 14), aum_fen=9 * WAN))
        s.add(Balance(customer_id="C1", as_of=date(2026, 1, 15), aum_fen=21 * WAN))
        s.commit()
    required = POLICY.downgrade_months
    assert required == 6
    with Session(engine) as s:
        assert run_tiers(s, POLICY, date(2026, 1, 14)).upgrades == 0
        s.commit()
    assert _tier(engine, "C1") == "潜力客户"
    with Session(engine) as s:
        r = run_tiers(s, POLICY, date(2026, 1, 15))
        s.commit()
    assert (r.upgrades, r.downgrades) == (1, 0)
    assert _tier(engine, "C1") == "贵宾客户"
    # the first run of each month sees one more complete month below the line
    for k, m in enumerate(months[1:8], start=1):
        with Session(engine) as s:
            run_tiers(s, POLICY, m)
            s.commit()
        assert _tier(engine, "C2") == ("贵宾客户" if k < required else "潜力客户"), m
    with Session(engine) as s:
        rows = s.exec(select(TierHistory).order_by(TierHistory.run_date)).all()
        assert [(r.run_date, r.customer_id, r.from_tier, r.to_tier, r.change) for r in rows] == [
            (date(2026, 1, 15), "C1", "潜力客户", "贵宾客户", "fast_upgrade"),
            (date(2026, 7, 1), "C2", "贵宾客户", "潜力客户", "downgrade"),
        ]
        down = rows[1]
        assert (down.basis, down.basis_fen, down.line_fen, down.months_below, down.months_required) == (
            "month_avg", 18 * WAN, 20 * WAN, 6, 6)
        assert s.get(Customer, "C2").tier_since == date(2026, 7, 1)  # type: ignore[union-attr]


def test_rerun_of_a_day_is_idempotent_and_earlier_days_are_refused(engine: Engine) -> None:
    with Session(engine) as s:
        _customer(s, "C1", None)
        s.flush()
        s.add(Balance(customer_id="C1", as_of=date(2026, 3, 2), aum_fen=700 * WAN))
        s.commit()
    for _ in range(2):
        with Session(engine) as s:
            r = run_tiers(s, POLICY, date(2026, 3, 2))
            s.commit()
        assert (r.new, r.upgrades, r.downgrades) == (1, 0, 0)
    with Session(engine) as s:
        assert len(s.exec(select(TierHistory)).all()) == 1
        with pytest.raises(TierRunOrderError):
            run_tiers(s, POLICY, date(2026, 3, 1))
    assert _tier(engine, "C1") == "私人银行客户"


TIERS = [None, "未知等级"] + [row.name for row in POLICY.ladder]
LINES = [row.min_fen for row in POLICY.ladder if row.min_fen > 0]
amount = st.one_of(st.sampled_from(LINES), st.sampled_from(LINES).map(lambda f: f - 1),
                   st.integers(0, 800 * WAN))
history = st.tuples(st.sampled_from(TIERS), st.lists(amount, max_size=9), st.one_of(st.none(), amount))


@pytest.mark.parametrize("engine", ["sqlite", "pg"], indirect=True)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cases=st.lists(history, min_size=1, max_size=12))
def test_sql_run_equals_pure_rule(engine: Engine, cases: list) -> None:
    """Each generated (held tier, monthly averages, point balance) gets the tier the pure rule gives."""
    run_date = date(2026, 11, 20)
    with Session(engine) as s:
        for table in (TierHistory, Balance, AumMonthly, Customer):
            s.execute(delete(table))
        s.flush()
        for i, (held, avgs, point) in enumerate(cases):
            cid = f"P{i:03d}"
            _customer(s, cid, held)
            s.flush()
            for k, avg in enumerate(avgs):  # most recent first; the last is the run month (partial)
                m = date(2026, 11 - k, 1)
                _month(s, cid, m, avg)
            if point is not None:
                s.add(Balance(customer_id=cid, as_of=run_date, aum_fen=point))
        s.commit()
    with Session(engine) as s:
        run_tiers(s, POLICY, run_date)
        s.commit()
    for i, (held, avgs, point) in enumerate(cases):
        complete = [MonthAum(date(2026, 10 - k, 1), a, a) for k, a in enumerate(avgs[1:])]
        got = _tier(engine, f"P{i:03d}")
        if not complete and point is None:
            assert got == held  # no data: the run leaves the customer alone
            continue
        expected = classify_tier(TierInput(held, point, run_date if point is not None else None, complete), POLICY)
        assert got == expected.tier, (held, avgs, point, expected.reasons)
