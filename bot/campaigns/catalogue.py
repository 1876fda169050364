"""The campaign catalogue as typed data: kinds, their audiences and options, products, disclosures.

Which customers a campaign targets and which products a bank may name change from bank to bank
and month to month, so they are data (`catalogue.yaml`, overridable like the policy), validated
here once so that a bad override fails at load time with the key that is wrong, not mid-draft.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from rules.money import yuan_to_fen
from rules.policy import deep_merge

OPTION_KEYS: dict[str, str] = {
    "日期": "date", "时间": "time", "地点": "place", "主题": "theme", "礼品": "gift",
    "单位": "company", "节日": "festival", "产品": "product", "支行": "branch",
}
"""Chinese option key → its English alias; both are accepted when typed."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BankInfo(_Frozen):
    name: str
    sms_signature: str
    sms_opt_out: str
    sms_max_chars: int = Field(ge=20, le=500)
    sms_source: str = ""


class Product(_Frozen):
    code: str = ""
    name: str
    kind: Literal["理财", "结构性存款", "大额存单", "定期存款", "基金", "保险", "储蓄国债"]
    risk_level: str | None = Field(default=None, pattern=r"^R[1-5]$")
    min_yuan: Decimal = Field(ge=0)
    term: str = ""
    enabled: bool = True

    @property
    def min_fen(self) -> int:
        return yuan_to_fen(self.min_yuan)


class AudienceSpec(_Frozen):
    """Which customers of the branch fit; `rule` names a query in `bot.store.campaigns`."""

    rule: Literal["dormant", "tiers", "age", "birthday", "payroll", "merchant", "inflow"]
    tiers: list[str] = []
    min_age: int | None = Field(default=None, ge=0, le=120)
    max_age: int | None = Field(default=None, ge=0, le=120)
    days: int = Field(default=30, ge=1, le=366)
    min_inflow_yuan: Decimal = Field(default=Decimal(100000), ge=0)
    min_ratio: Decimal = Field(default=Decimal("0.3"), ge=0)

    @model_validator(mode="after")
    def _rule_fields(self) -> AudienceSpec:
        if self.rule == "tiers" and not self.tiers:
            raise ValueError("audience rule `tiers` needs a list of tier names")
        if self.rule == "age" and self.min_age is None and self.max_age is None:
            raise ValueError("audience rule `age` needs min_age and/or max_age")
        if self.min_age is not None and self.max_age is not None and self.min_age > self.max_age:
            raise ValueError("audience: min_age must not exceed max_age")
        return self


class KindSpec(_Frozen):
    id: str = ""
    name: str
    aliases: list[str] = []
    source: str
    angle: str
    audience: AudienceSpec
    audience_with_festival: AudienceSpec | None = None
    seats: int | None = Field(default=None, ge=1)
    """Invitations per event (seed 000: 15 invited for 8–10 attending)."""
    required: list[str] = []
    optional: list[str] = []
    default_product: str | None = None
    default_theme: str | None = None

    @model_validator(mode="after")
    def _known_options(self) -> KindSpec:
        unknown = [k for k in [*self.required, *self.optional] if k not in OPTION_KEYS]
        if unknown:
            raise ValueError(f"unknown option keys {unknown}; known: {', '.join(OPTION_KEYS)}")
        return self

    @property
    def accepted(self) -> list[str]:
        return [*self.required, *self.optional]

    def usage(self) -> str:
        parts = [f"{k}=…" for k in self.required] + [f"[{k}=…]" for k in self.optional]
        return f"/campaign {self.name} " + " ".join(parts) if parts else f"/campaign {self.name}"


class Catalogue(_Frozen):
    version: str
    bank: BankInfo
    disclosures: dict[str, str]
    risk_levels: dict[str, str]
    products: dict[str, Product]
    kinds: dict[str, KindSpec]

    @model_validator(mode="before")
    @classmethod
    def _keys_are_ids(cls, data: Any) -> Any:
        """The mapping key is the id: write it into each entry so an entry knows its own code."""
        if isinstance(data, dict):
            data = dict(data)
            for section, field in (("kinds", "id"), ("products", "code")):
                entries = data.get(section)
                if isinstance(entries, dict):
                    data[section] = {k: ({**v, field: str(k)} if isinstance(v, dict) else v) for k, v in entries.items()}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Catalogue:
        words: dict[str, str] = {}
        for kid, kind in self.kinds.items():
            for word in (kid, kind.name, *kind.aliases):
                key = word.lower()
                if key in words and words[key] != kid:
                    raise ValueError(f"campaign word {word!r} is used by both {words[key]} and {kid}")
                words[key] = kid
            if kind.default_product and kind.default_product not in self.products:
                raise ValueError(f"kinds.{kid}.default_product {kind.default_product!r} is not a product code")
        for code, product in self.products.items():
            if product.risk_level and product.risk_level not in self.risk_levels:
                raise ValueError(f"products.{code}: risk level {product.risk_level} not in risk_levels")
            if product.kind in ("理财", "基金", "结构性存款") and not product.risk_level:
                raise ValueError(f"products.{code}: a {product.kind} product needs its risk level (seed 003 §六(一))")
        return self

    def kind(self, word: str) -> KindSpec | None:
        """By id, Chinese name or alias, case-insensitively."""
        key = word.strip().lower()
        for kind in self.kinds.values():
            if key in (kind.id, kind.name.lower(), *(a.lower() for a in kind.aliases)):
                return kind
        return None

    def product(self, word: str) -> Product | None:
        """By code (case-insensitive) or exact name; withdrawn products are not found."""
        key = word.strip()
        found = next((p for p in self.products.values() if p.code.lower() == key.lower() or p.name == key), None)
        return found if found is not None and found.enabled else None

    def disclosure(self, product: Product | None) -> str | None:
        return self.disclosures.get(product.kind) if product is not None else None

    @classmethod
    def from_texts(cls, *yaml_texts: str) -> Catalogue:
        merged: dict[str, Any] = {}
        for text in yaml_texts:
            data = yaml.safe_load(text) or {}
            if not isinstance(data, dict):
                raise ValueError("a campaign catalogue must be a YAML mapping")
            merged = deep_merge(merged, data)
        return cls.model_validate(merged)


def shipped_text() -> str:
    return resources.files("bot.campaigns").joinpath("catalogue.yaml").read_text(encoding="utf-8")


def load_catalogue(override: Path | None = None) -> Catalogue:
    """Shipped catalogue merged with the bank's file; cached per file version (path and mtime)."""
    if override is None:
        return _cached(None, 0.0)
    return _cached(str(override), override.stat().st_mtime)


@lru_cache(maxsize=4)
def _cached(path: str | None, _mtime: float) -> Catalogue:
    texts = [shipped_text()]
    if path is not None:
        texts.append(Path(path).read_text(encoding="utf-8"))
    return Catalogue.from_texts(*texts)
