"""Churn early warning (seed 002 §五(四)): current AUM against the recent peak.

Baseline = highest month-end AUM of the previous N complete months. ≤ 80% → 关注 (查询),
≤ 50% → 预警. A 支行 with more than 10 customers at a level gets a 查询通知 / 预警通知.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from rules.money import compare_wan, fmt_ratio_line, ratio_parts, yuan_to_fen
from rules.policy import ChurnPolicy
from rules.reasons import Reason

Level = Literal["none", "watch", "warning"]
LEVEL_ZH: dict[str, str] = {"none": "正常", "watch": "关注", "warning": "预警"}


@dataclass(frozen=True)
class ChurnResult:
    level: Level
    baseline_fen: int | None
    ratio: Decimal | None
    reasons: list[Reason]


def churn_level(current_fen: int, previous_month_ends: list[int], policy: ChurnPolicy) -> ChurnResult:
    """`previous_month_ends`: month-end AUM of the previous complete months, most recent first."""
    window = previous_month_ends[: policy.baseline_months]
    if not window:
        return ChurnResult("none", None, None, [Reason("churn.no_history", "无历史月末数据，暂不评估流失", policy.source)])
    baseline = max(window)
    if baseline < yuan_to_fen(policy.min_baseline_yuan):
        return ChurnResult("none", baseline, None, [Reason(
            "churn.small", f"基线 {compare_wan(baseline, yuan_to_fen(policy.min_baseline_yuan))}，不纳入流失监测",
            policy.source)])
    ratio = (Decimal(current_fen) / Decimal(baseline)).quantize(Decimal("0.0001"))
    cur_text, base_text, pct = ratio_parts(current_fen, baseline, policy.warning_ratio, policy.watch_ratio)
    head = f"当前 {cur_text} / 近{len(window)}个月最高月末 {base_text} = {pct}"
    inputs = {"current_fen": current_fen, "baseline_fen": baseline}
    if Decimal(current_fen) <= Decimal(baseline) * policy.warning_ratio:
        level: Level = "warning"
        text = f"{head} ≤ {fmt_ratio_line(policy.warning_ratio)} → 预警"
    elif Decimal(current_fen) <= Decimal(baseline) * policy.watch_ratio:
        level = "watch"
        text = f"{head} ≤ {fmt_ratio_line(policy.watch_ratio)} → 关注"
    else:
        level = "none"
        text = f"{head} > {fmt_ratio_line(policy.watch_ratio)} → 正常"
    return ChurnResult(level, baseline, ratio, [Reason(f"churn.{level}", text, policy.source, inputs)])


@dataclass(frozen=True)
class BranchNotice:
    kind: Literal["查询通知", "预警通知"]
    count: int
    reason: Reason


def branch_notices(watch_or_worse: int, warning: int, policy: ChurnPolicy) -> list[BranchNotice]:
    """`watch_or_worse` counts customers at ≤ 80% (warnings included), `warning` those at ≤ 50%."""
    limit = policy.branch_notice_above_count
    out = []
    if watch_or_worse > limit:
        out.append(BranchNotice("查询通知", watch_or_worse, Reason(
            "churn.branch_query", f"{watch_or_worse} 户资产 ≤ 基线 {fmt_ratio_line(policy.watch_ratio)}（> {limit} 户）→ 查询通知",
            policy.source)))
    if warning > limit:
        out.append(BranchNotice("预警通知", warning, Reason(
            "churn.branch_warning", f"{warning} 户资产 ≤ 基线 {fmt_ratio_line(policy.warning_ratio)}（> {limit} 户）→ 预警通知，督导支行网点进行挽留",
            policy.source)))
    return out
