"""The policy: every threshold of docs/DOMAIN.md as typed data, loaded from `policy.yaml`.

Banks differ (招行's private-banking line is 1000万, ICBC downgrades after 6 months), so no
number lives in code. `Policy.from_texts` merges a bank's override over the shipped defaults;
reading the files is the caller's job (`bot.config`), which keeps this module free of I/O.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from rules.money import yuan_to_fen


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TierRow(_Frozen):
    name: str
    min_yuan: Decimal
    service: str
    source: str = ""

    @property
    def min_fen(self) -> int:
        return yuan_to_fen(self.min_yuan)


class TierPolicy(_Frozen):
    source: str
    ladder: list[TierRow]
    downgrade_months: int = Field(ge=1, le=24)
    downgrade_source: str = ""
    near_upgrade_ratio: Decimal
    hnw_min_yuan: Decimal = Field(default=Decimal(200000), ge=0)
    """高净值 line for the summaries: ladder rows starting at or above it count as HNW."""

    @model_validator(mode="after")
    def _ladder_descending(self) -> "TierPolicy":
        mins = [row.min_yuan for row in self.ladder]
        if not mins or mins != sorted(mins, reverse=True) or len(set(mins)) != len(mins):
            raise ValueError("tiers.ladder must list strictly decreasing min_yuan, highest first")
        if mins[-1] != 0:
            raise ValueError("the last tier row must start at 0 so every customer has a tier")
        return self

    def rank(self, name: str) -> int:
        """0 is the highest tier; unknown names rank below every tier."""
        for i, row in enumerate(self.ladder):
            if row.name == name:
                return i
        return len(self.ladder)

    def row(self, name: str) -> TierRow | None:
        return next((r for r in self.ladder if r.name == name), None)


class BehaviourPolicy(_Frozen):
    source: str
    dormant_max_aum_yuan: Decimal
    dormant_no_contact_days: int
    dormant_outflow_days: int
    active_min_txn_3m: int
    """Transactions needed within the last `active_txn_months` complete months (the name is historical)."""
    active_contact_days: int
    active_txn_months: int = Field(default=3, ge=1, le=12)
    """The window of 活跃's transaction count, in complete months."""


class DepositClassPolicy(_Frozen):
    source: str
    amount_small_below_yuan: Decimal = Field(ge=0)
    amount_large_above_yuan: Decimal = Field(ge=0)
    term_short_min_months: int = Field(default=1, ge=0)
    term_short_max_months: int = Field(ge=1)
    term_long_above_months: int = Field(ge=1)
    freq_high_above: int = Field(ge=0)
    freq_low_below: int = Field(ge=0)

    @model_validator(mode="after")
    def _bands_ordered(self) -> "DepositClassPolicy":
        # Each band must be non-empty, or a value could fall into no class at all.
        if self.amount_small_below_yuan > self.amount_large_above_yuan:
            raise ValueError("deposit_class: amount_small_below_yuan must be ≤ amount_large_above_yuan")
        if not self.term_short_min_months <= self.term_short_max_months < self.term_long_above_months:
            raise ValueError("deposit_class: need term_short_min ≤ term_short_max < term_long_above")
        if self.freq_low_below > self.freq_high_above + 1:
            raise ValueError("deposit_class: freq_low_below must be ≤ freq_high_above + 1")
        return self


class ChurnPolicy(_Frozen):
    source: str
    baseline_months: int
    watch_ratio: Decimal
    warning_ratio: Decimal
    branch_notice_above_count: int
    recovery_months: int
    min_baseline_yuan: Decimal = Field(ge=0)
    """Monitored floor: customers whose baseline is under it are not churn cases (seed 002: 5万+)."""
    min_baseline_source: str = ""


class ImportPolicy(_Frozen):
    complete_coverage: Decimal = Field(default=Decimal("0.95"), gt=0, le=1)
    """A new balance date becomes current only when its customers reach this share of the previous
    date's (bot/store/data_dates.py); below it the date is kept as partial."""
    complete_coverage_reason: str = ""


class MaturityPolicy(_Frozen):
    source: str
    window_days: int
    lookahead_days: int
    kinds: list[str]


class CorporateClassRow(_Frozen):
    name: str
    avg_deposit_yuan: Decimal = Field(ge=0)
    point_deposit_yuan: Decimal = Field(ge=0)
    pos_monthly_yuan: Decimal = Field(ge=0)
    payroll_headcount: int = Field(ge=0)
    payroll_monthly_yuan: Decimal = Field(ge=0)
    credit_cards: int = Field(ge=0)


class CorporatePolicy(_Frozen):
    source: str
    classes: list[CorporateClassRow]
    """Highest first; the first row with any trigger met is the class."""
    strategic_name: str = "战略客户"
    """The class given by the manual strategic flag, above every row."""
    fallback_name: str = "潜在合作客户"
    """The class of a customer meeting no row: being marketed, no stable business yet."""
    no_loan_scale_min_avg_deposit_yuan: Decimal = Field(ge=0)
    no_loan_scale_source: str = ""
    managed_by: dict[str, str]

    @model_validator(mode="after")
    def _names_consistent(self) -> "CorporatePolicy":
        names = [self.strategic_name, *(row.name for row in self.classes), self.fallback_name]
        if len(set(names)) != len(names):
            raise ValueError(f"corporate: class names must be unique: {names}")
        missing = [n for n in names if n not in self.managed_by]
        if missing:
            raise ValueError(f"corporate.managed_by has no entry for: {', '.join(missing)}")
        return self


class AdvicePolicy(_Frozen):
    source: str

    @model_validator(mode="before")
    @classmethod
    def _no_second_window(cls, data: Any) -> Any:
        # One maturity window for the list, the push and the advice: the old duplicate is refused
        # by name rather than silently ignored.
        if isinstance(data, dict) and "maturing_days" in data:
            raise ValueError("advice.maturing_days was removed: the advice uses maturity.window_days")
        return data


class MaskingPolicy(_Frozen):
    """Group-channel masking beyond docs/DOMAIN.md §8's fixed rules (see bot.core.privacy)."""

    source: str = "docs/DOMAIN.md §8; JR/T 0171-2020 (balances are C2 personal financial information)"
    group_min_customers: int = Field(default=3, ge=1)
    """A sum over fewer customers than this is shown as a band in groups: over one or two
    customers it is (or nearly is) one customer's money."""


class SizeBounds(_Frozen):
    employees: int | None = Field(default=None, ge=0)
    revenue: Decimal | None = Field(default=None, ge=0)
    assets: Decimal | None = Field(default=None, ge=0)

    def indicators(self) -> dict[str, Decimal]:
        return {k: Decimal(v) for k, v in self.model_dump().items() if v is not None}


_KEY_DROP = re.compile(r"[\s、，,·・/]+")


def industry_key(name: str) -> str:
    """Match key for industry names: users type 农林牧渔业 for 农、林、牧、渔业, or full-width forms."""
    return _KEY_DROP.sub("", unicodedata.normalize("NFKC", name)).lower()


class SizeIndustry(_Frozen):
    name: str
    aliases: list[str] = []
    covers: str = ""
    """For the standard's * groupings (工业, 交通运输业...): what the grouping includes."""
    large: SizeBounds
    medium: SizeBounds
    small: SizeBounds

    @model_validator(mode="after")
    def _bounds_consistent(self) -> "SizeIndustry":
        # The same indicators at every level, and 大型 ≥ 中型 ≥ 小型: otherwise "下划一档" is undefined.
        levels = [self.large.indicators(), self.medium.indicators(), self.small.indicators()]
        if not levels[0] or any(set(lv) != set(levels[0]) for lv in levels):
            raise ValueError(f"enterprise_size.{self.name}: large/medium/small must use the same indicators")
        for key in levels[0]:
            if not levels[0][key] >= levels[1][key] >= levels[2][key]:
                raise ValueError(f"enterprise_size.{self.name}.{key}: need large ≥ medium ≥ small")
        return self


class NotCoveredIndustry(_Frozen):
    """An industry the standard excludes, named so the bot can say why instead of "unknown"."""

    name: str
    aliases: list[str] = []
    reason: str


class EnterpriseSizePolicy(_Frozen):
    source: str
    industries: list[SizeIndustry]
    not_covered: list[NotCoveredIndustry] = []

    @model_validator(mode="after")
    def _names_unique(self) -> "EnterpriseSizePolicy":
        seen: dict[str, str] = {}
        entries: list[tuple[str, list[str]]] = [(i.name, i.aliases) for i in self.industries]
        entries += [(n.name, n.aliases) for n in self.not_covered]
        for name, aliases in entries:
            for word in (name, *aliases):
                key = industry_key(word)
                if not key:
                    raise ValueError(f"enterprise_size: empty industry name or alias under {name}")
                if key in seen and seen[key] != name:
                    raise ValueError(f"enterprise_size: {word!r} is used by both {seen[key]} and {name}")
                seen[key] = name
        return self


class Policy(_Frozen):
    version: str
    tiers: TierPolicy
    aum_bands_yuan: list[Decimal]
    masking: MaskingPolicy = MaskingPolicy()
    behaviour: BehaviourPolicy
    deposit_class: DepositClassPolicy
    churn: ChurnPolicy
    maturity: MaturityPolicy
    corporate: CorporatePolicy
    advice: AdvicePolicy
    enterprise_size: EnterpriseSizePolicy
    imports: ImportPolicy = ImportPolicy()

    @classmethod
    def from_texts(cls, *yaml_texts: str) -> "Policy":
        """Later texts override earlier ones: mappings merge key by key, lists are replaced."""
        merged: dict[str, Any] = {}
        for text in yaml_texts:
            data = yaml.safe_load(text) or {}
            if not isinstance(data, dict):
                raise ValueError("a policy file must be a YAML mapping")
            merged = deep_merge(merged, data)
        return cls.model_validate(merged)


def default_policy_text() -> str:
    return resources.files("rules").joinpath("policy.yaml").read_text(encoding="utf-8")


def default_policy() -> Policy:
    return Policy.from_texts(default_policy_text())


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """A bank's override over shipped defaults: mappings merge key by key, lists are replaced."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out
