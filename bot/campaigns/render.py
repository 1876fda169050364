"""Campaign copy from Jinja2 templates: `campaign/<kind>.<variant>.j2`, one per channel variant.

Templates are files so that a bank's marketing and compliance staff can rewrite the copy
(RMBOT_TEMPLATES_DIR) without touching code; the data they get is assembled here, already
formatted, so a template holds wording only and cannot get numbers or dates wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from jinja2 import TemplateError

from bot.campaigns.catalogue import BankInfo, Catalogue, KindSpec, Product
from bot.campaigns.options import CampaignOptions
from bot.render.env import jinja_env
from rules.money import FEN_PER_WAN, FEN_PER_YUAN

VARIANTS: tuple[str, ...] = ("group", "dm", "sms")
VARIANT_ZH: dict[str, str] = {"group": "群发", "dm": "私信", "sms": "短信"}
VARIANT_TITLE: dict[str, str] = {"group": "群发（客户群）", "dm": "1对1 私信", "sms": "短信"}
WEEKDAYS = "一二三四五六日"


class TemplateProblem(RuntimeError):
    """A (bank-overridden) template is missing or broken: an operator's problem, not the RM's."""


@dataclass(frozen=True)
class ProductView:
    code: str
    name: str
    kind: str
    risk_level: str | None
    risk_text: str | None
    """"R2（中低风险）": the risk level must be stated in marketing (seed 003 §六(一))."""
    min_text: str
    term: str
    disclosure: str | None
    """The wording the product kind requires (docs/DOMAIN.md §6), or None."""


@dataclass(frozen=True)
class EventView:
    date: date | None
    date_text: str | None
    """"12月5日（周六）"."""
    time: str | None
    place: str | None

    @property
    def when(self) -> str:
        """"12月5日（周六）14:00", or "" when no date was given."""
        if self.date_text is None:
            return ""
        return self.date_text + (self.time or "")


@dataclass(frozen=True)
class DraftData:
    """Everything a campaign template may use."""

    bank: BankInfo
    branch_name: str
    kind: KindSpec
    event: EventView
    product: ProductView | None
    theme: str | None
    gift: str | None
    company: str | None
    festival: str | None
    author_name: str
    seats: int | None
    audience_total: int


def date_text(day: date) -> str:
    return f"{day.month}月{day.day}日（周{WEEKDAYS[day.weekday()]}）"


def money_text(fen: int) -> str:
    """Plain amounts for customers: 1000元起, 20万元起 (not the staff's 0.10万)."""
    if fen >= FEN_PER_WAN and fen % FEN_PER_WAN == 0:
        return f"{fen // FEN_PER_WAN}万元"
    if fen % FEN_PER_YUAN == 0:
        return f"{fen // FEN_PER_YUAN}元"
    return f"{Decimal(fen) / FEN_PER_YUAN:.2f}元"


def product_view(product: Product | None, catalogue: Catalogue) -> ProductView | None:
    if product is None:
        return None
    risk_text = None
    if product.risk_level:
        risk_text = f"{product.risk_level}（{catalogue.risk_levels.get(product.risk_level, '')}）"
    return ProductView(product.code, product.name, product.kind, product.risk_level, risk_text,
                       f"{money_text(product.min_fen)}起", product.term, catalogue.disclosure(product))


def build_data(catalogue: Catalogue, kind: KindSpec, options: CampaignOptions, branch_name: str,
               author_name: str, audience_total: int) -> DraftData:
    day = options.event_date
    event = EventView(day, date_text(day) if day else None, options.time, options.get("地点"))
    return DraftData(
        bank=catalogue.bank, branch_name=branch_name, kind=kind, event=event,
        product=product_view(options.product, catalogue),
        theme=options.get("主题") or kind.default_theme, gift=options.get("礼品"), company=options.get("单位"),
        festival=options.get("节日"), author_name=author_name, seats=kind.seats, audience_total=audience_total,
    )


def template_name(kind_id: str, variant: str) -> str:
    return f"campaign/{kind_id}.{variant}.j2"


def render_variant(data: DraftData, variant: str, templates_dir: str | None = None) -> str:
    try:
        template = jinja_env(templates_dir).get_template(template_name(data.kind.id, variant))
        raw = template.render(d=data, bank=data.bank, event=data.event, product=data.product)
    except TemplateError as exc:
        raise TemplateProblem(f"{template_name(data.kind.id, variant)}: {exc.__class__.__name__}: {exc}") from exc
    return tidy(raw, single_line=variant == "sms")


def render_all(data: DraftData, templates_dir: str | None = None) -> dict[str, str]:
    return {variant: render_variant(data, variant, templates_dir) for variant in VARIANTS}


def tidy(text: str, single_line: bool = False) -> str:
    """Templates may be laid out freely (optional parts leave empty lines behind); what customers
    get is one paragraph per line, no stray spaces, and an SMS on a single line."""
    lines = [line.strip() for line in text.strip().splitlines()]
    return ("" if single_line else "\n").join(line for line in lines if line)


def sms_length(text: str) -> int:
    """Characters as operators count them for a single SMS: every character, signature included."""
    return len(text)
