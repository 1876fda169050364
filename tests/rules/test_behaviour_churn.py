from datetime import date, timedelta
from decimal import Decimal

import pytest

from rules.behaviour import ACTIVE, DORMANT, POTENTIAL, BehaviourInput, classify_behaviour
from rules.churn import branch_notices, churn_level
from rules.policy import default_policy

P = default_policy()
TODAY = date(2026, 11, 21)
WAN = 1_000_000


def behaviour(aum_wan: float, before_wan: float | None, contact_days: int | None, txn: int = 0, kinds: int = 1) -> str:
    contact = TODAY - timedelta(days=contact_days) if contact_days is not None else None
    before = int(before_wan * WAN) if before_wan is not None else None
    return classify_behaviour(BehaviourInput(TODAY, int(aum_wan * WAN), before, contact, txn, kinds), P.behaviour).status


def test_dormant_needs_all_three_conditions() -> None:
    assert behaviour(6, 7, 181) == DORMANT
    assert behaviour(6, 7, None) == DORMANT
    assert behaviour(10, 11, 181) != DORMANT  # AUM at the 10万 line is not below it
    assert behaviour(6, 7, 180) != DORMANT  # contacted exactly 180 days ago
    assert behaviour(6, 6, 181) != DORMANT  # no net outflow
    assert behaviour(6, None, 181) != DORMANT  # no history: cannot claim outflow


def test_active_by_transactions_or_recent_contact() -> None:
    assert behaviour(30, 30, 100, txn=9) == ACTIVE
    assert behaviour(30, 30, 100, txn=8) == POTENTIAL
    assert behaviour(30, 30, 30, txn=0) == ACTIVE
    assert behaviour(30, 30, 31, txn=0) == POTENTIAL


def test_reasons_quote_the_numbers() -> None:
    res = classify_behaviour(BehaviourInput(TODAY, 6 * WAN, 7 * WAN, None, 0, 1), P.behaviour)
    assert "6.00万 < 10万" in res.reasons[0].text and "从未联系" in res.reasons[0].text


@pytest.mark.parametrize(
    ("current_wan", "level"),
    [(80.01, "none"), (80, "watch"), (50.01, "watch"), (50, "warning"), (0, "warning"), (120, "none")],
)
def test_churn_levels_at_80_and_50_percent(current_wan: float, level: str) -> None:
    # baseline = highest of the previous 3 month-ends = 100万
    res = churn_level(int(current_wan * WAN), [90 * WAN, 100 * WAN, 95 * WAN, 300 * WAN], P.churn)
    assert res.baseline_fen == 100 * WAN  # the 4th month back is outside the window
    assert res.level == level


def test_churn_ignores_tiny_balances_and_missing_history() -> None:
    assert churn_level(0, [5_000_00], P.churn).level == "none"
    assert churn_level(0, [], P.churn).level == "none"


def test_churn_ratio_is_exact() -> None:
    res = churn_level(20 * WAN, [30 * WAN], P.churn)  # above the monitored 5万 floor (issue 15)
    assert res.ratio == Decimal("0.6667")
    assert "66.7%" in res.reasons[0].text


def test_only_customers_with_5wan_or_more_are_monitored() -> None:
    """Seed 002 monitors "存量金融资产5万元以上客户"; the floor is the policy's, with its source."""
    assert P.churn.min_baseline_yuan == 50000 and "5万元以上" in P.churn.min_baseline_source
    below = churn_level(0, [5 * WAN - 1], P.churn)
    assert below.level == "none" and below.reasons[0].text == "基线 4.999999万 < 5万，不纳入流失监测"
    assert churn_level(0, [5 * WAN], P.churn).level == "warning"
    assert churn_level(int(0.8 * 3 * WAN), [3 * WAN], P.churn).level == "none"  # 3万 was monitored at 1万


def test_branch_notices_need_more_than_ten() -> None:
    assert branch_notices(10, 10, P.churn) == []
    kinds = [n.kind for n in branch_notices(11, 10, P.churn)]
    assert kinds == ["查询通知"]
    assert [n.kind for n in branch_notices(15, 11, P.churn)] == ["查询通知", "预警通知"]
