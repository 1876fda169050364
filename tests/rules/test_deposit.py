"""Deposit classes (seed 004《银行定期客户营销方案》§2) on both sides of every line."""

from __future__ import annotations

import pytest

from rules.deposit import (
    HIGH_FREQ,
    LARGE,
    LONG,
    LOW_FREQ,
    MEDIUM,
    MID,
    MID_FREQ,
    SHORT,
    SMALL,
    classify_amount,
    classify_deposit,
    classify_frequency,
    classify_term,
)
from rules.policy import Policy, default_policy, default_policy_text

WAN = 1_000_000  # 分


@pytest.fixture(scope="module")
def policy() -> Policy:
    return default_policy()


@pytest.mark.parametrize(
    ("amount_fen", "expected"),
    [
        (0, SMALL),
        (1 * WAN - 1, SMALL),  # 9,999.99元
        (1 * WAN, MEDIUM),  # 1万 is 中等
        (5 * WAN, MEDIUM),
        (10 * WAN, MEDIUM),  # 10万 is 中等
        (10 * WAN + 1, LARGE),  # 100,000.01元
        (500 * WAN, LARGE),
    ],
)
def test_amount(policy: Policy, amount_fen: int, expected: str) -> None:
    result = classify_amount(policy, amount_fen)
    assert result.label == expected
    assert result.dimension == "amount"
    assert result.customer_label == f"{expected}存款客户"
    assert result.reasons[0].rule == "deposit.amount"
    assert result.reasons[0].source.startswith("seed 004")


def test_amount_texts_do_not_round_across_the_line(policy: Policy) -> None:
    assert classify_amount(policy, WAN - 1).reasons[0].text == "存款金额 0.999999万 < 1万 → 小额存款客户"
    assert classify_amount(policy, 10 * WAN).reasons[0].text == "存款金额 1万 ≤ 10.00万 ≤ 10万 → 中等存款客户"
    assert classify_amount(policy, 10 * WAN + 1).reasons[0].text == "存款金额 10.000001万 > 10万 → 大额存款客户"


@pytest.mark.parametrize(
    ("months", "expected"),
    [
        (1, SHORT),
        (3, SHORT),
        (12, SHORT),  # 一年期 is 短期
        (13, MID),
        (24, MID),
        (36, MID),  # 三年期 is 中期
        (37, LONG),
        (60, LONG),
    ],
)
def test_term(policy: Policy, months: int, expected: str) -> None:
    result = classify_term(policy, months)
    assert result.label == expected
    assert result.reasons[0].inputs["term_months"] == months


def test_term_texts(policy: Policy) -> None:
    assert classify_term(policy, 12).reasons[0].text == "存期 1年 ≤ 1年 → 短期存款客户"
    assert classify_term(policy, 18).reasons[0].text == "存期 1年 < 18个月 ≤ 3年 → 中期存款客户"
    assert classify_term(policy, 60).reasons[0].text == "存期 5年 > 3年 → 长期存款客户"


def test_term_under_one_month_is_no_term_class(policy: Policy) -> None:
    with pytest.raises(ValueError, match="不足 1 个月"):
        classify_term(policy, 0)


@pytest.mark.parametrize(
    ("count", "expected"),
    [(0, LOW_FREQ), (4, LOW_FREQ), (5, MID_FREQ), (10, MID_FREQ), (11, HIGH_FREQ), (52, HIGH_FREQ)],
)
def test_frequency(policy: Policy, count: int, expected: str) -> None:
    result = classify_frequency(policy, count)
    assert result.label == expected
    assert str(count) in result.reasons[0].text


def test_profile_takes_any_subset(policy: Policy) -> None:
    profile = classify_deposit(policy, amount_fen=20 * WAN, term_months=60)
    assert (profile.amount, profile.term, profile.frequency) == (LARGE, LONG, None)
    assert [r.rule for r in profile.reasons] == ["deposit.amount", "deposit.term"]
    full = classify_deposit(policy, amount_fen=WAN, term_months=12, deposits_per_year=5)
    assert (full.amount, full.term, full.frequency) == (MEDIUM, SHORT, MID_FREQ)
    empty = classify_deposit(policy)
    assert (empty.amount, empty.term, empty.frequency, empty.reasons) == (None, None, None, [])


@pytest.mark.parametrize(
    "kwargs", [{"amount_fen": -1}, {"term_months": -12}, {"deposits_per_year": -1}]
)
def test_negative_inputs_are_refused(policy: Policy, kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="不能为负数"):
        classify_deposit(policy, **kwargs)


def test_non_int_inputs_are_refused(policy: Policy) -> None:
    with pytest.raises(TypeError):
        classify_amount(policy, 1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        classify_frequency(policy, True)  # type: ignore[arg-type]


def test_section_or_whole_policy(policy: Policy) -> None:
    assert classify_amount(policy.deposit_class, WAN).label == MEDIUM


def test_a_bank_can_override_the_lines() -> None:
    policy = Policy.from_texts(
        default_policy_text(),
        "deposit_class:\n  amount_large_above_yuan: 200000\n  term_short_max_months: 6\n",
    )
    assert classify_amount(policy, 20 * WAN).label == MEDIUM
    assert classify_term(policy, 12).label == MID


def test_policy_refuses_overlapping_bands() -> None:
    with pytest.raises(ValueError, match="term_short"):
        Policy.from_texts(default_policy_text(), "deposit_class:\n  term_short_max_months: 48\n")
    with pytest.raises(ValueError, match="amount_small_below_yuan"):
        Policy.from_texts(default_policy_text(), "deposit_class:\n  amount_small_below_yuan: 200000\n")
    with pytest.raises(ValueError, match="freq_low_below"):
        Policy.from_texts(default_policy_text(), "deposit_class:\n  freq_low_below: 20\n")
