"""Enterprise size (大型/中型/小型/微型) per 《统计上大中小微型企业划分办法（2017）》.

Banks grade corporate customers and report 小微 lending by this national standard (seed 004's
客户分类方案 refers to it as 附表), so the bot must give the official answer and show the
arithmetic. The table lives in the policy; the standard's notes (说明) live here, because they
are how the table is read, not numbers a bank would change:

- 说明一: 大型、中型和小型企业须同时满足所列指标的下限，否则下划一档；微型企业只须满足所列指标
  中的一项即可. So the size is the highest level whose every lower bound is met, and anything
  failing a 小型 bound is 微型.
- 说明二: industries marked * are groupings (工业, 交通运输业 without 铁路运输业, 信息传输业,
  其他未列明行业): their members are policy aliases; excluded industries are named in
  `not_covered` so the bot can say why it cannot classify them.
- 说明三: the indicators follow the statistical system (期末从业人员数, 主营业务收入 or its
  substitute, 资产总计); the explanation says so, since RMs often hold other figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from rules.policy import EnterpriseSizePolicy, Policy, SizeIndustry, industry_key
from rules.reasons import Reason

LARGE, MEDIUM, SMALL, MICRO = "大型", "中型", "小型", "微型"
SIZES: tuple[str, ...] = (LARGE, MEDIUM, SMALL, MICRO)
_LEVELS: tuple[tuple[str, str], ...] = (("large", LARGE), ("medium", MEDIUM), ("small", SMALL))

# Indicator id → (Chinese name, the standard's symbol, unit). Order is the table's order.
INDICATORS: dict[str, tuple[str, str, str]] = {
    "employees": ("从业人员", "X", "人"),
    "revenue": ("营业收入", "Y", "万元"),
    "assets": ("资产总额", "Z", "万元"),
}

NOTE_THRESHOLDS = "《划分办法》说明一：大型、中型和小型企业须同时满足所列指标的下限，否则下划一档；微型企业只须满足所列指标中的一项即可"
_DEFINITIONS: dict[str, str] = {
    "employees": "从业人员指期末从业人员数，没有期末从业人员数的采用全年平均人员数代替",
    "revenue": (
        "营业收入按现行统计制度：工业、建筑业、限额以上批发和零售业、限额以上住宿和餐饮业等设置主营业务收入"
        "指标的行业采用主营业务收入，限额以下批发零售业采用商品销售额，限额以下住宿餐饮业采用营业额，"
        "农、林、牧、渔业采用营业总收入，其他行业采用营业收入"
    ),
    "assets": "资产总额采用资产总计代替",
}
NOTE_INDIVIDUAL = "个体工商户参照本办法进行划型"


class UnknownIndustry(ValueError):
    """The name matches no industry of the table; carries what the user may type instead."""

    def __init__(self, given: str, valid_names: list[str], suggestions: list[str] | None = None) -> None:
        self.given = given
        self.valid_names = valid_names
        self.suggestions = suggestions or []
        hint = f"您是否指：{'；'.join(self.suggestions)}？" if self.suggestions else ""
        super().__init__(f"未识别的行业：{given}。{hint}可选行业：{'，'.join(valid_names)}")


class IndustryNotCovered(ValueError):
    """The standard deliberately leaves this industry out (e.g. 铁路运输业): say so, don't guess."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"{name}不在《统计上大中小微型企业划分办法（2017）》划型范围内：{reason}")


class MissingIndicator(ValueError):
    """An indicator the industry's row needs was not given; the message names it in Chinese."""

    def __init__(self, industry: str, missing: list[str]) -> None:
        self.industry = industry
        self.missing = missing
        names = "、".join(f"{INDICATORS[m][0]}（{INDICATORS[m][1]}，{INDICATORS[m][2]}）" for m in missing)
        super().__init__(f"{industry}划型需要{names}，请补充后再试")


@dataclass(frozen=True)
class EnterpriseSize:
    size: str
    """大型 / 中型 / 小型 / 微型."""
    industry: str
    """Canonical industry name of the table (e.g. 工业 for 制造业)."""
    given_industry: str
    """What the caller typed, to show when an alias was mapped."""
    values: dict[str, Decimal]
    """The indicators that decided (employees / revenue / assets), in the table's units."""
    reasons: list[Reason] = field(default_factory=list)
    source: str = ""

    @property
    def label(self) -> str:
        return f"{self.size}企业"


def industry_names(policy: Policy | EnterpriseSizePolicy) -> list[str]:
    return [ind.name for ind in _section(policy).industries]


def resolve_industry(policy: Policy | EnterpriseSizePolicy, name: str) -> SizeIndustry:
    """Name or alias → the table row; excluded industries and unknown names raise distinctly."""
    section = _section(policy)
    key = industry_key(name)
    if not key:
        raise UnknownIndustry(name, industry_names(section))
    for ind in section.industries:
        if key in {industry_key(w) for w in (ind.name, *ind.aliases)}:
            return ind
    for excluded in section.not_covered:
        if key in {industry_key(w) for w in (excluded.name, *excluded.aliases)}:
            raise IndustryNotCovered(excluded.name, excluded.reason)
    raise UnknownIndustry(name, industry_names(section), _suggest(section, key))


def classify_enterprise_size(
    policy: Policy | EnterpriseSizePolicy,
    industry: str,
    employees: int | None,
    revenue_wan: Decimal | int | None,
    assets_wan: Decimal | int | None = None,
) -> EnterpriseSize:
    """Size by the official table and notes; every indicator is compared with every bound tried.

    Indicators the industry does not use may be None (or are ignored, with a note), so callers
    can pass what they hold on file without knowing each row of the table.
    """
    section = _section(policy)
    row = resolve_industry(section, industry)
    given = {
        "employees": _check_employees(employees),
        "revenue": _check_amount("营业收入", revenue_wan),
        "assets": _check_amount("资产总额", assets_wan),
    }
    used = [k for k in INDICATORS if k in row.small.indicators()]
    missing = [k for k in used if given[k] is None]
    if missing:
        raise MissingIndicator(row.name, missing)
    values: dict[str, Decimal] = {k: given[k] for k in used}  # type: ignore[misc]
    source = section.source
    reasons: list[Reason] = []

    mapped = industry_key(industry) != industry_key(row.name)
    if mapped or row.covers:
        text = f"「{industry}」按附表归入{row.name}" if mapped else f"{row.name}为附表中的行业组合类别"
        if row.covers:
            text += f"（《划分办法》说明二：{row.name}包括{row.covers}）"
        reasons.append(Reason("enterprise_size.industry", text, source, {"given": industry, "industry": row.name}))

    size = MICRO
    for level, level_zh in _LEVELS:
        bounds = getattr(row, level).indicators()
        checks = [(k, values[k], bounds[k], values[k] >= bounds[k]) for k in used]
        if all(ok for *_, ok in checks):
            text = "；".join(_compare(k, v, b) for k, v, b, _ in checks)
            verdict = f"同时满足{level_zh}下限" if len(checks) > 1 else f"满足{level_zh}下限"
            reasons.append(Reason(f"enterprise_size.{level}", f"{text} → {verdict} → {level_zh}", source,
                                  _inputs(checks)))
            size = level_zh
            break
        text = "；".join(_compare(k, v, b, show_ok=len(checks) > 1) for k, v, b, _ in checks)
        verdict = f"未同时满足{level_zh}下限" if len(checks) > 1 else f"不满足{level_zh}下限"
        reasons.append(Reason(f"enterprise_size.{level}", f"{text} → {verdict}，下划一档", source, _inputs(checks)))
    if size == MICRO:
        small = row.small.indicators()
        below = [(k, values[k], small[k]) for k in used if values[k] < small[k]]
        text = "；".join(_compare(k, v, b, show_ok=False) for k, v, b in below)
        reasons.append(Reason("enterprise_size.micro", f"微型企业只须满足所列指标中的一项即可：{text} → 微型",
                              source, {k: str(v) for k, v, _ in below}))

    for k, (name, _, _) in INDICATORS.items():
        if k not in used and given[k] is not None:
            reasons.append(Reason("enterprise_size.unused", f"{name}不是{row.name}的划型指标，未参与判定", source,
                                  {k: str(given[k])}))
    definitions = "；".join([*(_DEFINITIONS[k] for k in used), NOTE_INDIVIDUAL])
    reasons.append(Reason("enterprise_size.definitions", f"指标口径（《划分办法》说明三）：{definitions}。",
                          source))
    return EnterpriseSize(size, row.name, industry, values, reasons, source)


def _section(policy: Policy | EnterpriseSizePolicy) -> EnterpriseSizePolicy:
    return policy.enterprise_size if isinstance(policy, Policy) else policy


def _suggest(section: EnterpriseSizePolicy, key: str) -> list[str]:
    """Near names (substring either way) for inputs like 房地产 or 软件开发; two characters at least."""
    if len(key) < 2:
        return []
    out: list[str] = []
    for ind in section.industries:
        hits = [w for w in (ind.name, *ind.aliases) if key in industry_key(w) or industry_key(w) in key]
        if not hits:
            continue
        if ind.name in hits:
            out.append(ind.name)
            continue
        # Keep the longest forms only: 房地产中介服务 makes 房地产中介 redundant.
        longest = [w for w in hits if not any(w != o and industry_key(w) in industry_key(o) for o in hits)]
        out.append(f"{ind.name}（{'、'.join(longest)}）")
    return out


def _check_employees(value: int | None) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("employees must be an int (人数)")
    if value < 0:
        raise ValueError(f"从业人员不能为负数：{value}")
    return Decimal(value)


def _check_amount(name: str, value: Decimal | int | None) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        # Floats would make 49.99 万元 compare wrongly against 50 at the edges.
        raise TypeError(f"{name} must be a Decimal or int (万元), not {type(value).__name__}")
    amount = Decimal(value)
    if not amount.is_finite():
        raise ValueError(f"{name}不是有效数字：{value}")
    if amount < 0:
        raise ValueError(f"{name}不能为负数：{value}")
    return amount


def _num(value: Decimal) -> str:
    """40000 rather than 4E+4 or 40000.00: bounds read as the table prints them."""
    return format(value.normalize(), "f")


def _compare(key: str, value: Decimal, bound: Decimal, show_ok: bool = False) -> str:
    name, _, unit = INDICATORS[key]
    ok = value >= bound
    text = f"{name} {_num(value)}{unit} {'≥' if ok else '<'} {_num(bound)}{unit}"
    if show_ok:
        text += "（满足）" if ok else "（不满足）"
    return text


def _inputs(checks: list[tuple[str, Decimal, Decimal, bool]]) -> dict[str, object]:
    return {k: {"value": str(v), "bound": str(b), "met": ok} for k, v, b, ok in checks}
