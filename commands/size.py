"""/size: enterprise size (大型/中型/小型/微型) of a company from its industry and figures.

RMs size a prospect at the first visit, from what the owner tells them, to know which loan
products and 小微 policies apply; so the command takes raw figures rather than a customer
number, reads no customer data, and shows the rule per indicator with the standard it follows.
"""

from __future__ import annotations

import re
from decimal import Decimal

from bot.core.context import Context
from bot.core.errors import UserError
from bot.core.registry import command
from bot.core.reply import Reply, Section
from rules.enterprise_size import (
    INDICATORS,
    IndustryNotCovered,
    MissingIndicator,
    UnknownIndustry,
    classify_enterprise_size,
)

USAGE = "/size <行业> <从业人员(人)> <营业收入(万元)> [资产总额(万元)]"
USAGE_HINT = f"{USAGE}；不需要的指标可填 -，金额可带 万/亿，如 /size 建筑业 - 6000 5000"

# Input sanity, not business thresholds: beyond these a figure is a typo (the largest Chinese
# employers have ~1.5 million staff; the largest non-financial balance sheets are ~5万亿元).
MAX_EMPLOYEES = 10_000_000
MAX_WAN = Decimal(10_000_000_000)  # 100万亿元
MAX_PLACES_WAN = 6  # 万元 to the 分

_PLACEHOLDERS = {"-", "—", "--", "无", "/"}
_INT = re.compile(r"^(\d{1,12})(?:人|名)?$")
_AMOUNT = re.compile(r"^(\d{1,15}(?:\.\d{1,12})?)(万元|万|亿元|亿)?$")


@command(
    "size",
    aliases=("企业规模", "规模", "划型"),
    summary="企业规模划型（大中小微）Enterprise size",
    usage=USAGE,
    examples=("/size 工业 250 3000", "/size 批发业 5 1000", "/size 建筑业 - 6000 5000"),
)
def size(ctx: Context, args: list[str]) -> Reply:
    if not args:
        raise UserError("请提供行业、从业人员和营业收入。Please give the industry and figures.", USAGE_HINT)
    if len(args) > 4:
        raise UserError(f"参数过多（{len(args)} 个），最多为 行业、从业人员、营业收入、资产总额。Too many arguments.",
                        USAGE_HINT)
    industry, *figures = args
    figures += [""] * (3 - len(figures))
    employees = _employees(figures[0])
    revenue = _amount("营业收入", figures[1])
    assets = _amount("资产总额", figures[2])
    try:
        result = classify_enterprise_size(ctx.policy, industry, employees, revenue, assets)
    except (UnknownIndustry, IndustryNotCovered, MissingIndicator) as exc:
        raise UserError(str(exc), USAGE_HINT) from exc

    # Employees arrive as int, amounts as Decimal: shown through one Decimal path.
    given: dict[str, Decimal | None] = {
        "employees": None if employees is None else Decimal(employees), "revenue": revenue, "assets": assets}
    reply = Reply(title="企业规模划型", summary=f"{result.label}（{result.industry}）")
    shown_industry = result.industry if result.given_industry == result.industry else (
        f"{result.given_industry} → {result.industry}")
    reply.add("行业", shown_industry)
    for key, (name, symbol, unit) in INDICATORS.items():
        if key in result.values:
            reply.add(f"{name}({symbol})", f"{_plain(result.values[key])}{unit}")
        elif (value := given[key]) is not None:
            reply.add(f"{name}({symbol})", f"{_plain(value)}{unit}（不参与本行业划型）")
    reply.add("划型结果", result.label)
    steps = [r.text for r in result.reasons if r.rule != "enterprise_size.definitions"]
    reply.sections.append(Section(title="判定过程", text="\n".join(f"• {s}" for s in steps)))
    reply.notes.extend(r.text for r in result.reasons if r.rule == "enterprise_size.definitions")
    reply.notes.append(f"依据：{result.source}")
    return reply


def _employees(raw: str) -> int | None:
    text = raw.replace(",", "").strip()
    if text == "" or text in _PLACEHOLDERS:
        return None
    if text.startswith("-"):
        raise UserError(f"从业人员不能为负数：{raw[:20]}。Must not be negative.", USAGE_HINT)
    m = _INT.match(text)
    if m is None:
        raise UserError(f"从业人员须为非负整数（人）：{raw[:20]}。Employees must be a whole number.", USAGE_HINT)
    value = int(m.group(1))
    if value > MAX_EMPLOYEES:
        raise UserError(f"从业人员 {value} 人超出合理范围（≤ {MAX_EMPLOYEES} 人），请检查。Number too large.",
                        USAGE_HINT)
    return value


def _amount(name: str, raw: str) -> Decimal | None:
    """万元 by default; 亿 is accepted because owners quote large revenue that way."""
    text = raw.replace(",", "").strip()
    if text == "" or text in _PLACEHOLDERS:
        return None
    if text.startswith("-"):
        raise UserError(f"{name}不能为负数：{raw[:20]}。Must not be negative.", USAGE_HINT)
    m = _AMOUNT.match(text)
    if m is None:
        raise UserError(f"{name}须为数字（单位万元，可带 万/亿）：{raw[:20]}。Not a number.", USAGE_HINT)
    value = Decimal(m.group(1))
    if m.group(2) in ("亿", "亿元"):
        value *= 10_000
    if value > MAX_WAN:
        raise UserError(f"{name}超出合理范围（≤ 100万亿元），请检查单位（万元）。Number too large.", USAGE_HINT)
    if -value.normalize().as_tuple().exponent > MAX_PLACES_WAN:  # type: ignore[operator]
        raise UserError(f"{name}精度过高：{raw[:20]}（单位万元，最多 6 位小数）。Too many decimals.", USAGE_HINT)
    return value


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")
