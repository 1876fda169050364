"""Cell parsers: one small function per type, each raising `FieldError` with a Chinese reason.

They run once per cell of files with millions of rows, so the common case (a clean ASCII string
from a CSV) takes a fast path and only unusual input pays for the general one. Cells may also be
native values from XLSX (int, float, datetime); every parser accepts those too.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.clock import SHANGHAI, month_start, today
from rules.money import yuan_to_fen

Parser = Callable[[Any], Any]
"""Takes a non-empty cell (str stripped, or a native XLSX value) and returns the stored value."""

DATE_MIN = date(1900, 1, 1)
DATE_MAX = date(2100, 12, 31)
MONEY_MAX_FEN = 10**14
"""1万亿元: no customer or product balance comes near; a bigger figure is a unit or column mix-up."""


class FieldError(ValueError):
    """A cell that cannot be stored; the message is the reason shown in the error report."""


def _as_text(cell: Any) -> str:
    if isinstance(cell, str):
        return cell
    if isinstance(cell, float) and cell.is_integer():  # Excel stores 1001 as 1001.0
        return str(int(cell))
    if isinstance(cell, (datetime, date)):
        raise FieldError("应为文本，实为日期")
    return str(cell)


def text(max_len: int) -> Parser:
    def parse(cell: Any) -> str:
        value = _as_text(cell).strip()
        if len(value) > max_len:
            raise FieldError(f"超过 {max_len} 个字符")
        return value

    return parse


_CODE = re.compile(r"[A-Z0-9][A-Z0-9_-]*")


def code(max_len: int, pattern: re.Pattern[str] = _CODE,
         reason: str = "编号只能包含字母、数字、- 和 _") -> Parser:
    """Business ids (客户号, 员工号, 机构号): full-width folded, upper-cased as chat lookups do."""
    match = pattern.fullmatch

    def parse(cell: Any) -> str:
        if cell.__class__ is str and cell.isascii():
            value = cell.upper()
        else:
            value = unicodedata.normalize("NFKC", _as_text(cell)).strip().upper()
        if len(value) > max_len:
            raise FieldError(f"超过 {max_len} 个字符")
        if match(value) is None:
            raise FieldError(reason)
        return value

    return parse


ORG_CODE = re.compile(r"[A-Z0-9][A-Z0-9-]*")
"""机构号: an org's code becomes part of every path below it ("/BR01/SB01/"), so it holds no `/`,
no `_` or `%` (LIKE wildcards), no backslash and nothing a case-insensitive comparison could
confuse. Scope is exact anyway (bot/store/scope.py); this keeps codes unambiguous to people too."""


def org_code(max_len: int = 16) -> Parser:
    """机构号 as the seed and samples write them (BR01, SB01, OU011): folded, then checked."""
    return code(max_len, ORG_CODE,
                "机构号只能包含大写英文字母、数字和 -，如 SB01（不能含 _、%、/、\\ 或空格）。"
                "Org codes are A-Z, 0-9 and - only.")


def customer_code() -> Parser:
    # The same shape `/tier` accepts (bot/core/access.py), so every imported customer can be looked up.
    return code(20, re.compile(r"[A-Z0-9][A-Z0-9-]{1,19}"))


def _date_of(cell: Any) -> date:
    if isinstance(cell, datetime):
        return cell.date()
    if isinstance(cell, date):
        return cell
    value = _as_text(cell)
    try:
        return date.fromisoformat(value)  # 2026-11-20 and 20261120 (Python 3.11)
    except ValueError:
        pass
    value = unicodedata.normalize("NFKC", value).strip()
    for sep in ("/", "."):
        value = value.replace(sep, "-")
    if " " in value or "T" in value:  # "2026-11-20 00:00:00" as Excel writes dates into CSV
        value = value.replace("T", " ").split(" ", 1)[0]
    if value.endswith("日"):  # 2026年11月20日
        value = value[:-1].replace("年", "-").replace("月", "-")
    parts = value.split("-")
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        try:
            return date(int(parts[0]), int(parts[1]), int(parts[2]))
        except ValueError as exc:
            raise FieldError("不是有效日期") from exc
    raise FieldError("日期格式应为 YYYY-MM-DD")


class _Today:
    """today() for every cell costs a zone lookup; a date at or before the last known today is
    certainly not in the future, so only later dates ask the clock again."""

    def __init__(self) -> None:
        self.value = today()

    def after(self, value: date) -> bool:
        if value <= self.value:
            return False
        self.value = today()
        return value > self.value


def day(not_future: bool = False) -> Parser:
    limit = _Today()
    last: list[Any] = [None, None]  # an extract's date column is mostly one value: parse it once

    def parse(cell: Any) -> date:
        if cell == last[0]:
            return last[1]  # type: ignore[no-any-return]
        if cell.__class__ is str:
            try:
                value = date.fromisoformat(cell)
            except ValueError:
                value = _date_of(cell)
        else:
            value = _date_of(cell)
        if not DATE_MIN <= value <= DATE_MAX:
            raise FieldError(f"日期超出合理范围（{DATE_MIN.year}–{DATE_MAX.year}）")
        if not_future and limit.after(value):
            raise FieldError("日期晚于今天")
        if cell.__class__ is str:
            last[0], last[1] = cell, value
        return value

    return parse


def month() -> Parser:
    """A month key, stored as its first day: 2026-10, 202610, 2026-10-01 or 2026-10-31."""

    def parse(cell: Any) -> date:
        if isinstance(cell, str):
            value = cell.strip()
            if len(value) == 6 and value.isdigit():
                value = f"{value[:4]}-{value[4:]}"
            if len(value) == 7 and value[4] in "-/.":
                value = value + "-01"
            cell = value
        first = month_start(_date_of(cell))
        if not DATE_MIN <= first <= DATE_MAX:
            raise FieldError("月份超出合理范围")
        if first > month_start(today()):
            raise FieldError("月份晚于本月")
        return first

    return parse


def moment(not_future: bool = True) -> Parser:
    """Asia/Shanghai wall-clock time; a time with a zone is converted to Shanghai time."""

    def parse(cell: Any) -> datetime:
        if isinstance(cell, datetime):
            value = cell
        elif isinstance(cell, date):
            value = datetime(cell.year, cell.month, cell.day)
        else:
            raw = unicodedata.normalize("NFKC", _as_text(cell)).strip().replace("/", "-")
            try:
                value = datetime.fromisoformat(raw)
            except ValueError as exc:
                raise FieldError("时间格式应为 YYYY-MM-DD HH:MM[:SS]") from exc
        if value.tzinfo is not None:
            value = value.astimezone(SHANGHAI).replace(tzinfo=None)
        if not DATE_MIN <= value.date() <= DATE_MAX:
            raise FieldError("时间超出合理范围")
        if not_future and value.replace(tzinfo=SHANGHAI) > datetime.now(SHANGHAI) + timedelta(minutes=5):
            raise FieldError("时间晚于现在")
        return value

    return parse


def money() -> Parser:
    """元 with at most 2 decimals → integer 分, exactly (never through float arithmetic)."""

    def parse(cell: Any) -> int:
        if cell.__class__ is str:
            # Fast paths for "1234.56" and "1234": the digits without the dot are the 分.
            fen = -1
            if cell.isascii() and "_" not in cell:
                try:
                    if len(cell) > 3 and cell[-3] == ".":
                        fen = int(cell[:-3] + cell[-2:])
                    elif cell.isdigit():
                        fen = int(cell) * 100
                except ValueError:
                    pass
            if fen < 0:  # anything else (1,234.5 / 1.5E+07 / ¥12 / -3 / full-width) the slow, exact way
                fen = _money_slow(cell)
        elif isinstance(cell, bool):
            raise FieldError("金额应为数字")
        elif isinstance(cell, int):
            fen = cell * 100
            if fen < 0:
                raise FieldError("金额不能为负")
        elif isinstance(cell, float):
            fen = _money_slow(repr(cell))  # shortest repr round-trips what Excel stored
        elif isinstance(cell, Decimal):
            fen = _money_slow(str(cell))
        else:
            raise FieldError("金额应为数字")
        if fen > MONEY_MAX_FEN:
            raise FieldError("金额超出合理范围（超过 1 万亿元）")
        return fen

    return parse


def _money_slow(value: str) -> int:
    value = unicodedata.normalize("NFKC", value).strip().replace(",", "").removeprefix("¥").removesuffix("元").strip()
    try:
        number = Decimal(value)
    except InvalidOperation as exc:
        raise FieldError("金额应为数字（元，最多两位小数）") from exc
    if not number.is_finite():
        raise FieldError("金额应为数字")
    if number < 0:
        raise FieldError("金额不能为负")
    try:
        return yuan_to_fen(number)
    except ValueError as exc:
        raise FieldError("金额最多两位小数（到分）") from exc


def integer(low: int, high: int) -> Parser:
    def parse(cell: Any) -> int:
        if isinstance(cell, bool):
            raise FieldError("应为整数")
        if isinstance(cell, int):
            value = cell
        elif isinstance(cell, float) and cell.is_integer():
            value = int(cell)
        else:
            raw = unicodedata.normalize("NFKC", str(cell)).strip().replace(",", "")
            if not (raw.isdigit() or (raw.startswith("-") and raw[1:].isdigit())):
                raise FieldError("应为整数")
            value = int(raw)
        if not low <= value <= high:
            raise FieldError(f"应在 {low}–{high} 之间")
        return value

    return parse


_TRUE = {"1", "true", "t", "yes", "y", "是", "在职", "有效", "√"}
_FALSE = {"0", "false", "f", "no", "n", "否", "离职", "无效", "×"}


def boolean() -> Parser:
    def parse(cell: Any) -> bool:
        if isinstance(cell, bool):
            return cell
        raw = unicodedata.normalize("NFKC", str(cell)).strip().lower()
        if raw in _TRUE:
            return True
        if raw in _FALSE:
            return False
        raise FieldError("应为 是/否")

    return parse


def choice(options: dict[str, str]) -> Parser:
    """One of a fixed set; `options` maps every accepted spelling (code or Chinese) to the code."""
    folded = {unicodedata.normalize("NFKC", k).strip().lower(): v for k, v in options.items()}
    shown = "、".join(dict.fromkeys(options))

    def parse(cell: Any) -> str:
        raw = _as_text(cell).strip()
        found = folded.get(raw.lower()) or folded.get(unicodedata.normalize("NFKC", raw).lower())
        if found is None:
            raise FieldError(f"应为 {shown} 之一")
        return found

    return parse


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,20}")
_WECOM_USERID = re.compile(r"[a-z0-9_.@-]{1,64}")


def email() -> Parser:
    """A work e-mail, lower-cased (Slack's users.lookupByEmail matches case-insensitively)."""

    def parse(cell: Any) -> str:
        value = unicodedata.normalize("NFKC", _as_text(cell)).strip().lower()
        if len(value) > 254 or _EMAIL.fullmatch(value) is None:
            raise FieldError("邮箱格式不正确，例：wangfang@bank.example")
        return value

    return parse


def slack_user_id() -> Parser:
    """A Slack member id (U… or W…, Profile → ⋮ → Copy member ID)."""

    def parse(cell: Any) -> str:
        value = unicodedata.normalize("NFKC", _as_text(cell)).strip().upper()
        if _SLACK_USER.fullmatch(value) is None:
            raise FieldError("Slack 成员 ID 应以 U 或 W 开头，例：U04ABCDEF")
        return value

    return parse


def wecom_userid() -> Parser:
    """A WeCom userid (通讯录 → 账号): case-insensitive, so kept lowercase as links are."""

    def parse(cell: Any) -> str:
        value = unicodedata.normalize("NFKC", _as_text(cell)).strip().lower()
        if _WECOM_USERID.fullmatch(value) is None:
            raise FieldError("企业微信账号只能包含字母、数字和 _ . @ -，最长 64 位")
        return value

    return parse
