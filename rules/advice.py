"""The suggested next action: the single most urgent thing an RM should do for a customer.

Order of urgency follows the seeds: keep money that is leaving (churn warning, seed 002 §五(四)),
keep money that is maturing (资金承接), protect the tier, wake sleepers (seed 000), then grow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from rules.behaviour import DORMANT, POTENTIAL
from rules.churn import ChurnResult
from rules.maturity import due_in
from rules.money import fmt_gap, fmt_threshold_wan, fmt_wan, wan_vs, yuan_to_fen
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
    other_bank_fen: int = 0,
    last_contact: date | None = None,
    stale_contact_days: int = 180,
) -> Reason:
    """`amounts=False` for group channels: advice must not reveal balances (docs/DOMAIN.md §8).

    `other_bank_fen` is the money that left for other banks (seed 002: "对流向他行的资金进行针对性
    挽留和后续产品跟进"), so a falling customer who moved money away gets that advice, not a
    generic call; `last_contact` lets a high tier nobody has met get a first visit first."""
    src = "rmbot advice"
    other = ""
    if other_bank_fen > 0:
        other = f"资金流向他行 {wan_vs(other_bank_fen)}" if amounts else "部分资金流向他行"
    retain = "针对性挽留：了解转出原因与他行产品/利率，对比推荐我行大额存单、理财等，并做好后续产品跟进"
    if churn.level == "warning":
        if other:
            return Reason("advice.churn_warning_other_bank", f"预警且{other}：立即电话联系，{retain}", src)
        return Reason("advice.churn_warning", "立即电话联系，了解资金去向（是否流向他行），针对性挽留并跟进产品", src)
    soon = [m for m in maturing if 0 <= (m.maturity_date - today).days <= maturing_days]
    if soon:
        first = min(soon, key=lambda m: m.maturity_date)
        total = sum(m.amount_fen for m in soon)
        total_text = f"合计 {fmt_wan(total)}，" if amounts else ""
        when = due_in(first.maturity_date, today)
        earliest = f"最早 {when}" if (first.maturity_date - today).days <= 1 else f"最早 {first.maturity_date:%m-%d} 到期"
        tail = f"；另{other}，一并挽留" if other else ""
        return Reason("advice.maturing",
                      f"{len(soon)} 笔产品 {maturing_days} 天内到期（{total_text}{earliest}），"
                      f"提前联系做好到期承接（续存/转大额存单/理财）{tail}", src)
    if other:
        level = "资产较近期高点明显下降，" if churn.level == "watch" else ""
        return Reason("advice.other_bank", f"{level}{other}：尽快联系，{retain}", src)
    if churn.level == "watch":
        return Reason("advice.churn_watch", "资产较近期高点明显下降，建议致电关怀、了解需求", src)
    row = policy.row(tier.tier)
    hnw = row is not None and row.min_fen >= yuan_to_fen(policy.hnw_min_yuan)
    if hnw and (last_contact is None or (today - last_contact).days > stale_contact_days):
        since = "从未联系" if last_contact is None else f"已 {(today - last_contact).days} 天未联系"
        return Reason("advice.first_visit",
                      f"{tier.tier}{since}：尽快安排首次/回访面谈（{tier.service}），了解资产配置需求", src)
    if tier.change == "upgrade":
        return Reason("advice.upgraded",
                      f"刚升级为{tier.tier}：告知新等级的权益与服务（{tier.service}），安排一对一面谈做资产配置检视", src)
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
            how_far = f"仅差 {fmt_gap(gap)}" if amounts else "差距不大"
            return Reason("advice.near_upgrade", f"距{nxt.name}{how_far}，可推荐资产配置助其升级", src)
    if behaviour_status == POTENTIAL:
        if hnw:
            return Reason("advice.potential_hnw",
                          f"{tier.tier}（潜在客户）：按「{tier.service}」了解资产配置需求，推荐大额存单、理财、保险等"
                          "组合，提升持有产品数", src)
        return Reason("advice.potential", "潜在客户：了解需求，推荐基金定投/理财等产品，提升持有产品数", src)
    return Reason("advice.maintain", "保持常规维护，关注资产变化", src)
