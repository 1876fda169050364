"""/tier <客户号>: which tier a customer is in, why, who maintains them, and what to do next."""

from __future__ import annotations

from datetime import timedelta

from bot.core.access import fetch_customer, fetched_extra, parse_customer_no
from bot.core.context import Context
from bot.core.errors import UserError
from bot.core.registry import command
from bot.core.reply import Reply, Table
from bot.core.sensitive import CustomerMoney, CustomerName, Phone, Text
from bot.store.customers import Profile, load_profile, with_profile_head
from bot.core.followup import followup_buttons
from rules.advice import Maturing, next_action
from rules.behaviour import BehaviourInput, classify_behaviour, outflow_reference_month
from rules.churn import LEVEL_ZH, churn_level
from rules.maturity import due_in
from rules.money import compare_wan, fmt_wan
from rules.tiering import MonthAum, TierInput, classify_tier

USAGE = "/tier <客户号>，例：/tier C0000001"


@command("tier", aliases=("分层", "客户分层", "客户等级", "等级"),
         summary="客户分层、原因、维护人与建议 Tier, why, who, next step", usage="/tier <客户号>",
         examples=("/tier C0000001",))
def tier(ctx: Context, args: list[str]) -> Reply:
    if not args:
        raise UserError("请提供客户号。Please give a customer number.", USAGE)
    if len(args) > 1:
        raise UserError("一次只能查询一个客户号。One customer number at a time.", USAGE)
    customer_no = parse_customer_no(args[0], USAGE)
    customer, org, rm = fetch_customer(ctx, customer_no, extend=with_profile_head)
    profile = load_profile(ctx.session, customer, org, rm, fetched_extra(ctx), ctx.policy.tiers.downgrade_months)
    if customer.kind == "corporate":
        from commands.tier_corporate import corporate_reply

        return corporate_reply(ctx, profile)
    return individual_reply(ctx, profile)


def individual_reply(ctx: Context, p: Profile) -> Reply:
    policy = ctx.policy
    c = p.customer
    complete = p.complete_months()
    point_fen = p.balance.aum_fen if p.balance else None
    tier_res = classify_tier(
        TierInput(c.tier, point_fen, p.balance.as_of if p.balance else None,
                  [MonthAum(m.month, m.avg_daily_fen, m.month_end_fen) for m in complete]),
        policy.tiers,
    )
    today = ctx.today
    current = point_fen if point_fen is not None else (complete[0].month_end_fen if complete else 0)
    ref_month = outflow_reference_month(p.data_date or today, policy.behaviour)
    before = next((m.month_end_fen for m in complete if m.month == ref_month), None)
    kinds = {h.kind for h in p.holdings}
    txn_3m = sum(m.txn_count for m in complete[:policy.behaviour.active_txn_months])
    behaviour = classify_behaviour(
        BehaviourInput(today, current, before, p.last_contact, txn_3m, len(kinds)), policy.behaviour
    )
    churn = churn_level(current, [m.month_end_fen for m in complete], policy.churn)
    # The same figure /churn and the push show as 流向他行 (seed 002: 针对性挽留): never hidden here.
    other_bank_fen = p.balance.outflow_other_bank_fen if p.balance is not None else 0
    horizon = today + timedelta(days=policy.maturity.lookahead_days)
    maturing = sorted((h for h in p.holdings
                       if h.maturity_date and h.kind in policy.maturity.kinds and today <= h.maturity_date <= horizon),
                      key=lambda h: (h.maturity_date, -h.amount_fen))  # soonest first: today's is the urgent one
    advice = next_action(
        today=today, tier=tier_res, behaviour_status=behaviour.status, churn=churn,
        maturing=[Maturing(h.kind, h.amount_fen, h.maturity_date) for h in maturing if h.maturity_date],
        maturing_days=policy.maturity.window_days, point_fen=current, policy=policy.tiers, amounts=not ctx.masked,
        other_bank_fen=other_bank_fen, last_contact=p.last_contact,
        stale_contact_days=policy.behaviour.dormant_no_contact_days,
    )

    masked = ctx.masked
    # Name, phone and amounts are typed: the masking policy renders them for DM or group.
    reply = Reply(title=Text.of("客户分层 · ", CustomerName(c.name), f"（{c.id}）"), summary=tier_res.tier)
    change = {"upgrade": "（本次升级）", "downgrade": "（本次降级）"}.get(tier_res.change, "")
    reply.add("分层", f"{tier_res.tier}{change}")
    reasons = tier_res.reasons if not masked else tier_res.reasons[-1:]
    reply.add("依据", "；".join(_mask_reason(r.text, masked) for r in reasons))
    if point_fen is not None and p.balance is not None:
        reply.add("金融资产", Text.of("时点 ", CustomerMoney(point_fen), f"（{p.balance.as_of}）") if not masked
                  else Text.of(CustomerMoney(point_fen)))
    if tier_res.downgrade_risk is not None:
        r = tier_res.downgrade_risk
        reply.add("降级风险", f"月日均低于标准已连续 {r.months_below}/{r.months_required} 个月"
                  + ("" if masked else f"（{compare_wan(r.latest_avg_fen, r.line_fen)}）"))
    else:
        reply.add("降级风险", "无")
    reply.add("行为状态", behaviour.status if masked else f"{behaviour.status}：{behaviour.reasons[0].text}")
    reply.add("服务模式", tier_res.service)
    reply.add("维护人", f"{p.rm.name}（{p.rm.id}）· {p.org.name}")
    reply.add("持有产品", f"{len(kinds)} 类 {len(p.holdings)} 笔" + (f"（{'、'.join(sorted(kinds))}）" if kinds else ""))
    churn_text = LEVEL_ZH[churn.level]
    if not masked:
        churn_text += f"：{churn.reasons[0].text}"
    reply.add("流失预警", churn_text)
    if other_bank_fen > 0:
        # A typed value: the masking policy shows the exact figure in a DM and a band in a group.
        reply.add("资金流向", Text.of("流向他行 ", CustomerMoney(other_bank_fen),
                                   "" if masked else "（需针对性挽留）"))
    if c.phone:
        reply.add("联系电话", Text.of(Phone(c.phone)))
    if maturing:
        rows = [[h.kind + ("" if masked else f" {h.product_name}"), Text.of(CustomerMoney(h.amount_fen)), f"{h.maturity_date}",
                 due_in(h.maturity_date, today) if h.maturity_date else ""] for h in maturing]
        reply.tables.append(Table(title=f"近 {policy.maturity.lookahead_days} 天到期", columns=["产品", "金额", "到期日", "距到期"], rows=rows))
    reply.add("建议", advice.text)
    reply.notes.append(f"数据日期 {p.data_date or '—'} · 口径 {tier_res.basis_label} · 规则 {policy.version}")
    if masked:
        reply.notes.append("群聊中客户信息已脱敏；详情请私聊查询。Masked for group channel.")
    reply.buttons = followup_buttons(c.id, f"tier:{c.id}")  # in every channel (README: Privacy)
    return reply


def _mask_reason(text: str, masked: bool) -> str:
    """Reasons quote exact balances; in a group only the outcome is kept."""
    if not masked:
        return text
    return text.split("→")[-1].strip() if "→" in text else "—"
