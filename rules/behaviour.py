"""Behaviour status, orthogonal to the tier: 活跃 / 潜在 / 沉睡 (seed 004, seed 000).

沉睡 is seed 000's 网沙 target (low balance, no RM contact, money flowing out), not the
regulator's 5-year 沉睡账户. The three statuses partition customers: whoever is neither dormant
nor active is 潜在 — a customer with needs the bank does not yet serve.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from rules.money import compare_wan, fmt_gap, yuan_to_fen
from rules.policy import BehaviourPolicy
from rules.reasons import Reason

ACTIVE, POTENTIAL, DORMANT = "活跃客户", "潜在客户", "沉睡客户"


@dataclass(frozen=True)
class BehaviourInput:
    today: date
    aum_fen: int
    aum_fen_before: int | None
    """AUM `dormant_outflow_days` ago: the month-end `outflow_reference_month` picks, if known."""
    last_contact: date | None
    txn_count_3m: int
    """Transactions over the last `policy.active_txn_months` complete months."""
    product_kinds: int


@dataclass(frozen=True)
class BehaviourResult:
    status: str
    reasons: list[Reason]


def classify_behaviour(data: BehaviourInput, policy: BehaviourPolicy) -> BehaviourResult:
    src = policy.source
    line = yuan_to_fen(policy.dormant_max_aum_yuan)
    days_since = (data.today - data.last_contact).days if data.last_contact else None
    contact_text = "从未联系" if days_since is None else f"{days_since} 天未联系"
    low = data.aum_fen < line
    quiet = days_since is None or days_since > policy.dormant_no_contact_days
    outflow = data.aum_fen_before is not None and data.aum_fen < data.aum_fen_before
    if low and quiet and outflow:
        assert data.aum_fen_before is not None
        return BehaviourResult(DORMANT, [Reason(
            "behaviour.dormant",
            f"AUM {compare_wan(data.aum_fen, line)}，{contact_text}"
            f"（> {policy.dormant_no_contact_days} 天），近 {policy.dormant_outflow_days} 天净流出 "
            f"{fmt_gap(data.aum_fen_before - data.aum_fen)} → 沉睡客户",
            src, {"aum_fen": data.aum_fen, "days_since_contact": days_since},
        )])
    recent_contact = days_since is not None and days_since <= policy.active_contact_days
    if data.txn_count_3m >= policy.active_min_txn_3m or recent_contact:
        why = (f"近{policy.active_txn_months}个月交易 {data.txn_count_3m} 笔 ≥ {policy.active_min_txn_3m}"
               if data.txn_count_3m >= policy.active_min_txn_3m
               else f"{days_since} 天前有客户经理联系（≤ {policy.active_contact_days} 天）")
        return BehaviourResult(ACTIVE, [Reason("behaviour.active", f"{why} → 活跃客户", src,
                                               {"txn_count_3m": data.txn_count_3m})])
    trend = "" if data.aum_fen_before is None else f"，{asset_trend(data.aum_fen, data.aum_fen_before, policy)}"
    return BehaviourResult(POTENTIAL, [Reason(
        "behaviour.potential",
        f"近{policy.active_txn_months}个月交易 {data.txn_count_3m} 笔 < {policy.active_min_txn_3m}，{contact_text}"
        f"{trend}，持有 {data.product_kinds} 类产品 → 潜在客户（有待开发）",
        src, {"txn_count_3m": data.txn_count_3m, "product_kinds": data.product_kinds},
    )])


def outflow_reference_month(on: date, policy: BehaviourPolicy) -> date:
    """The month (its first day) whose month-end stands for "AUM `dormant_outflow_days` ago".

    Only month-ends are kept for history, so the window is read at the complete month-end
    nearest to `on − days` (the earlier one on a tie), never the month of `on` itself. /tier,
    the 沉睡 campaign audience and /summary's 沉睡 count all call this, so they agree."""
    target = on - timedelta(days=policy.dormant_outflow_days)
    first_of_on = on.replace(day=1)
    end_before = target.replace(day=1) - timedelta(days=1)  # month-end before target's month
    end_of = _month_end(target)  # month-end of target's month
    best = end_before if (target - end_before) <= (end_of - target) or end_of >= first_of_on else end_of
    return best.replace(day=1)


def _month_end(d: date) -> date:
    nxt = (d.replace(day=28) + timedelta(days=4)).replace(day=1)
    return nxt - timedelta(days=1)


def asset_trend(now_fen: int, before_fen: int, policy: BehaviourPolicy) -> str:
    """The direction in words with the amount: a customer who lost half is "净流出", not "未增长"."""
    days = policy.dormant_outflow_days
    if now_fen > before_fen:
        return f"近 {days} 天资产增加 {fmt_gap(now_fen - before_fen)}"
    if now_fen == before_fen:
        return f"近 {days} 天资产持平"
    share = f"（{_drop_pct(now_fen, before_fen)}）" if before_fen > 0 else ""
    return f"近 {days} 天资产净流出 {fmt_gap(before_fen - now_fen)}{share}"


def _drop_pct(now_fen: int, before_fen: int) -> str:
    drop = (Decimal(before_fen - now_fen) * 100 / Decimal(before_fen)).quantize(Decimal("1"), rounding=ROUND_HALF_UP)
    return f"降 {drop}%" if drop > 0 else "小幅下降"
