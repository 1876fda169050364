"""`日期=2026-12-05 地点=西湖支行三楼` → checked campaign options, or a Chinese message saying why not.

RMs type options on a phone: keys in Chinese or English, dates in several common forms, and a
place with a space in it (the chat parser splits on spaces, so a word without `=` continues the
value before it). Everything that ends up in customer-facing copy is bounded in length here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from bot.campaigns.catalogue import OPTION_KEYS, Catalogue, KindSpec, Product

MAX_LEN: dict[str, int] = {"地点": 30, "主题": 30, "单位": 30, "礼品": 20, "节日": 10, "时间": 20, "日期": 20,
                           "产品": 40, "支行": 16}
MAX_DAYS_AHEAD = 366
_EN_TO_ZH = {en: zh for zh, en in OPTION_KEYS.items()}
_COLON_KEY = re.compile(r"^(" + "|".join(map(re.escape, [*OPTION_KEYS, *_EN_TO_ZH])) + r"):(.*)$", re.IGNORECASE)
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(?:\s*[-~至到]\s*([01]?\d|2[0-3]):([0-5]\d))?$")
_ISO = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_CN_FULL = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})[日号]?$")
_CN_SHORT = re.compile(r"^(\d{1,2})月(\d{1,2})[日号]?$")
_BRANCH = re.compile(r"^[A-Z0-9]{2,16}$")
EXAMPLE = "日期=2026-12-05 地点=西湖支行三楼"


class OptionError(ValueError):
    """A message for the user (Chinese first); the command turns it into a clear reply."""


@dataclass(frozen=True)
class CampaignOptions:
    values: dict[str, str] = field(default_factory=dict)
    """Canonical Chinese key → the value as typed (trimmed)."""
    event_date: date | None = None
    time: str | None = None
    product: Product | None = None
    branch: str | None = None

    def get(self, key: str) -> str | None:
        return self.values.get(key)


def split_options(args: list[str]) -> dict[str, str]:
    """Syntax only: tokens → {key: value}; raises OptionError for malformed input."""
    out: dict[str, str] = {}
    current: str | None = None
    for token in args:
        token = token.strip()
        if not token:
            continue
        key, value = _key_value(token)
        if key is None:
            if current is None:
                raise OptionError(f"无法识别「{token[:20]}」：选项格式为 键=值，例如 {EXAMPLE}。Options are key=value.")
            out[current] = f"{out[current]} {token}".strip()
            continue
        canonical = key if key in OPTION_KEYS else _EN_TO_ZH.get(key.lower())
        if canonical is None:
            raise OptionError(f"未知选项「{key[:10]}」；可用：{'、'.join(OPTION_KEYS)}。Unknown option.")
        if canonical in out:
            raise OptionError(f"选项「{canonical}」重复。Option given twice.")
        out[canonical] = value.strip()
        current = canonical
    for key, value in out.items():
        if not value:
            raise OptionError(f"选项「{key}」没有值，例如 {EXAMPLE}。Empty option value.")
        if len(value) > MAX_LEN.get(key, 30):
            raise OptionError(f"选项「{key}」过长（{len(value)} 字，最多 {MAX_LEN.get(key, 30)} 字）。Option too long.")
    return out


def _key_value(token: str) -> tuple[str | None, str]:
    if "=" in token:
        key, _, value = token.partition("=")
        return key.strip(), value
    colon = _COLON_KEY.match(token)
    if colon:
        return colon.group(1), colon.group(2)
    return None, token


def check_options(raw: dict[str, str], kind: KindSpec, catalogue: Catalogue, today: date) -> CampaignOptions:
    """Semantics: the kind accepts these keys, required ones are there, values make sense."""
    allowed = set(kind.accepted) | {"支行"}
    extra = [k for k in raw if k not in allowed]
    if extra:
        accepted = "、".join(kind.accepted) or "（无）"
        raise OptionError(f"「{kind.name}」不接受选项 {'、'.join(extra)}；可用选项：{accepted}。Option not used by this campaign.")
    missing = [k for k in kind.required if k not in raw]
    if missing:
        raise OptionError(f"缺少选项：{'、'.join(missing)}。例：{kind.usage()}。Missing options.")
    event_date = parse_event_date(raw["日期"], today) if "日期" in raw else None
    time = _check_time(raw["时间"]) if "时间" in raw else None
    product = None
    if "产品" in raw:
        product = catalogue.product(raw["产品"])
        if product is None:
            codes = "、".join(f"{p.code} {p.name}" for p in catalogue.products.values() if p.enabled)
            raise OptionError(f"未找到产品「{raw['产品']}」；可用产品：{codes}。Unknown product.")
    elif kind.default_product:
        product = catalogue.product(kind.default_product)
    branch = None
    if "支行" in raw:
        branch = raw["支行"].upper()
        if not _BRANCH.match(branch):
            raise OptionError(f"支行号格式不正确：{raw['支行']}（如 SB01）。Bad branch id.")
    values = dict(raw)
    if event_date is not None:
        values["日期"] = event_date.isoformat()  # "12月5日" means a year only relative to today: pin it
    if time is not None:
        values["时间"] = time
    return CampaignOptions(values, event_date, time, product, branch)


def parse_event_date(text: str, today: date) -> date:
    """An event date: today or later, within a year; `12月5日` means its next occurrence."""
    value = text.strip()
    found = _ISO.match(value) or _CN_FULL.match(value)
    try:
        if found:
            day = date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
        elif short := _CN_SHORT.match(value):
            month, dom = int(short.group(1)), int(short.group(2))
            day = date(today.year, month, dom)
            if day < today:
                day = date(today.year + 1, month, dom)
        else:
            raise OptionError(f"日期格式不正确：{value}（应为 2026-12-05、2026/12/5 或 12月5日）。Bad date.")
    except ValueError as exc:
        if isinstance(exc, OptionError):
            raise
        raise OptionError(f"日期不存在：{value}。Invalid date.") from exc
    if day < today:
        raise OptionError(f"活动日期 {day} 已过（今天是 {today}），请填写今天或以后的日期。The date is in the past.")
    if (day - today).days > MAX_DAYS_AHEAD:
        raise OptionError(f"活动日期 {day} 超过一年以后，请确认日期。The date is more than a year ahead.")
    return day


def _check_time(text: str) -> str:
    m = _TIME.match(text.strip())
    if not m:
        raise OptionError(f"时间格式不正确：{text}（应为 14:00 或 14:00-16:00）。Bad time.")
    start = f"{int(m.group(1)):02d}:{m.group(2)}"
    if m.group(3) is None:
        return start
    end = f"{int(m.group(3)):02d}:{m.group(4)}"
    if end <= start:
        raise OptionError(f"结束时间应晚于开始时间：{text}。End before start.")
    return f"{start}-{end}"
