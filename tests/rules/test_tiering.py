from datetime import date

import pytest

from rules.policy import Policy, default_policy, default_policy_text
from rules.tiering import MonthAum, TierInput, classify_tier

POLICY = default_policy().tiers
WAN = 1_000_000  # fen


def months(*avgs_wan: float) -> list[MonthAum]:
    """Most recent first, as the rule expects."""
    return [MonthAum(date(2026, 10 - i, 1), int(a * WAN), int(a * WAN)) for i, a in enumerate(avgs_wan)]


@pytest.mark.parametrize(
    ("avg_wan", "tier"),
    [(600, "私人银行客户"), (599.99, "贵宾客户"), (20, "贵宾客户"), (19.9999, "潜力客户"),
     (5, "潜力客户"), (4.9999, "长尾客户"), (0, "长尾客户")],
)
def test_ladder_both_sides_of_each_line(avg_wan: float, tier: str) -> None:
    result = classify_tier(TierInput(None, int(avg_wan * WAN), date(2026, 11, 20), months(avg_wan)), POLICY)
    assert result.tier == tier
    assert result.basis == "month_avg"
    assert "2026-10 月日均" in result.reasons[0].text


def test_reason_names_rule_and_numbers() -> None:
    result = classify_tier(TierInput(None, None, None, months(23.6)), POLICY)
    assert result.reasons[0].text == "2026-10 月日均 23.60万 ≥ 20万 → 贵宾客户"
    assert result.reasons[0].rule == "tier.ladder"


def test_point_balance_is_the_fallback_basis() -> None:
    result = classify_tier(TierInput(None, 25 * WAN, date(2026, 11, 20), []), POLICY)
    assert (result.tier, result.basis) == ("贵宾客户", "point")
    assert "时点余额" in result.basis_label


def test_no_data_at_all_gives_lowest_tier_and_says_so() -> None:
    result = classify_tier(TierInput(None, None, None, []), POLICY)
    assert result.tier == "长尾客户"
    assert result.basis == "none"


def test_fast_upgrade_on_point_balance() -> None:
    result = classify_tier(TierInput("潜力客户", 20 * WAN, date(2026, 11, 20), months(15, 14)), POLICY)
    assert (result.tier, result.change) == ("贵宾客户", "upgrade")
    assert any(r.rule == "tier.fast_upgrade" for r in result.reasons)


def test_point_just_below_line_does_not_upgrade() -> None:
    result = classify_tier(TierInput("潜力客户", 20 * WAN - 1, date(2026, 11, 20), months(15)), POLICY)
    assert (result.tier, result.change) == ("潜力客户", "none")


@pytest.mark.parametrize("below", [1, 2, 5])
def test_slow_downgrade_keeps_tier_and_reports_risk(below: int) -> None:
    history = months(*([18.2] * below + [25] * (6 - below)))
    result = classify_tier(TierInput("贵宾客户", int(18.2 * WAN), date(2026, 11, 20), history), POLICY)
    assert result.tier == "贵宾客户"
    assert result.downgrade_risk is not None
    assert (result.downgrade_risk.months_below, result.downgrade_risk.months_required) == (below, 6)
    assert f"已连续 {below}/6 个月" in result.reasons[-1].text


def test_downgrade_after_six_consecutive_months() -> None:
    result = classify_tier(TierInput("贵宾客户", int(18.2 * WAN), date(2026, 11, 20), months(*[18.2] * 6)), POLICY)
    assert (result.tier, result.change) == ("潜力客户", "downgrade")


def test_a_month_back_above_the_line_resets_the_count() -> None:
    history = months(18, 18, 21, 18, 18, 18)
    result = classify_tier(TierInput("贵宾客户", 18 * WAN, date(2026, 11, 20), history), POLICY)
    assert result.tier == "贵宾客户"
    assert result.downgrade_risk is not None and result.downgrade_risk.months_below == 2


def test_month_average_exactly_at_line_is_not_below() -> None:
    result = classify_tier(TierInput("贵宾客户", 20 * WAN, date(2026, 11, 20), months(*[20] * 6)), POLICY)
    assert result.downgrade_risk is None and result.tier == "贵宾客户"


def test_bank_override_changes_the_ladder_and_months() -> None:
    override = """
tiers:
  downgrade_months: 3
  ladder:
    - {name: 私人银行客户, min_yuan: 10000000, service: 私行}
    - {name: 金葵花客户, min_yuan: 500000, service: 理财经理}
    - {name: 普通客户, min_yuan: 0, service: 大堂}
"""
    policy = Policy.from_texts(default_policy_text(), override).tiers
    assert classify_tier(TierInput(None, None, None, months(800)), policy).tier == "金葵花客户"
    assert classify_tier(TierInput("金葵花客户", 40 * WAN, None, months(40, 40, 40)), policy).change == "downgrade"
    # untouched sections survive the merge
    assert Policy.from_texts(default_policy_text(), override).churn.watch_ratio == default_policy().churn.watch_ratio


def test_invalid_ladder_is_refused() -> None:
    bad = "tiers:\n  ladder:\n    - {name: A, min_yuan: 0, service: x}\n    - {name: B, min_yuan: 100, service: y}\n"
    with pytest.raises(ValueError):
        Policy.from_texts(default_policy_text(), bad)
