"""Windows the policy decides, not the code (issue 15, finding 11): the 活跃 transaction window,
the 90-day outflow reference, and one maturing window for list, push and advice."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from rules.behaviour import BehaviourInput, classify_behaviour, outflow_reference_month
from rules.policy import Policy, default_policy, default_policy_text

P = default_policy()


@pytest.mark.parametrize(("on", "month"), [
    (date(2026, 11, 20), date(2026, 8, 1)),   # 08-22 is nearest to 08-31
    (date(2026, 11, 1), date(2026, 7, 1)),    # 08-03 is nearest to 07-31 (round(90/30) said August)
    (date(2026, 3, 1), date(2025, 11, 1)),    # across the year: 2025-12-01 → 11-30
    (date(2026, 12, 31), date(2026, 9, 1)),
])
def test_outflow_reference_is_the_month_end_nearest_to_the_window(on: date, month: date) -> None:
    assert outflow_reference_month(on, P.behaviour) == month


def test_outflow_reference_follows_the_policy_days() -> None:
    policy = Policy.from_texts(default_policy_text(), "behaviour: {dormant_outflow_days: 30}")
    assert outflow_reference_month(date(2026, 11, 20), policy.behaviour) == date(2026, 10, 1)
    # never the month of the day itself, which is not complete
    assert outflow_reference_month(date(2026, 11, 30), Policy.from_texts(
        default_policy_text(), "behaviour: {dormant_outflow_days: 1}").behaviour) == date(2026, 10, 1)


def test_the_active_window_is_a_policy_value_and_named_in_the_reason() -> None:
    policy = Policy.from_texts(default_policy_text(), "behaviour: {active_txn_months: 1}")
    res = classify_behaviour(BehaviourInput(date(2026, 11, 21), 30 * 10**6, None, None, 9, 2), policy.behaviour)
    assert res.reasons[0].text.startswith("近1个月交易 9 笔 ≥ 9")
    assert P.behaviour.active_txn_months == 3


def test_the_advice_has_no_maturing_window_of_its_own() -> None:
    with pytest.raises(ValidationError, match="maturity.window_days"):
        Policy.from_texts(default_policy_text(), "advice: {maturing_days: 7}")
    assert "maturing_days" not in P.advice.model_dump()
