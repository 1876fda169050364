"""The maturing-product window (seed 002 §五(四)2 资金承接防流失), aware of holidays.

Pushes only go out on working days, so the window of a push day must reach as far as the next
push can no longer warn in time: from the push day to (next working day + window − 1), and at
least `window_days` ahead. A Friday push therefore covers the weekend gap, and the last push
before the National Day break covers products maturing during it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from rules.calendar import HolidayCalendar, next_working_day
from rules.reasons import Reason


@dataclass(frozen=True)
class Window:
    start: date
    end: date
    reason: Reason


def maturity_window(push_day: date, cal: HolidayCalendar, window_days: int, source: str = "") -> Window:
    nxt = next_working_day(cal, push_day)
    end = max(push_day + timedelta(days=window_days), nxt + timedelta(days=window_days - 1))
    text = f"推送日 {push_day}，下一推送日 {nxt}：覆盖 {push_day} 至 {end} 到期的产品（{window_days} 天窗口，节假日顺延）"
    return Window(push_day, end, Reason("maturity.window", text, source,
                                        {"push_day": push_day.isoformat(), "end": end.isoformat()}))


def ratio_scaled(ratio: object, scale: int = 1_000_000) -> int:
    """A policy ratio as an exact integer multiplier, so SQL compares integers like the rules do."""
    from decimal import Decimal

    value = Decimal(str(ratio)) * scale
    if value != value.to_integral_value():
        raise ValueError(f"ratio {ratio} has more precision than 1/{scale}")
    return int(value)


def due_in(maturity: date, today: date) -> str:
    """The one relative-day wording of every answer and push: 今天到期 / 明天到期 / N 天后到期.

    "剩余 0 天" and "（0 天后）" read as a bug to an RM; today and tomorrow are what they say."""
    days = (maturity - today).days
    if days == 0:
        return "今天到期"
    if days == 1:
        return "明天到期"
    if days < 0:
        return f"已到期 {-days} 天"
    return f"{days} 天后到期"


def due_text(maturity: date, today: date) -> str:
    """With the date where it is not today or tomorrow: "今天到期", "12-05 到期（3 天后）"."""
    days = (maturity - today).days
    if days in (0, 1):
        return ("⚠ " if days == 0 else "") + due_in(maturity, today)
    if days < 0:
        return f"{maturity:%m-%d} 已到期（{-days} 天前）"
    return f"{maturity:%m-%d} 到期（{days} 天后）"


def is_urgent(maturity: date, today: date) -> bool:
    """Maturing today (or already): lists put these first whatever their amount."""
    return maturity <= today
