"""Who is monitored for churn (issue 15, finding 5): seed 002's "存量金融资产5万元以上客户", one
policy value used by the rule, /churn, the branch notice counts and /summary alike."""

from __future__ import annotations

from sqlmodel import Session

from bot.store.push_lists import Scope, churn_counts, churn_rows
from bot.testing import DEMO_DATA_DATE, Harness
from rules.money import yuan_to_fen
from rules.policy import Policy, default_policy, default_policy_text

P = default_policy()
OLD_FLOOR = Policy.from_texts(default_policy_text(), "churn: {min_baseline_yuan: 10000}")


def test_baselines_under_5wan_are_not_listed_or_counted(bank: Harness) -> None:
    floor = yuan_to_fen(P.churn.min_baseline_yuan)
    with Session(bank.engine) as s:
        rows = list(churn_rows(s, P, DEMO_DATA_DATE, exclude_handled=False))
        wider = list(churn_rows(s, OLD_FLOOR, DEMO_DATA_DATE, exclude_handled=False))
        counts = churn_counts(s, P, DEMO_DATA_DATE)
    assert rows and all(r.baseline_fen >= floor for r in rows)
    small = {r.customer_id for r in wider if r.baseline_fen < floor}
    assert "C0000200" in small  # 3.6万 peak → 2.3万: a 长尾 drop the branch is not asked about
    assert small.isdisjoint(r.customer_id for r in rows)
    assert sum(n for n, _ in counts.values()) == len(rows)
    assert sum(w for _, w in counts.values()) == sum(r.level == "warning" for r in rows)
    listed = bank.ask("BM01", "/churn").text
    assert "C0000200" not in listed


def test_summary_counts_the_same_monitored_customers(bank: Harness) -> None:
    with Session(bank.engine) as s:
        rows = list(churn_rows(s, P, DEMO_DATA_DATE, Scope(org_path=None), exclude_handled=False))
    answer = bank.ask("REG01", "/summary")
    warning = sum(r.level == "warning" for r in rows)
    assert f"关注 {len(rows) - warning} 户、预警 {warning} 户" in answer.text, answer.text
