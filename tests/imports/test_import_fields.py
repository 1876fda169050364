"""Cell parsers: money exactly in 分, dates in the formats extracts use, ids as chat looks them up."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from bot.imports import fields as f


@pytest.mark.parametrize(("cell", "fen"), [
    ("1217217.82", 121721782), ("12", 1200), ("12.5", 1250), ("0.00", 0), (".50", 50), ("+3.10", 310),
    ("1,234.56", 123456), ("１２.３４", 1234), ("1.5E+07", 1_500_000_000), ("¥88.00", 8800), ("12元", 1200),
    (12, 1200), (323600.5, 32_360_050), (0.1 + 0.2 - 0.3 + 1.1, 110), (Decimal("7.07"), 707),
    ("99999999999.99", 9_999_999_999_999),
])
def test_money_is_exact(cell: object, fen: int) -> None:
    assert f.money()(cell) == fen


@pytest.mark.parametrize(("cell", "reason"), [
    ("-1.00", "不能为负"), ("12.345", "两位小数"), ("1.2.3", "应为数字"), ("abc", "应为数字"), ("NaN", "应为数字"),
    ("1e13", "超出合理范围"), (True, "应为数字"), (-5, "不能为负"), ("0.001", "两位小数"),
])
def test_money_refuses(cell: object, reason: str) -> None:
    with pytest.raises(f.FieldError, match=reason):
        f.money()(cell)


@pytest.mark.parametrize("cell", ["2026-11-20", "20261120", "2026/11/20", "2026.11.20", "2026-11-20 00:00:00",
                                  "2026年11月20日", "２０２６-１１-２０", datetime(2026, 11, 20, 8), date(2026, 11, 20)])
def test_dates(cell: object) -> None:
    assert f.day()(cell) == date(2026, 11, 20)


@pytest.mark.parametrize(("cell", "month"), [("2026-10", date(2026, 10, 1)), ("202610", date(2026, 10, 1)),
                                             ("2026-10-31", date(2026, 10, 1)), ("2026/10", date(2026, 10, 1))])
def test_months_are_first_days(cell: str, month: date) -> None:
    assert f.month()(cell) == month


def test_times_are_shanghai_wall_clock() -> None:
    parse = f.moment()
    assert parse("2026-11-10 10:30") == datetime(2026, 11, 10, 10, 30)
    assert parse("2026-11-10T02:30:00+00:00") == datetime(2026, 11, 10, 10, 30)
    with pytest.raises(f.FieldError, match="晚于现在"):
        parse("2099-01-01 00:00")


def test_codes_are_folded_like_chat_lookups() -> None:
    assert f.customer_code()("ｃ００００１") == "C00001"
    assert f.code(16)("rm001") == "RM001"
    with pytest.raises(f.FieldError):
        f.customer_code()("C")  # /tier needs at least two characters
    with pytest.raises(f.FieldError, match="超过 16"):
        f.code(16)("X" * 17)


def test_choices_and_booleans() -> None:
    level = f.choice({"branch": "branch", "分行": "branch"})
    assert level("分行") == level("BRANCH") == "branch"
    assert f.boolean()("离职") is False and f.boolean()("Y") is True
    assert f.integer(0, 10)(7.0) == 7 and f.integer(0, 10)("１０") == 10
