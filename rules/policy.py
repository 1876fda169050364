"""The policy: every threshold of DOMAIN.md as typed data, loaded from `policy.yaml`.

Banks differ (招行's private-banking line is 1000万, ICBC downgrades after 6 months), so no
number lives in code. `Policy.from_texts` merges a bank's override over the shipped defaults;
reading the files is the caller's job (`bot.config`), which keeps this module free of I/O.
"""

from __future__ import annotations

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
    active_contact_days: int


class DepositClassPolicy(_Frozen):
    source: str
    amount_small_below_yuan: Decimal
    amount_large_above_yuan: Decimal
    term_mid_from_months: int
    term_long_above_months: int
    freq_high_above: int
    freq_low_below: int


class ChurnPolicy(_Frozen):
    source: str
    baseline_months: int
    watch_ratio: Decimal
    warning_ratio: Decimal
    branch_notice_above_count: int
    recovery_months: int
    min_baseline_yuan: Decimal


class MaturityPolicy(_Frozen):
    source: str
    window_days: int
    lookahead_days: int
    kinds: list[str]


class CorporateClassRow(_Frozen):
    name: str
    avg_deposit_yuan: Decimal
    point_deposit_yuan: Decimal
    pos_monthly_yuan: Decimal
    payroll_headcount: int
    payroll_monthly_yuan: Decimal
    credit_cards: int


class CorporatePolicy(_Frozen):
    source: str
    classes: list[CorporateClassRow]
    no_loan_scale_min_avg_deposit_yuan: Decimal
    managed_by: dict[str, str]


class AdvicePolicy(_Frozen):
    source: str
    maturing_days: int


class SizeBounds(_Frozen):
    employees: int | None = None
    revenue: Decimal | None = None
    assets: Decimal | None = None

    def indicators(self) -> dict[str, Decimal]:
        return {k: Decimal(v) for k, v in self.model_dump().items() if v is not None}


class SizeIndustry(_Frozen):
    name: str
    aliases: list[str] = []
    large: SizeBounds
    medium: SizeBounds
    small: SizeBounds


class EnterpriseSizePolicy(_Frozen):
    source: str
    industries: list[SizeIndustry]


class Policy(_Frozen):
    version: str
    tiers: TierPolicy
    aum_bands_yuan: list[Decimal]
    behaviour: BehaviourPolicy
    deposit_class: DepositClassPolicy
    churn: ChurnPolicy
    maturity: MaturityPolicy
    corporate: CorporatePolicy
    advice: AdvicePolicy
    enterprise_size: EnterpriseSizePolicy

    @classmethod
    def from_texts(cls, *yaml_texts: str) -> "Policy":
        """Later texts override earlier ones: mappings merge key by key, lists are replaced."""
        merged: dict[str, Any] = {}
        for text in yaml_texts:
            data = yaml.safe_load(text) or {}
            if not isinstance(data, dict):
                raise ValueError("a policy file must be a YAML mapping")
            merged = _deep_merge(merged, data)
        return cls.model_validate(merged)


def default_policy_text() -> str:
    return resources.files("rules").joinpath("policy.yaml").read_text(encoding="utf-8")


def default_policy() -> Policy:
    return Policy.from_texts(default_policy_text())


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out
