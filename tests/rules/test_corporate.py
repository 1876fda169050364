"""Corporate classes (seed 004《银行客户分类方案》) and the 无贷户 scale layer, at every line."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rules.corporate import (
    SCALE_ABOVE,
    SCALE_BELOW,
    CorporateMetrics,
    classify_corporate,
    scale_class,
)
from rules.policy import Policy, default_policy, default_policy_text

WAN = 1_000_000  # 分 per 万元
YI = 10_000 * WAN

PREMIUM, CONTRIBUTING, POTENTIAL, STRATEGIC = "优质客户", "持续贡献客户", "潜在合作客户", "战略客户"


@pytest.fixture(scope="module")
def policy() -> Policy:
    return default_policy()


# Per class: (trigger field, value at the line). Payroll is tested separately (two conditions).
LINES = {
    PREMIUM: {"avg_deposit_fen": 1 * YI, "point_deposit_fen": 3 * YI, "pos_settlement_fen": 800 * WAN,
              "credit_cards": 20},
    CONTRIBUTING: {"avg_deposit_fen": 8000 * WAN, "point_deposit_fen": 15000 * WAN, "pos_settlement_fen": 500 * WAN,
                   "credit_cards": 10},
}
TRIGGER_OF = {"avg_deposit_fen": "avg_deposit", "point_deposit_fen": "point_deposit", "pos_settlement_fen": "pos",
              "credit_cards": "credit_cards"}
NEXT_DOWN = {PREMIUM: CONTRIBUTING, CONTRIBUTING: POTENTIAL}
CASES = [pytest.param(cls, fld, line, id=f"{TRIGGER_OF[fld]}-{cls}") for cls, row in LINES.items()
         for fld, line in row.items()]


@pytest.mark.parametrize(("cls", "fld", "line"), CASES)
def test_each_trigger_at_its_line_alone_suffices(policy: Policy, cls: str, fld: str, line: int) -> None:
    result = classify_corporate(policy, CorporateMetrics(**{fld: line}))
    assert result.name == cls
    assert result.triggers == (TRIGGER_OF[fld],)
    hit = next(r for r in result.reasons if r.rule == f"corporate.{TRIGGER_OF[fld]}")
    assert hit.text.endswith(f"→ {cls}")
    assert "≥" in hit.text
    assert hit.source.startswith("seed 004")


@pytest.mark.parametrize(("cls", "fld", "line"), CASES)
def test_each_trigger_just_below_its_line_drops_a_class(policy: Policy, cls: str, fld: str, line: int) -> None:
    result = classify_corporate(policy, CorporateMetrics(**{fld: line - 1}))
    assert result.name == NEXT_DOWN[cls]
    not_met = next(r for r in result.reasons if r.rule == "corporate.not_met" and cls in r.text)
    assert "<" in not_met.text


def test_reason_shows_the_triggering_numbers(policy: Policy) -> None:
    result = classify_corporate(policy, CorporateMetrics(avg_deposit_fen=1 * YI))
    hit = next(r for r in result.reasons if r.rule == "corporate.avg_deposit")
    assert hit.text == "日均对公存款 10000.00万 ≥ 10000万 → 优质客户"
    assert hit.inputs == {"avg_deposit_fen": YI, "line_fen": YI}


def test_just_below_is_not_rounded_up_in_the_text(policy: Policy) -> None:
    result = classify_corporate(policy, CorporateMetrics(pos_settlement_fen=500 * WAN - 1))
    miss = next(r for r in result.reasons if r.rule == "corporate.not_met" and CONTRIBUTING in r.text)
    assert "POS 月结算量 499.999999万 < 500万" in miss.text


@pytest.mark.parametrize(
    ("heads", "amount_wan", "expected"),
    [
        (150, 80, PREMIUM),
        (150, 79, CONTRIBUTING),  # amount short for 优质, both met for 持续贡献
        (149, 80, CONTRIBUTING),
        (100, 50, CONTRIBUTING),
        (99, 50, POTENTIAL),
        (100, 49, POTENTIAL),
        (5000, 0, POTENTIAL),  # headcount alone is not enough
        (0, 5000, POTENTIAL),  # amount alone is not enough
    ],
)
def test_payroll_needs_both_headcount_and_amount(
    policy: Policy, heads: int, amount_wan: int, expected: str
) -> None:
    result = classify_corporate(policy, CorporateMetrics(payroll_headcount=heads, payroll_fen=amount_wan * WAN))
    assert result.name == expected
    assert ("payroll" in result.triggers) == (expected != POTENTIAL)


def test_payroll_one_fen_short(policy: Policy) -> None:
    result = classify_corporate(policy, CorporateMetrics(payroll_headcount=150, payroll_fen=80 * WAN - 1))
    assert result.name == CONTRIBUTING
    miss = next(r for r in result.reasons if r.rule == "corporate.not_met" and PREMIUM in r.text)
    assert "人数与金额须同时达标" in miss.text
    assert "79.999999万 < 80万" in miss.text


def test_all_triggers_met_are_listed(policy: Policy) -> None:
    m = CorporateMetrics(avg_deposit_fen=YI, point_deposit_fen=3 * YI, pos_settlement_fen=800 * WAN,
                         payroll_headcount=150, payroll_fen=80 * WAN, credit_cards=20)
    result = classify_corporate(policy, m)
    assert result.name == PREMIUM
    assert result.triggers == ("avg_deposit", "point_deposit", "pos", "payroll", "credit_cards")


def test_highest_class_wins_when_triggers_of_both_are_met(policy: Policy) -> None:
    m = CorporateMetrics(credit_cards=20, avg_deposit_fen=8000 * WAN)
    result = classify_corporate(policy, m)
    assert result.name == PREMIUM
    assert result.triggers == ("credit_cards",)


# -- strategic flag ------------------------------------------------------------------------------

def test_strategic_flag_takes_precedence(policy: Policy) -> None:
    m = CorporateMetrics(avg_deposit_fen=YI)
    result = classify_corporate(policy, m, strategic=True)
    assert result.name == STRATEGIC
    assert result.quantitative_name == PREMIUM
    assert result.managed_by == "分行"
    assert result.reasons[0].rule == "corporate.strategic"
    assert "优先于量化标准" in result.reasons[0].text and "量化标准另达优质客户" in result.reasons[0].text


def test_strategic_flag_without_any_business(policy: Policy) -> None:
    result = classify_corporate(policy, CorporateMetrics(), strategic=True)
    assert result.name == STRATEGIC
    assert result.quantitative_name == POTENTIAL
    assert result.triggers == ()


def test_unflagged_customer_is_never_strategic(policy: Policy) -> None:
    m = CorporateMetrics(avg_deposit_fen=100 * YI, point_deposit_fen=100 * YI)
    assert classify_corporate(policy, m).name == PREMIUM


# -- potential customers, management ------------------------------------------------------------

def test_no_business_is_potential_being_marketed(policy: Policy) -> None:
    result = classify_corporate(policy, CorporateMetrics())
    assert result.name == POTENTIAL
    assert result.managed_by == "支行"
    fallback = next(r for r in result.reasons if r.rule == "corporate.fallback")
    assert "尚未与我行开展业务" in fallback.text and "营销中" in fallback.text


def test_some_business_below_every_line_is_still_potential(policy: Policy) -> None:
    result = classify_corporate(policy, CorporateMetrics(avg_deposit_fen=30 * WAN, credit_cards=9))
    assert result.name == POTENTIAL
    fallback = next(r for r in result.reasons if r.rule == "corporate.fallback")
    assert "已有业务往来" in fallback.text


@pytest.mark.parametrize(
    ("metrics", "strategic", "org"),
    [
        (CorporateMetrics(), True, "分行"),
        (CorporateMetrics(credit_cards=20), False, "分行"),
        (CorporateMetrics(credit_cards=10), False, "支行"),
        (CorporateMetrics(), False, "支行"),
    ],
)
def test_managed_by(policy: Policy, metrics: CorporateMetrics, strategic: bool, org: str) -> None:
    result = classify_corporate(policy, metrics, strategic=strategic)
    assert result.managed_by == org
    reason = next(r for r in result.reasons if r.rule == "corporate.managed_by")
    assert reason.text.startswith(f"{result.name}由{org}管理")
    assert "分行管战略客户、优质客户；支行管持续贡献客户、潜在合作客户" in reason.text


def test_qualitative_conditions_are_flagged_as_manual(policy: Policy) -> None:
    result = classify_corporate(policy, CorporateMetrics())
    assert any(r.rule == "corporate.qualitative" and "人工认定" in r.text for r in result.reasons)


# -- 规模以上 / 规模以下 ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("avg_fen", "expected"),
    [(50 * WAN, SCALE_ABOVE), (50 * WAN - 1, SCALE_BELOW), (0, SCALE_BELOW), (YI, SCALE_ABOVE)],
)
def test_no_loan_scale_at_50_wan(policy: Policy, avg_fen: int, expected: str) -> None:
    m = CorporateMetrics(avg_deposit_fen=avg_fen)
    result = scale_class(policy, m)
    assert result.scale == expected
    assert result.reasons[0].rule == "corporate.scale"
    assert "无贷户" in result.reasons[0].text and "50万" in result.reasons[0].text
    assert classify_corporate(policy, m).scale_class == expected


def test_scale_text_at_the_line(policy: Policy) -> None:
    assert scale_class(policy, CorporateMetrics(avg_deposit_fen=50 * WAN)).reasons[0].text == (
        "无贷户：日均存款 50.00万 ≥ 50万 → 规模以上")
    assert "49.999999万 < 50万" in scale_class(policy, CorporateMetrics(avg_deposit_fen=50 * WAN - 1)).reasons[0].text


@pytest.mark.parametrize("loan_fen", [1, 100 * WAN])
def test_loan_customers_have_no_scale_layer(policy: Policy, loan_fen: int) -> None:
    m = CorporateMetrics(avg_deposit_fen=100 * WAN, loan_balance_fen=loan_fen)
    result = scale_class(policy, m)
    assert result.scale is None
    assert "有贷户" in result.reasons[0].text
    assert classify_corporate(policy, m).scale_class is None


# -- inputs and policy ---------------------------------------------------------------------------

@pytest.mark.parametrize("fld", ["avg_deposit_fen", "point_deposit_fen", "pos_settlement_fen", "payroll_headcount",
                                 "payroll_fen", "credit_cards", "loan_balance_fen"])
def test_negative_metrics_are_refused(policy: Policy, fld: str) -> None:
    with pytest.raises(ValueError, match="不能为负数"):
        classify_corporate(policy, replace(CorporateMetrics(), **{fld: -1}))


def test_non_int_metrics_are_refused(policy: Policy) -> None:
    with pytest.raises(TypeError):
        classify_corporate(policy, CorporateMetrics(avg_deposit_fen=1.5))  # type: ignore[arg-type]


def test_section_or_whole_policy(policy: Policy) -> None:
    assert classify_corporate(policy.corporate, CorporateMetrics(credit_cards=10)).name == CONTRIBUTING


def test_a_bank_can_move_the_lines() -> None:
    override = """
corporate:
  no_loan_scale_min_avg_deposit_yuan: 1000000
  classes:
    - name: 持续贡献客户
      avg_deposit_yuan: 50000000
      point_deposit_yuan: 150000000
      pos_monthly_yuan: 5000000
      payroll_headcount: 100
      payroll_monthly_yuan: 500000
      credit_cards: 10
"""
    policy = Policy.from_texts(default_policy_text(), override)
    assert classify_corporate(policy, CorporateMetrics(avg_deposit_fen=5000 * WAN)).name == CONTRIBUTING
    assert scale_class(policy, CorporateMetrics(avg_deposit_fen=50 * WAN)).scale == SCALE_BELOW


def test_policy_requires_managed_by_for_every_class() -> None:
    # A renamed fallback class with no managed_by entry would leave its customers unassigned.
    with pytest.raises(ValueError, match="managed_by"):
        Policy.from_texts(default_policy_text(), "corporate:\n  fallback_name: 意向客户\n")


def test_policy_requires_unique_class_names() -> None:
    with pytest.raises(ValueError, match="unique"):
        Policy.from_texts(default_policy_text(), "corporate:\n  fallback_name: 优质客户\n")
