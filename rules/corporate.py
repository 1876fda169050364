"""Corporate customer class (战略/优质/持续贡献/潜在合作) and the 无贷户 scale layer (DOMAIN §5).

Seed 004《银行客户分类方案》decides who serves a company (分行管战略、优质; 支行管持续贡献、潜在),
so an RM needs the class *and* the trigger behind it: one met trigger is enough, and the
answer names it with the numbers. Only the quantitative triggers are automated; the seed's
qualitative ones (重点支持行业, 企业网银日常结算, 特殊贡献) need a person, and the reasons say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from rules.money import fmt_threshold_wan, wan_vs, yuan_to_fen
from rules.policy import CorporateClassRow, CorporatePolicy, Policy
from rules.reasons import Reason

SCALE_ABOVE, SCALE_BELOW = "规模以上", "规模以下"

STRATEGIC_CRITERIA = "央企/省属龙头、国内500强或行业100强、签订战略合作协议等"
QUALITATIVE_NOTE = (
    "定性条件（纳入重点支持行业且贡献较大、开立企业网银并日常结算、对我行有特殊贡献）需人工认定，"
    "未纳入自动判断；分类由支行初步划分，季度前十个工作日内报分行公司零售部审议"
)

# Trigger ids, in the seed's order; used as Reason rule suffixes and in `triggers`.
TRIGGERS: tuple[str, ...] = ("avg_deposit", "point_deposit", "pos", "payroll", "credit_cards")


@dataclass
class CorporateMetrics:
    """The latest month of `corporate_monthly`, amounts in 分; plain so callers build it freely."""

    avg_deposit_fen: int = 0
    """日均对公存款."""
    point_deposit_fen: int = 0
    """时点对公存款 at the latest 月末/季末/年末."""
    pos_settlement_fen: int = 0
    """POS 月结算量."""
    payroll_headcount: int = 0
    """代发工资人数 in the month."""
    payroll_fen: int = 0
    """月代发额."""
    credit_cards: int = 0
    """信用卡张数 issued through the company."""
    loan_balance_fen: int = 0
    """贷款余额: 0 makes the customer a 无贷户."""


@dataclass(frozen=True)
class ScaleClass:
    scale: str | None
    """规模以上 / 规模以下 for 无贷户; None for 有贷户 (the layer does not apply)."""
    reasons: list[Reason] = field(default_factory=list)


@dataclass(frozen=True)
class CorporateClass:
    name: str
    """战略客户 / 优质客户 / 持续贡献客户 / 潜在合作客户 (names from the policy)."""
    managed_by: str
    """分行 or 支行, from `corporate.managed_by`."""
    quantitative_name: str
    """The class by the numbers alone; differs from `name` only for flagged 战略客户."""
    triggers: tuple[str, ...]
    """Trigger ids met for `quantitative_name` (empty for 潜在合作客户)."""
    scale_class: str | None
    """规模以上 / 规模以下 for 无贷户, None for 有贷户."""
    reasons: list[Reason] = field(default_factory=list)


def classify_corporate(
    policy: Policy | CorporatePolicy, metrics: CorporateMetrics, *, strategic: bool = False
) -> CorporateClass:
    """Strategic flag first, then the policy rows highest first; any one trigger of a row suffices."""
    section = _section(policy)
    _check(metrics)
    source = section.source
    reasons: list[Reason] = []

    quantitative = section.fallback_name
    met: tuple[str, ...] = ()
    for row in section.classes:
        hits, misses = _evaluate(section, row, metrics)
        if hits:
            quantitative, met = row.name, tuple(t for t, _ in hits)
            for trigger, text in hits:
                # Under the strategic flag the numbers only say what else is met: the line must
                # not end "→ 优质客户" beside a verdict of 战略客户.
                outcome = f"（达{row.name}标准）" if strategic else f" → {row.name}"
                reasons.append(Reason(f"corporate.{trigger}", f"{text}{outcome}", source,
                                      _trigger_inputs(trigger, row, metrics)))
            break
        reasons.append(Reason("corporate.not_met", f"未达{row.name}任一量化标准：{'；'.join(misses)}", source,
                              {"class": row.name}))

    if quantitative == section.fallback_name and not strategic:
        if _has_business(metrics):
            text = f"已有业务往来，但未达任一量化标准 → {section.fallback_name}（继续营销、提升合作）"
        else:
            text = f"尚未与我行开展业务（各项指标均为 0）→ {section.fallback_name}（营销中）"
        reasons.append(Reason("corporate.fallback", text, source, {}))

    name = quantitative
    if strategic:
        name = section.strategic_name
        extra = ("；量化标准未达任一客户类别" if quantitative == section.fallback_name
                 else f"；量化标准另达{quantitative}")
        reasons.insert(0, Reason("corporate.strategic",
                                 f"已人工认定为{section.strategic_name}（{STRATEGIC_CRITERIA}），优先于量化标准{extra}",
                                 source, {"strategic": True}))

    managed_by = section.managed_by[name]
    reasons.append(Reason("corporate.managed_by", f"{name}由{managed_by}管理（{_division(section)}）", source,
                          {"class": name, "managed_by": managed_by}))
    scale = scale_class(section, metrics)
    reasons.extend(scale.reasons)
    reasons.append(Reason("corporate.qualitative", QUALITATIVE_NOTE, source))
    return CorporateClass(name, managed_by, quantitative, met, scale.scale, reasons)


def scale_class(policy: Policy | CorporatePolicy, metrics: CorporateMetrics) -> ScaleClass:
    """Seed 004 layers only 无贷户 by 日均存款; 有贷户 are layered by size elsewhere, so None."""
    section = _section(policy)
    _check(metrics)
    source = section.no_loan_scale_source or section.source
    if metrics.loan_balance_fen > 0:
        return ScaleClass(None, [Reason(
            "corporate.scale",
            f"有贷户（贷款余额 {_wan(metrics.loan_balance_fen)}）：规模以上/以下仅适用于无贷户，"
            "有贷户按客户规模（战略性、大型、中型、小企业）分层",
            source, {"loan_balance_fen": metrics.loan_balance_fen})])
    line = yuan_to_fen(section.no_loan_scale_min_avg_deposit_yuan)
    avg = metrics.avg_deposit_fen
    if avg >= line:
        scale, text = SCALE_ABOVE, f"无贷户：日均存款 {_wan(avg, line)} ≥ {fmt_threshold_wan(line)} → {SCALE_ABOVE}"
    else:
        scale, text = SCALE_BELOW, f"无贷户：日均存款 {_wan(avg, line)} < {fmt_threshold_wan(line)} → {SCALE_BELOW}"
    return ScaleClass(scale, [Reason("corporate.scale", text, source,
                                     {"avg_deposit_fen": avg, "line_fen": line})])


def _wan(value_fen: int, *lines_fen: int) -> str:
    """Precise enough against every line of the metric (rules.money.wan_vs): 9,999.99万 beside
    持续贡献客户 is not "10000.00万", which would read as past 优质客户's 1亿."""
    return wan_vs(value_fen, *lines_fen)


def _metric_lines(section: CorporatePolicy, attr: str) -> list[int]:
    return [yuan_to_fen(getattr(row, attr)) for row in section.classes]


def _section(policy: Policy | CorporatePolicy) -> CorporatePolicy:
    return policy.corporate if isinstance(policy, Policy) else policy


def _division(section: CorporatePolicy) -> str:
    """"分行管战略客户、优质客户；支行管持续贡献客户、潜在合作客户", built from the policy."""
    by_org: dict[str, list[str]] = {}
    for cls, org in section.managed_by.items():
        by_org.setdefault(org, []).append(cls)
    return "；".join(f"{org}管{'、'.join(classes)}" for org, classes in by_org.items())


def _check(m: CorporateMetrics) -> None:
    for name in ("avg_deposit_fen", "point_deposit_fen", "pos_settlement_fen", "payroll_headcount",
                 "payroll_fen", "credit_cards", "loan_balance_fen"):
        value = getattr(m, name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"CorporateMetrics.{name} must be an int (分 or a count), got {type(value).__name__}")
        if value < 0:
            raise ValueError(f"对公指标不能为负数：{name}={value}")


def _has_business(m: CorporateMetrics) -> bool:
    return any((m.avg_deposit_fen, m.point_deposit_fen, m.pos_settlement_fen, m.payroll_headcount,
                m.payroll_fen, m.credit_cards, m.loan_balance_fen))


def _evaluate(section: CorporatePolicy, row: CorporateClassRow,
              m: CorporateMetrics) -> tuple[list[tuple[str, str]], list[str]]:
    """(met triggers with their text, one-line misses) for one class row."""
    hits: list[tuple[str, str]] = []
    misses: list[str] = []

    def money(trigger: str, label: str, value: int, attr: str) -> None:
        line = yuan_to_fen(getattr(row, attr))
        shown = _wan(value, *_metric_lines(section, attr))
        if value >= line:
            hits.append((trigger, f"{label} {shown} ≥ {fmt_threshold_wan(line)}"))
        else:
            misses.append(f"{label} {shown} < {fmt_threshold_wan(line)}")

    money("avg_deposit", "日均对公存款", m.avg_deposit_fen, "avg_deposit_yuan")
    money("point_deposit", "时点对公存款（月末/季末/年末）", m.point_deposit_fen, "point_deposit_yuan")
    money("pos", "POS 月结算量", m.pos_settlement_fen, "pos_monthly_yuan")

    pay_line = yuan_to_fen(row.payroll_monthly_yuan)
    heads_ok = m.payroll_headcount >= row.payroll_headcount
    amount_ok = m.payroll_fen >= pay_line
    heads = f"代发人数 {m.payroll_headcount}人 {'≥' if heads_ok else '<'} {row.payroll_headcount}人"
    amount = (f"月代发额 {_wan(m.payroll_fen, *_metric_lines(section, 'payroll_monthly_yuan'))} "
              f"{'≥' if amount_ok else '<'} {fmt_threshold_wan(pay_line)}")
    if heads_ok and amount_ok:
        hits.append(("payroll", f"代发工资：{heads} 且 {amount}"))
    elif heads_ok or amount_ok:
        misses.append(f"代发工资：{heads}，{amount}（人数与金额须同时达标）")
    else:
        misses.append(f"代发工资：{heads}，{amount}")

    if m.credit_cards >= row.credit_cards:
        hits.append(("credit_cards", f"信用卡 {m.credit_cards}张 ≥ {row.credit_cards}张"))
    else:
        misses.append(f"信用卡 {m.credit_cards}张 < {row.credit_cards}张")
    return hits, misses


def _trigger_inputs(trigger: str, row: CorporateClassRow, m: CorporateMetrics) -> dict[str, object]:
    if trigger == "avg_deposit":
        return {"avg_deposit_fen": m.avg_deposit_fen, "line_fen": yuan_to_fen(row.avg_deposit_yuan)}
    if trigger == "point_deposit":
        return {"point_deposit_fen": m.point_deposit_fen, "line_fen": yuan_to_fen(row.point_deposit_yuan)}
    if trigger == "pos":
        return {"pos_settlement_fen": m.pos_settlement_fen, "line_fen": yuan_to_fen(row.pos_monthly_yuan)}
    if trigger == "payroll":
        return {"payroll_headcount": m.payroll_headcount, "headcount_line": row.payroll_headcount,
                "payroll_fen": m.payroll_fen, "line_fen": yuan_to_fen(row.payroll_monthly_yuan)}
    return {"credit_cards": m.credit_cards, "line": row.credit_cards}
