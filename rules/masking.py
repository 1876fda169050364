"""Masking for group channels (docs/DOMAIN.md §8; JR/T 0171-2020: balances and phones are C2 data)."""

from __future__ import annotations

from decimal import Decimal

from rules.money import fmt_threshold_wan, yuan_to_fen

# Two-character surnames keep both characters: 欧阳** not 欧*** .
COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 令狐 夏侯 轩辕 端木 独孤 南宫 西门 百里 呼延 万俟 澹台 公冶 太史 申屠 钟离 闻人 赫连".split()
)


ORG_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "公司", "集团", "合作社", "事务所", "工作室", "商行",
                "中心", "医院", "学校", "协会", "厂", "店", "部", "所", "院", "站", "场", "馆", "社")
"""Endings that make a name an organisation's (corporate customers), not a person's."""
_SEPARATORS = "·•・.．‧ "


def _is_han(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def is_org_name(name: str) -> bool:
    return len(name) >= 5 and name.endswith(ORG_SUFFIXES)


def mask_name(name: str) -> str:
    """A masked name shows at most the surname (docs/DOMAIN.md §8), whatever the script.

    - Han names keep the surname, two characters for a compound surname, one `*` per hidden
      character: 张三 → 张*, 王小明 → 王**, 欧阳娜娜 → 欧阳**; a one-character name → `*`.
    - Names with a separator (minority names such as 阿依古丽·买买提江) and names in Latin or other
      scripts (Zhang Wei, John Smith) keep only their first character and a fixed `***`: which
      word is the family name cannot be told (Zhang Wei vs John Smith), and the length and the
      number of words would say more than the surname does. 阿依古丽·买买提江 → 阿***, Zhang Wei → Z***.
    - Organisations keep the first two characters and their legal form: 杭州西湖科技有限公司 →
      杭州****有限公司 (an enterprise name is not personal data, its legal form says nothing).
    """
    name = name.strip()
    if not name:
        return ""
    if len(name) == 1:
        return "*"
    if is_org_name(name):
        suffix = next(s for s in ORG_SUFFIXES if name.endswith(s))
        head = name[: min(2, len(name) - len(suffix))]
        return head + "*" * (len(name) - len(head) - len(suffix)) + suffix
    if all(_is_han(ch) for ch in name) and len(name) <= 4:
        keep = 2 if name[:2] in COMPOUND_SURNAMES and len(name) > 2 else 1
        return name[:keep] + "*" * (len(name) - keep)
    return name[0] + "***"


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
