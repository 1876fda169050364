"""Deposit customer classes by amount, term and frequency (seed 004《银行定期客户营销方案》§2).

The seed's bands touch ("1万元以下 / 1万元至10万元 / 10万元以上", "1个月至1年 / 1年至3年 / 3年以上",
"5次以下 / 5次至10次 / 10次以上"), so a value on a line could land in two classes. Each line is
given to exactly one class, and the policy says which:

- amount: 小额 < 1万 ≤ 中等 ≤ 10万 < 大额 (1万 and 10万 are 中等);
- term: 短期 1–12 个月 (一年期 is 短期, as in "一年以内（含一年）"), 中期 13–36 个月 (三年期 is 中期),
  长期 > 36 个月 (五年期); terms under 1 month (活期, 通知存款) are no 定期 term class;
- frequency (deposits in the last 12 months): 低频 < 5 ≤ 中频 ≤ 10 < 高频.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from rules.money import fmt_threshold_wan, wan_vs, yuan_to_fen
from rules.policy import DepositClassPolicy, Policy
from rules.reasons import Reason

SMALL, MEDIUM, LARGE = "小额", "中等", "大额"
SHORT, MID, LONG = "短期", "中期", "长期"
HIGH_FREQ, MID_FREQ, LOW_FREQ = "高频", "中频", "低频"


@dataclass(frozen=True)
class DepositClass:
    dimension: str
    """amount | term | frequency."""
    label: str
    """小额/中等/大额, 短期/中期/长期 or 高频/中频/低频."""
    reasons: list[Reason] = field(default_factory=list)

    @property
    def customer_label(self) -> str:
        """As the seed names the segment: 大额存款客户, 短期存款客户, 高频存款客户."""
        return f"{self.label}存款客户"


@dataclass(frozen=True)
class DepositProfile:
    """The three dimensions together; a dimension not asked about is None."""

    amount: str | None
    term: str | None
    frequency: str | None
    reasons: list[Reason] = field(default_factory=list)


def classify_amount(policy: Policy | DepositClassPolicy, amount_fen: int) -> DepositClass:
    section = _section(policy)
    _check_int("存款金额", amount_fen)
    small_below = yuan_to_fen(section.amount_small_below_yuan)
    large_above = yuan_to_fen(section.amount_large_above_yuan)
    low, high = fmt_threshold_wan(small_below), fmt_threshold_wan(large_above)
    if amount_fen < small_below:
        label, text = SMALL, f"存款金额 {_wan(amount_fen, small_below)} < {low} → {SMALL}存款客户"
    elif amount_fen > large_above:
        label, text = LARGE, f"存款金额 {_wan(amount_fen, large_above)} > {high} → {LARGE}存款客户"
    else:
        shown = _wan(amount_fen, small_below, large_above)
        label, text = MEDIUM, f"存款金额 {low} ≤ {shown} ≤ {high} → {MEDIUM}存款客户"
    inputs = {"amount_fen": amount_fen, "small_below_fen": small_below, "large_above_fen": large_above}
    return DepositClass("amount", label, [Reason("deposit.amount", text, section.source, inputs)])


def classify_term(policy: Policy | DepositClassPolicy, term_months: int) -> DepositClass:
    section = _section(policy)
    _check_int("存期", term_months)
    if term_months < section.term_short_min_months:
        raise ValueError(
            f"存期 {term_months} 个月不足 {section.term_short_min_months} 个月（如活期、通知存款），不属于定期存期分类"
        )
    short_max, long_above = section.term_short_max_months, section.term_long_above_months
    term = _months(term_months)
    if term_months <= short_max:
        label, text = SHORT, f"存期 {term} ≤ {_months(short_max)} → {SHORT}存款客户"
    elif term_months > long_above:
        label, text = LONG, f"存期 {term} > {_months(long_above)} → {LONG}存款客户"
    else:
        label, text = MID, f"存期 {_months(short_max)} < {term} ≤ {_months(long_above)} → {MID}存款客户"
    inputs = {"term_months": term_months, "short_max_months": short_max, "long_above_months": long_above}
    return DepositClass("term", label, [Reason("deposit.term", text, section.source, inputs)])


def classify_frequency(policy: Policy | DepositClassPolicy, deposits_per_year: int) -> DepositClass:
    """Counts deposits over the last 12 months; none at all is 低频 (still a customer to win back)."""
    section = _section(policy)
    _check_int("存款次数", deposits_per_year)
    high_above, low_below = section.freq_high_above, section.freq_low_below
    n = deposits_per_year
    if n > high_above:
        label, text = HIGH_FREQ, f"近一年存款 {n} 次 > {high_above} 次 → {HIGH_FREQ}存款客户"
    elif n < low_below:
        label, text = LOW_FREQ, f"近一年存款 {n} 次 < {low_below} 次 → {LOW_FREQ}存款客户"
    else:
        label, text = MID_FREQ, f"近一年存款 {low_below} 次 ≤ {n} 次 ≤ {high_above} 次 → {MID_FREQ}存款客户"
    inputs = {"deposits_per_year": n, "high_above": high_above, "low_below": low_below}
    return DepositClass("frequency", label, [Reason("deposit.frequency", text, section.source, inputs)])


def classify_deposit(
    policy: Policy | DepositClassPolicy,
    *,
    amount_fen: int | None = None,
    term_months: int | None = None,
    deposits_per_year: int | None = None,
) -> DepositProfile:
    """Any subset of the three dimensions: callers often know the amount but not the frequency."""
    parts: dict[str, DepositClass | None] = {
        "amount": None if amount_fen is None else classify_amount(policy, amount_fen),
        "term": None if term_months is None else classify_term(policy, term_months),
        "frequency": None if deposits_per_year is None else classify_frequency(policy, deposits_per_year),
    }
    reasons = [r for part in parts.values() if part is not None for r in part.reasons]
    labels = {k: None if part is None else part.label for k, part in parts.items()}
    return DepositProfile(labels["amount"], labels["term"], labels["frequency"], reasons)


def _section(policy: Policy | DepositClassPolicy) -> DepositClassPolicy:
    return policy.deposit_class if isinstance(policy, Policy) else policy


def _check_int(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name}不能为负数：{value}")


def _months(months: int) -> str:
    """12 → 1年, 36 → 3年, 18 → 18个月: terms are sold in years when they are whole years."""
    return f"{months // 12}年" if months % 12 == 0 else f"{months}个月"


def _wan(value_fen: int, *lines_fen: int) -> str:
    """9999.99元 is not "1.00万 < 1万": the shared rule of rules.money.wan_vs."""
    return wan_vs(value_fen, *lines_fen)
