"""The individual tier ladder with 快升缓降: upgrade at once, downgrade only after N months.

Banks tier on 金融资产 (AUM) by 月日均 (monthly average daily balance) and fall back to the
point-in-time balance when no monthly figure exists; the answer must say which it used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from rules.money import compare_wan, fmt_threshold_wan
from rules.policy import TierPolicy, TierRow
from rules.reasons import Reason


@dataclass(frozen=True)
class MonthAum:
    month: date
    """First day of the month."""
    avg_daily_fen: int
    month_end_fen: int


@dataclass(frozen=True)
class TierInput:
    held_tier: str | None
    point_fen: int | None
    point_date: date | None
    complete_months: list[MonthAum] = field(default_factory=list)
    """Complete months only, most recent first."""


@dataclass(frozen=True)
class DowngradeRisk:
    line_fen: int
    months_below: int
    months_required: int
    latest_avg_fen: int


@dataclass(frozen=True)
class TierResult:
    tier: str
    service: str
    held_tier: str | None
    basis: Literal["month_avg", "point", "none"]
    basis_label: str
    basis_fen: int
    change: Literal["none", "upgrade", "downgrade", "new"]
    downgrade_risk: DowngradeRisk | None
    next_tier: TierRow | None
    """The next row up, for "差 X 万升级" advice; None at the top."""
    reasons: list[Reason]


def ladder_row(amount_fen: int, policy: TierPolicy) -> TierRow:
    for row in policy.ladder:
        if amount_fen >= row.min_fen:
            return row
    return policy.ladder[-1]


def classify_tier(data: TierInput, policy: TierPolicy) -> TierResult:
    src = policy.source
    if data.complete_months:
        latest = data.complete_months[0]
        basis, basis_fen = "month_avg", latest.avg_daily_fen
        basis_label = f"{latest.month:%Y-%m} 月日均"
    elif data.point_fen is not None:
        basis, basis_fen = "point", data.point_fen
        basis_label = f"{data.point_date or ''} 时点余额".strip()
    else:
        lowest = policy.ladder[-1]
        reason = Reason("tier.no_data", f"无资产数据 → {lowest.name}", src)
        return TierResult(lowest.name, lowest.service, data.held_tier, "none", "无数据", 0, "none",
                          None, _next_row(lowest, policy), [reason])

    by_basis = ladder_row(basis_fen, policy)
    reasons = [_ladder_reason(basis_label, basis_fen, by_basis, policy)]
    # 快升: the point-in-time balance reaching a higher line upgrades at once.
    point = data.point_fen if data.point_fen is not None else basis_fen
    by_best = ladder_row(max(basis_fen, point), policy)
    held = policy.row(data.held_tier) if data.held_tier else None

    if held is None or policy.rank(by_best.name) < policy.rank(held.name):
        tier = by_best
        change: Literal["none", "upgrade", "downgrade", "new"] = "new" if held is None else "upgrade"
        if by_best is not by_basis:
            reasons.append(Reason(
                "tier.fast_upgrade",
                f"时点余额 {compare_wan(point, by_best.min_fen, *_lines(policy))} → 即时升级为{by_best.name}（快升）",
                src, {"point_fen": point, "line_fen": by_best.min_fen},
            ))
        elif change == "upgrade":
            reasons.append(Reason("tier.upgrade", f"由{held.name}升级为{tier.name}", src))
        return TierResult(tier.name, tier.service, data.held_tier, basis, basis_label, basis_fen,
                          change, None, _next_row(tier, policy), reasons)

    if policy.rank(by_basis.name) <= policy.rank(held.name):
        return TierResult(held.name, held.service, data.held_tier, basis, basis_label, basis_fen,
                          "none", None, _next_row(held, policy), reasons)

    # Below the held tier's line: 缓降, count consecutive complete months under it.
    below = 0
    for month in data.complete_months:
        if month.avg_daily_fen >= held.min_fen:
            break
        below += 1
    required = policy.downgrade_months
    if below >= required:
        reasons.append(Reason(
            "tier.downgrade",
            f"月日均连续 {below} 个月 < {fmt_threshold_wan(held.min_fen)}（≥ {required} 个月）→ 由{held.name}降为{by_basis.name}",
            policy.downgrade_source, {"months_below": below, "required": required},
        ))
        return TierResult(by_basis.name, by_basis.service, data.held_tier, basis, basis_label, basis_fen,
                          "downgrade", None, _next_row(by_basis, policy), reasons)
    risk = DowngradeRisk(held.min_fen, below, required, basis_fen)
    reasons.append(Reason(
        "tier.downgrade_risk",
        f"月日均 {compare_wan(basis_fen, held.min_fen, *_lines(policy))}，已连续 {below}/{required} 个月，"
        f"暂保留{held.name}（缓降）",
        policy.downgrade_source, {"months_below": below, "required": required, "line_fen": held.min_fen},
    ))
    return TierResult(held.name, held.service, data.held_tier, basis, basis_label, basis_fen,
                      "none", risk, _next_row(held, policy), reasons)


def _ladder_reason(label: str, amount: int, row: TierRow, policy: TierPolicy) -> Reason:
    i = policy.rank(row.name)
    upper = policy.ladder[i - 1] if i > 0 else None
    if row.min_fen > 0:
        text = f"{label} {compare_wan(amount, row.min_fen, *_lines(policy))} → {row.name}"
    else:
        assert upper is not None
        text = f"{label} {compare_wan(amount, upper.min_fen, *_lines(policy))} → {row.name}"
    return Reason("tier.ladder", text, row.source or policy.source,
                  {"amount_fen": amount, "line_fen": row.min_fen, "basis": label})


def _lines(policy: TierPolicy) -> list[int]:
    """Every line of the ladder: a figure beside one line must not read as past another."""
    return [row.min_fen for row in policy.ladder if row.min_fen > 0]


def _next_row(row: TierRow, policy: TierPolicy) -> TierRow | None:
    i = policy.rank(row.name)
    return policy.ladder[i - 1] if 0 < i <= len(policy.ladder) - 1 else None
