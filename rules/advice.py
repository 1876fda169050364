"""The suggested next action: the single most urgent thing an RM should do for a customer.

Order of urgency follows the seeds: keep money that is leaving (churn warning, seed 002 §五(四)),
keep money that is maturing (资金承接), protect the tier, wake sleepers (seed 000), then grow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from rules.behaviour import DORMANT, POTENTIAL
from rules.churn import ChurnResult
from rules.money import fmt_threshold_wan, fmt_wan
from rules.policy import TierPolicy
from rules.reasons import Reason
from rules.tiering import TierResult


@dataclass(frozen=True)
class Maturing:
    kind: str
    amount_fen: int
    maturity_date: date


def next_action(
    *,
    today: date,
    tier: TierResult,
    behaviour_status: str,
    churn: ChurnResult,
    maturing: list[Maturing],
    maturing_days: int,
    point_fen: int,
    policy: TierPolicy,
    amounts: bool = True,
) -> Reason:
    """`amounts=False` for group channels: advice must not reveal balances (DOMAIN.md §8)."""
    src = "rmbot advice"
    if churn.level == "warning":
        return Reason("advice.churn_warning", "立即电话联系，了解资金去向（是否流向他行），针对性挽留并跟进产品", src)
    soon = [m for m in maturing if 0 <= (m.maturity_date - today).days <= maturing_days]
    if soon:
        first = min(soon, key=lambda m: m.maturity_date)
        total = sum(m.amount_fen for m in soon)
        total_text = f"合计 {fmt_wan(total)}，" if amounts else ""
        return Reason("advice.maturing",
                      f"{len(soon)} 笔产品 {maturing_days} 天内到期（{total_text}最早 {first.maturity_date:%m-%d}），"
                      "提前联系做好到期承接（续存/转大额存单/理财）", src)
    if churn.level == "watch":
        return Reason("advice.churn_watch", "资产较近期高点明显下降，建议致电关怀、了解需求", src)
    if tier.downgrade_risk is not None:
        r = tier.downgrade_risk
        return Reason("advice.downgrade_risk",
                      f"月日均低于{tier.tier}标准已 {r.months_below}/{r.months_required} 个月，"
                      f"需提升至 {fmt_threshold_wan(r.line_fen)} 以上以保留等级与权益", src)
    if behaviour_status == DORMANT:
        return Reason("advice.dormant", "沉睡客户：邀请参加网点答谢/网沙活动，先关怀后营销", src)
    nxt = tier.next_tier
    if nxt is not None and point_fen >= nxt.min_fen * policy.near_upgrade_ratio:
        gap = nxt.min_fen - point_fen
        if gap > 0:
            how_far = f"仅差 {fmt_wan(gap)}" if amounts else "差距不大"
            return Reason("advice.near_upgrade", f"距{nxt.name}{how_far}，可推荐资产配置助其升级", src)
    if behaviour_status == POTENTIAL:
        return Reason("advice.potential", "潜在客户：了解需求，推荐基金定投/理财等产品，提升持有产品数", src)
    return Reason("advice.maintain", "保持常规维护，关注资产变化", src)
