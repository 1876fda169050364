"""/tier for corporate customers: their class (战略/优质/持续贡献/潜在) and enterprise size."""

from __future__ import annotations

from decimal import Decimal

from bot.core.context import Context
from bot.core.reply import Reply, Table
from bot.store.customers import Profile
from bot.core.followup import followup_buttons
from rules.corporate import CorporateMetrics, classify_corporate
from rules.enterprise_size import classify_enterprise_size
from bot.core.sensitive import CustomerMoney, CustomerName, Text
from rules.money import FEN_PER_WAN

_CONTEXT_RULES = {"corporate.not_met", "corporate.managed_by", "corporate.qualitative", "corporate.scale"}
"""Reasons that explain context rather than the decision; shown elsewhere or left to /size."""

NEXT_STEP = {
    "战略客户": "分行牵头高层营销，拓展集团及下属子公司的综合合作",
    "优质客户": "持续跟踪经营与投资方向，挖掘融资、结算与代发需求，提升依存度",
    "持续贡献客户": "推进产业集群式批量营销，深化基础结算与代发，争取向优质客户转化",
    "潜在合作客户": "挖掘产业链上下游与商户资源，先以结算、代发切入建立合作",
}


def corporate_reply(ctx: Context, p: Profile) -> Reply:
    c, m = p.customer, p.corporate
    metrics = CorporateMetrics() if m is None else CorporateMetrics(
        avg_deposit_fen=m.avg_deposit_fen, point_deposit_fen=m.point_deposit_fen,
        pos_settlement_fen=m.pos_settlement_fen, payroll_headcount=m.payroll_headcount,
        payroll_fen=m.payroll_fen, credit_cards=m.credit_cards, loan_balance_fen=m.loan_balance_fen)
    cls = classify_corporate(ctx.policy, metrics, strategic=c.strategic)
    masked = ctx.masked
    # Name and amounts are typed: the masking policy renders them for DM or group.
    reply = Reply(title=Text.of("对公客户 · ", CustomerName(c.name), f"（{c.id}）"), summary=cls.name)
    reply.add("客户类别", cls.name)
    decisive = [r.text for r in cls.reasons if r.rule not in _CONTEXT_RULES]
    reply.add("依据", "；".join(decisive) if not masked else cls.name)
    if cls.scale_class:
        reply.add("无贷户规模", cls.scale_class)
    reply.add("企业规模", _size_text(ctx, p))
    reply.add("管理层级", f"{cls.managed_by}管理")
    reply.add("维护人", f"{p.rm.name}（{p.rm.id}）· {p.org.name}")
    if m is not None:
        def money(fen: int) -> Text:
            return Text.of(CustomerMoney(fen))

        reply.tables.append(Table(
            title=f"{m.month:%Y-%m} 业务数据",
            columns=["日均存款", "时点存款", "POS结算", "代发", "信用卡", "贷款余额"],
            rows=[[money(m.avg_deposit_fen), money(m.point_deposit_fen), money(m.pos_settlement_fen),
                   Text.of(f"{m.payroll_headcount}人/", money(m.payroll_fen)), f"{m.credit_cards}张",
                   money(m.loan_balance_fen)]]))
    reply.add("建议", NEXT_STEP.get(cls.name, "保持常规维护"))
    reply.notes.append(f"数据日期 {p.data_date or '—'} · 规则 {ctx.policy.version}")
    reply.buttons = followup_buttons(c.id, f"tier:{c.id}")  # in every channel (README: Privacy)
    return reply


def _size_text(ctx: Context, p: Profile) -> str:
    c = p.customer
    if not c.industry:
        return "行业未登记，无法划型"
    try:
        size = classify_enterprise_size(
            ctx.policy, c.industry, c.employees,
            Decimal(c.revenue_fen) / FEN_PER_WAN if c.revenue_fen is not None else None,
            Decimal(c.assets_fen) / FEN_PER_WAN if c.assets_fen is not None else None)
    except ValueError as exc:
        return f"资料不全，无法划型（{exc}）"
    if ctx.masked:
        return f"{size.size}企业（{size.industry}）"
    decisive = [r.text for r in size.reasons if r.rule == f"enterprise_size.{_LEVEL.get(size.size, '')}"
                or r.rule == "enterprise_size.micro"]
    return f"{size.size}企业（{size.industry}）" + (f"：{decisive[-1]}" if decisive else "")


_LEVEL = {"大型": "large", "中型": "medium", "小型": "small", "微型": "micro"}
