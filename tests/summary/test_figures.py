"""Summary figures on the hand-built bank (bank.py) against values worked out by hand, on
SQLite and PostgreSQL; periods; empty periods; and, on the seeded demo bank, the same numbers
as /churn, the maturing list and the behaviour rule."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.clock import add_months, month_start
from bot.store.models import AumMonthly, Balance, Contact, Customer
from bot.store.push_lists import Scope, churn_counts, churn_rows, maturing_rows
from bot.store.summary import (
    Period,
    Snapshot,
    build_summary,
    minus_months,
    parse_period,
)
from bot.testing import DEMO_DATA_DATE, DEMO_NOW, Harness
from rules.behaviour import DORMANT, BehaviourInput, classify_behaviour
from rules.policy import default_policy
from rules.tiering import ladder_row
from tests.summary.bank import DATA_DATE, WAN

P = default_policy()
TODAY = date(2026, 11, 21)
ALL = Scope(org_path="/BR01/")
SB01 = Scope(org_path="/BR01/SB01/")
SB02 = Scope(org_path="/BR01/SB02/")
RM001 = Scope(rm_id="RM001")


def summary(engine: Engine, scope: Scope, word: str | None = "本月"):
    with Session(engine) as s:
        return build_summary(s, P, scope, parse_period(word, TODAY), TODAY)


# -- periods -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("word", "start", "end"), [
    ("今日", date(2026, 11, 21), date(2026, 11, 21)),
    ("本周", date(2026, 11, 16), date(2026, 11, 22)),
    ("上周", date(2026, 11, 9), date(2026, 11, 15)),
    ("本月", date(2026, 11, 1), date(2026, 11, 30)),
    (None, date(2026, 11, 1), date(2026, 11, 30)),
    ("上月", date(2026, 10, 1), date(2026, 10, 31)),
    ("2026-02", date(2026, 2, 1), date(2026, 2, 28)),
    ("2024年2月", date(2024, 2, 1), date(2024, 2, 29)),
    ("202610", date(2026, 10, 1), date(2026, 10, 31)),
])
def test_periods(word: str | None, start: date, end: date) -> None:
    period = parse_period(word, TODAY)
    assert (period.start, period.end) == (start, end)


@pytest.mark.parametrize("word", ["2026-13", "2027-01", "昨天", "1999-12", "2026-00"])
def test_bad_periods_are_refused(word: str) -> None:
    with pytest.raises(ValueError):
        parse_period(word, TODAY)


def test_minus_months_clamps_to_month_end() -> None:
    assert minus_months(date(2026, 5, 31), 3) == date(2026, 2, 28)
    assert minus_months(date(2026, 11, 20), 3) == date(2026, 8, 20)


# -- the hand-built bank ---------------------------------------------------------------------------


def check_whole_bank(engine: Engine) -> None:
    s = summary(engine, ALL)
    assert s.data_date == DATA_DATE
    assert s.opening == Snapshot(date(2026, 10, 31), "month_end")
    assert s.closing == Snapshot(DATA_DATE, "balance")
    # tiers held, and by AUM at 10-31 → 11-20
    assert s.tiers.held == [("私人银行客户", 1), ("贵宾客户", 5), ("潜力客户", 3), ("长尾客户", 2)]
    assert s.tiers.opening == [("私人银行客户", 1), ("贵宾客户", 4), ("潜力客户", 4), ("长尾客户", 1)]
    assert s.tiers.closing == [("私人银行客户", 1), ("贵宾客户", 4), ("潜力客户", 3), ("长尾客户", 3)]
    assert s.tiers.moves == {("潜力客户", "贵宾客户"): 1, ("潜力客户", "长尾客户"): 1, ("贵宾客户", "潜力客户"): 1}
    assert (s.tiers.asset_upgrades, s.tiers.asset_downgrades, s.tiers.entered) == (1, 2, 1)
    # HNW: of the 4 潜力 customers at 10-31, C02 reached 贵宾
    assert s.tiers.hnw_names == ("私人银行客户", "贵宾客户")
    assert (s.tiers.hnw_base_name, s.tiers.hnw_base, s.tiers.hnw_converted, s.tiers.hnw_new) == ("潜力客户", 4, 1, 1)
    assert s.tiers.hnw_rate == 0.25
    # AUM
    assert (s.aum.opening_fen, s.aum.closing_fen, s.aum.change_fen) == (900 * WAN, 797 * WAN, -103 * WAN)
    assert s.aum.customers == 11
    assert [(p.on, fen // WAN) for p, fen in s.aum.trend] == [
        (date(2026, 5, 31), 70), (date(2026, 6, 30), 70), (date(2026, 7, 31), 872), (date(2026, 8, 31), 875),
        (date(2026, 9, 30), 892), (date(2026, 10, 31), 900), (DATA_DATE, 797)]
    assert (s.new_individual, s.new_corporate, s.new_until) == (1, 1, TODAY)
    assert (s.dormant, s.dormant_ref_day) == (2, TODAY)  # C04, C11
    # churn: C03 and C12 at ≤ 50%, C04, C05 at ≤ 80%; C03's item handled. C11 (3万 → 2万) is under
    # the monitored 5万 floor (seed 002 "存量金融资产5万元以上客户", issue 15)
    c = s.churn
    assert (c.as_of, c.watch, c.warning, c.handled) == (DATA_DATE, 2, 2, 1)
    assert (c.cases, c.new_cases, c.recovered, c.lost) == (6, 3, 1, 1)
    assert [(b.branch_id, b.branch_name, b.managers, b.cases, b.oldest_flag) for b in c.overdue] == [
        ("SB01", "西湖支行", "钱支行", 1, date(2026, 7, 10)), ("SB02", "滨江支行", "孙支行", 1, date(2026, 8, 1))]
    # maturing in November: 10万 已承接, 5万 已联系, 100万 已流失, 20万 not followed up; 基金 and 12-05 left out
    m = s.maturing
    assert (m.items, m.total_fen) == (4, 135 * WAN)
    assert m.by_outcome == {"retained": (1, 10 * WAN), "contacted": (1, 5 * WAN), "lost": (1, 100 * WAN),
                            "": (1, 20 * WAN)}
    assert m.rate == pytest.approx(10 / 135)
    # follow-up completion per RM, most open items first
    assert [(f.rm_id, f.rm_name, f.branch_id, f.maturing, f.maturing_done, f.churn, f.churn_done, f.open)
            for f in s.followups] == [
        ("RM002", "李强", "SB01", 1, 0, 2, 0, 3),
        ("RM003", "赵敏", "SB02", 1, 1, 1, 0, 1),
        ("RM001", "王芳", "SB01", 2, 2, 1, 1, 0),
    ]
    assert [(b.branch_id, b.branch_name, b.customers, b.opening_fen // WAN, b.closing_fen // WAN, b.churn_listed,
             b.churn_warning, b.maturing_fen // WAN, b.retained_fen // WAN, b.items, b.done) for b in s.branches] == [
        ("SB01", "西湖支行", 8, 157, 135, 3, 1, 35, 10, 6, 3),
        ("SB02", "滨江支行", 3, 743, 662, 1, 1, 100, 0, 2, 1),
    ]


def test_whole_bank_by_hand(bank: Engine) -> None:
    check_whole_bank(bank)


def test_whole_bank_by_hand_on_postgres(bank_pg: Engine) -> None:
    check_whole_bank(bank_pg)


def test_a_bank_moves_the_hnw_line_in_its_policy_file(bank: Engine) -> None:
    """高净值 is a bank's own definition: at 600万 only 私人银行客户 counts, and its base row is 贵宾客户."""
    from rules.policy import Policy, default_policy_text

    policy = Policy.from_texts(default_policy_text(), "tiers:\n  hnw_min_yuan: 6000000\n")
    with Session(bank) as s:
        out = build_summary(s, policy, ALL, parse_period("本月", TODAY), TODAY)
    assert out.tiers.hnw_names == ("私人银行客户",)
    assert (out.tiers.hnw_base_name, out.tiers.hnw_base) == ("贵宾客户", 4)
    assert (out.tiers.hnw_converted, out.tiers.hnw_new) == (0, 0)


def test_one_branch(bank: Engine) -> None:
    s = summary(bank, SB01)
    assert s.tiers.held == [("私人银行客户", 0), ("贵宾客户", 4), ("潜力客户", 3), ("长尾客户", 1)]
    assert (s.aum.opening_fen, s.aum.closing_fen) == (157 * WAN, 135 * WAN)  # C02 sits in the outlet OU011
    assert [fen // WAN for _, fen in s.aum.trend] == [70, 70, 129, 132, 149, 157, 135]
    assert (s.churn.watch, s.churn.warning, s.churn.handled, s.churn.cases) == (2, 1, 1, 5)
    assert [b.branch_id for b in s.churn.overdue] == ["SB01"]
    assert (s.maturing.total_fen, s.maturing.fen("retained")) == (35 * WAN, 10 * WAN)
    assert [f.rm_id for f in s.followups] == ["RM002", "RM001"]
    assert s.dormant == 1
    other = summary(bank, SB02)
    assert (other.aum.closing_fen, other.churn.listed, other.dormant) == (662 * WAN, 1, 1)  # C11 under 5万
    assert [f.rm_id for f in other.followups] == ["RM003"]


def test_one_rm_sees_only_their_customers(bank: Engine) -> None:
    s = summary(bank, RM001)
    assert s.tiers.held == [("私人银行客户", 0), ("贵宾客户", 3), ("潜力客户", 1), ("长尾客户", 1)]
    assert (s.aum.opening_fen, s.aum.closing_fen) == (103 * WAN, 84 * WAN)
    assert (s.churn.watch, s.churn.warning, s.churn.handled) == (0, 1, 1)
    assert (s.maturing.total_fen, s.maturing.fen("retained")) == (15 * WAN, 10 * WAN)
    assert [f.rm_id for f in s.followups] == ["RM001"]
    assert (s.new_individual, s.new_corporate, s.dormant) == (1, 1, 0)


def test_a_past_month_reads_month_ends_and_has_no_churn_day(bank: Engine) -> None:
    s = summary(bank, ALL, "2026-10")
    assert (s.opening, s.closing) == (Snapshot(date(2026, 9, 30), "month_end"), Snapshot(date(2026, 10, 31), "month_end"))
    assert (s.aum.opening_fen, s.aum.closing_fen) == (892 * WAN, 900 * WAN)
    assert s.churn.as_of is None and s.churn.listed == 0
    assert s.maturing.items == 0 and s.followups == []
    assert s.dormant == 0  # nobody small had less at 10-31 than at the end of July
    assert s.dormant_ref_day == date(2026, 11, 1)


def test_today_compares_with_the_previous_snapshot(bank: Engine) -> None:
    s = summary(bank, ALL, "今日")
    assert (s.opening, s.closing) == (Snapshot(date(2026, 10, 31), "month_end"), Snapshot(DATA_DATE, "balance"))
    assert s.maturing.items == 0  # nothing matures on 11-21
    assert s.churn.new_cases == 0 and s.churn.listed == 4  # C11 is under the monitored 5万 floor


def test_week_counts_maturing_within_the_week(bank: Engine) -> None:
    s = summary(bank, ALL, "本周")  # 11-16 … 11-22: only C10's 结构性存款 (11-22)
    assert (s.maturing.items, s.maturing.total_fen, s.maturing.fen("lost")) == (1, 100 * WAN, 100 * WAN)


def test_empty_period(bank: Engine) -> None:
    s = summary(bank, ALL, "2026-03")
    assert s.empty
    assert (s.opening, s.closing, s.dormant) == (None, None, None)
    assert s.aum.trend == [] and s.tiers.moves == {} and s.aum.closing_fen == 0
    assert s.churn.as_of is None and s.maturing.items == 0


def test_empty_bank(tmp_path) -> None:
    from bot.store.db import make_engine
    from bot.store.migrate import upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    upgrade(engine)
    s = summary(engine, ALL)
    assert s.empty and s.data_date is None and s.followups == [] and s.branches == []


def test_recovery_uses_the_baseline_at_the_flag(bank: Engine) -> None:
    """C09 sits at its own 3-month baseline (5万) now: the rolling baseline forgot the fall from
    30万; measured against the baseline when flagged (30万) it is not recovered."""
    with Session(bank) as s:
        on_list = {r.customer_id for r in churn_rows(s, P, DATA_DATE, exclude_handled=False)}
    assert "C09" not in on_list
    assert summary(bank, ALL).churn.lost == 1


# -- the same number everywhere (seeded demo bank) ------------------------------------------------


def test_churn_and_maturing_equal_the_push_lists(rmbot: Harness) -> None:
    scope = Scope(org_path="/BR01/SB01/")
    with Session(rmbot.engine) as s:
        period = parse_period("本月", DEMO_NOW.date())
        result = build_summary(s, P, scope, period, DEMO_NOW.date())
        counts = churn_counts(s, P, DEMO_DATA_DATE, scope)
        rows = list(churn_rows(s, P, DEMO_DATA_DATE, scope, exclude_handled=False))
        maturing = list(maturing_rows(s, P, period.start, period.end, scope, exclude_handled=False))
    assert result.churn.listed == sum(n for n, _ in counts.values()) == len(rows) > 0
    assert result.churn.warning == sum(w for _, w in counts.values())
    assert result.maturing.items == len(maturing) > 0
    assert result.maturing.total_fen == sum(r.amount_fen for r in maturing)
    # /churn shows the same count
    answer = rmbot.ask("BM01", "/churn")
    assert f"{len(rows)}" in answer.text


def test_dormant_and_tier_moves_equal_the_rules(rmbot: Harness) -> None:
    """Recount 沉睡 with rules/behaviour.py and the moves with ladder_row, customer by customer."""
    today = DEMO_NOW.date()
    with Session(rmbot.engine) as s:
        result = build_summary(s, P, ALL, parse_period("本月", today), today)
        point = dict(s.execute(select(Balance.customer_id, Balance.aum_fen).where(Balance.as_of == DEMO_DATA_DATE)).all())
        current = month_start(DEMO_DATA_DATE)
        before = dict(s.execute(select(AumMonthly.customer_id, AumMonthly.month_end_fen)
                                .where(AumMonthly.month == add_months(current, -3))).all())
        october = dict(s.execute(select(AumMonthly.customer_id, AumMonthly.month_end_fen)
                                 .where(AumMonthly.month == add_months(current, -1))).all())
        last = dict(s.execute(select(Contact.customer_id, func.max(Contact.at)).group_by(Contact.customer_id)).all())
        individuals = list(s.execute(select(Customer.id).where(Customer.kind == "individual")).scalars())
    dormant = 0
    ups = downs = 0
    for cid in individuals:
        if cid not in point:
            continue
        at = last.get(cid)
        status = classify_behaviour(BehaviourInput(today, point[cid], before.get(cid), at.date() if at else None, 0, 1),
                                    P.behaviour).status
        dormant += status == DORMANT
        if cid in october:
            a, b = P.tiers.rank(ladder_row(october[cid], P.tiers).name), P.tiers.rank(ladder_row(point[cid], P.tiers).name)
            ups += b < a
            downs += b > a
    assert result.dormant == dormant > 0
    assert (result.tiers.asset_upgrades, result.tiers.asset_downgrades) == (ups, downs)


def test_period_labels() -> None:
    assert parse_period("本月", TODAY).label == "本月（2026-11）"
    assert parse_period("本周", TODAY).label == "本周（2026-11-16 至 11-22）"
    assert parse_period("今日", TODAY).label == "今日（2026-11-21）"
    assert parse_period("2026-10", TODAY).label == "2026-10"
    assert Period("week", TODAY, TODAY + timedelta(days=6)).slug == "2026-11-21_2026-11-27"
