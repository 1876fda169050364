"""Masking for group channels (DOMAIN.md §8; JR/T 0171-2020: balances and phones are C2 data)."""

from __future__ import annotations

from decimal import Decimal

from rules.money import fmt_threshold_wan, yuan_to_fen

# Two-character surnames keep both characters: 欧阳** not 欧*** .
COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 令狐 夏侯 轩辕 端木 独孤 南宫 西门 百里 呼延 万俟 澹台 公冶 太史 申屠 钟离 闻人 赫连".split()
)


def mask_name(name: str) -> str:
    name = name.strip()
    if len(name) <= 1:
        return name
    if len(name) > 4:  # organisations: keep the head and the legal form, hide the rest
        return name[:2] + "*" * (len(name) - 6) + name[-4:] if len(name) > 8 else name[:2] + "*" * (len(name) - 2)
    keep = 2 if name[:2] in COMPOUND_SURNAMES and len(name) > 2 else 1
    return name[:keep] + "*" * (len(name) - keep)


def mask_phone(phone: str | None) -> str:
    if not phone:
        return "—"
    digits = phone.strip()
    if len(digits) < 8:
        return "*" * len(digits)
    return digits[:3] + "****" + digits[-4:]


def mask_tail(number: str | None, keep: int = 4) -> str:
    """ID and account numbers: only the last 4 digits."""
    if not number:
        return "—"
    return "****" + number[-keep:]


def aum_band(fen: int, bands_yuan: list[Decimal]) -> str:
    """An AUM band such as `20–50万` instead of the exact balance."""
    lines = [yuan_to_fen(b) for b in bands_yuan]
    if fen < lines[1]:
        return f"{fmt_threshold_wan(lines[1])}以下"
    for low, high in zip(lines[1:], lines[2:]):
        if low <= fen < high:
            return f"{fmt_threshold_wan(low)[:-1]}–{fmt_threshold_wan(high)}"
    return f"{fmt_threshold_wan(lines[-1])}以上"
