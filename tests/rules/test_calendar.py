"""Chinese working days (docs/DOMAIN.md §9) on the shipped 2025/2026 State Council schedules."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.calendar_data import load_calendar
from rules.calendar import (
    ADJUSTED_WORKDAY,
    HOLIDAY,
    WEEKDAY,
    WEEKEND,
    HolidayCalendar,
    HolidayYear,
    add_working_days,
    first_working_day_of_week,
    is_working_day,
    next_working_day,
    statutory_holidays,
    previous_working_day,
    working_days_between,
    years_covered,
)

CAL = load_calendar()


@pytest.mark.parametrize(
    ("day", "working", "kind", "name"),
    [
        (date(2026, 10, 1), False, HOLIDAY, "国庆节"),  # no push
        (date(2026, 10, 7), False, HOLIDAY, "国庆节"),  # last day of the 7-day block
        (date(2026, 10, 8), True, WEEKDAY, None),  # Thursday: the block is 1–7 in 2026 (8 days only in 2025)
        (date(2026, 10, 9), True, WEEKDAY, None),
        (date(2026, 10, 10), True, ADJUSTED_WORKDAY, "国庆节"),  # Saturday 调休: push
        (date(2026, 10, 17), False, WEEKEND, None),  # ordinary Saturday
        (date(2026, 10, 18), False, WEEKEND, None),  # ordinary Sunday
        (date(2026, 9, 20), True, ADJUSTED_WORKDAY, "国庆节"),  # Sunday 调休
        (date(2026, 9, 25), False, HOLIDAY, "中秋节"),
        (date(2026, 1, 2), False, HOLIDAY, "元旦"),
        (date(2026, 1, 4), True, ADJUSTED_WORKDAY, "元旦"),
        (date(2026, 2, 14), True, ADJUSTED_WORKDAY, "春节"),
        (date(2026, 2, 23), False, HOLIDAY, "春节"),  # Monday, 9th day of 春节
        (date(2026, 2, 24), True, WEEKDAY, None),
        (date(2026, 2, 28), True, ADJUSTED_WORKDAY, "春节"),
        (date(2026, 5, 9), True, ADJUSTED_WORKDAY, "劳动节"),
        (date(2025, 10, 8), False, HOLIDAY, "国庆节、中秋节"),
        (date(2025, 10, 11), True, ADJUSTED_WORKDAY, "国庆节、中秋节"),
        (date(2025, 1, 26), True, ADJUSTED_WORKDAY, "春节"),
        (date(2025, 6, 2), False, HOLIDAY, "端午节"),
    ],
)
def test_official_days(day: date, working: bool, kind: str, name: str | None) -> None:
    result = is_working_day(CAL, day)
    assert (result.working, result.kind, result.holiday_name, result.fallback) == (working, kind, name, False)
    assert result.reason.rule == f"calendar.{kind}"
    assert day.isoformat() in result.reason.text


def test_reason_names_the_notice() -> None:
    holiday = is_working_day(CAL, date(2026, 10, 1))
    assert holiday.reason.text == "2026-10-01（周四）国庆节放假 → 非工作日"
    assert holiday.reason.source == "国务院办公厅关于2026年部分节假日安排的通知（2025-11-04 发布）"
    adjusted = is_working_day(CAL, date(2026, 10, 10))
    assert adjusted.reason.text == "2026-10-10（周六）国庆节调休上班 → 工作日"
    assert is_working_day(CAL, date(2025, 5, 1)).reason.source == (
        "国务院办公厅关于2025年部分节假日安排的通知（2024-11-12 发布）"
    )


def test_shipped_years() -> None:
    assert years_covered(CAL) == (2025, 2026)


def test_every_adjusted_workday_is_a_weekend() -> None:
    adjusted = [d for entry in CAL.years.values() for d in entry.workdays]
    assert len(adjusted) == 11
    assert all(d.weekday() >= 5 for d in adjusted), [d for d in adjusted if d.weekday() < 5]


def test_holiday_blocks_have_the_announced_lengths() -> None:
    def block(year: int, name: str) -> list[date]:
        entry = CAL.years[year]
        return sorted(d for d in entry.holidays if entry.names[d] == name)

    lengths = {
        (2025, "元旦"): 1, (2025, "春节"): 8, (2025, "清明节"): 3, (2025, "劳动节"): 5,
        (2025, "端午节"): 3, (2025, "国庆节、中秋节"): 8,
        (2026, "元旦"): 3, (2026, "春节"): 9, (2026, "清明节"): 3, (2026, "劳动节"): 5,
        (2026, "端午节"): 3, (2026, "中秋节"): 3, (2026, "国庆节"): 7,
    }  # fmt: skip
    for (year, name), length in lengths.items():
        days = block(year, name)
        assert len(days) == length, (year, name)
        assert days[-1] - days[0] == timedelta(days=length - 1), f"{year} {name} is not one consecutive block"
    total = sum(len(entry.holidays) for entry in CAL.years.values())
    assert total == sum(lengths.values())


def test_matches_chinesecalendar_for_every_day() -> None:
    """An independent transcription of the same notices (test-only: it raises for uncovered years)."""
    import chinese_calendar  # a dev dependency: the cross-check always runs
    day = date(2025, 1, 1)
    while day.year <= 2026:
        assert is_working_day(CAL, day).working == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


@pytest.mark.parametrize(
    ("day", "working"),
    [(date(2030, 1, 2), True), (date(2030, 1, 4), True), (date(2030, 1, 5), False), (date(2030, 10, 8), True)],
)
def test_year_without_data_falls_back_to_monday_to_friday(day: date, working: bool) -> None:
    result = is_working_day(CAL, day)
    assert result.working is working
    assert result.fallback is True
    assert result.reason.rule == "calendar.fallback"
    assert result.reason.text.startswith("2030 年无官方节假日数据，暂按法定节假日与周一至周五（调休上班日未知）")


@pytest.mark.parametrize("year", [2025, 2026])
def test_statutory_holidays_computed_for_any_year_match_the_official_years(year: int) -> None:
    """Checked against the State Council's 2025 and 2026 notices: every statutory day is off, with
    the festival the notice names (the notices add bridge days and 调休, never remove one)."""
    official = CAL.years[year]
    computed = statutory_holidays(year)
    assert len(computed) == 13  # 元旦1 春节4 清明1 劳动2 端午1 中秋1 国庆3 (2024 revision)
    for day, name in computed.items():
        assert day in official.holidays, (day, name)
        assert official.names.get(day) in (None, name, "国庆节、中秋节", "中秋节、国庆节"), (day, name, official.names.get(day))


def test_a_year_without_data_skips_every_statutory_holiday_lunar_ones_included() -> None:
    days = {d: n for d, n in statutory_holidays(2030).items()}
    assert set(days.values()) == {"元旦", "春节", "清明节", "劳动节", "端午节", "中秋节", "国庆节"}
    assert {d for d, n in days.items() if n == "春节"} == {date(2030, 2, 2), date(2030, 2, 3), date(2030, 2, 4),
                                                         date(2030, 2, 5)}  # 除夕 2-02, 正月初一 2-03
    for day, name in days.items():
        result = is_working_day(CAL, day)
        assert (result.working, result.fallback, result.reason.rule) == (False, True, "calendar.fallback_holiday")
        assert name in result.reason.text and "调休安排待国务院办公厅通知加载" in result.reason.text
    assert next_working_day(CAL, date(2030, 9, 30)) == date(2030, 10, 4)  # 10-01…03 off, Friday 10-04 on


def test_functions_never_raise_outside_the_data() -> None:
    assert next_working_day(CAL, date(2030, 1, 4)) == date(2030, 1, 7)
    assert first_working_day_of_week(CAL, date(2030, 1, 9)) == date(2030, 1, 7)
    assert working_days_between(CAL, date(2030, 1, 7), date(2030, 1, 14)) == 5
    assert add_working_days(CAL, date(1990, 1, 1), 5) == date(1990, 1, 8)
    assert is_working_day(HolidayCalendar(), date(2026, 10, 1)).fallback is True


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 9, 30), date(2026, 10, 8)),  # across the National Day block
        (date(2026, 10, 1), date(2026, 10, 8)),
        (date(2026, 10, 9), date(2026, 10, 10)),  # Friday → 调休 Saturday
        (date(2026, 10, 10), date(2026, 10, 12)),
        (date(2026, 2, 13), date(2026, 2, 14)),  # Friday → 调休 Saturday before 春节
        (date(2026, 2, 14), date(2026, 2, 24)),  # across the 9-day 春节 block
        (date(2025, 12, 31), date(2026, 1, 4)),  # across the year line onto 调休 Sunday
    ],
)
def test_next_working_day(day: date, expected: date) -> None:
    assert next_working_day(CAL, day) == expected


def test_previous_working_day() -> None:
    assert previous_working_day(CAL, date(2026, 10, 8)) == date(2026, 9, 30)
    assert previous_working_day(CAL, date(2026, 2, 24)) == date(2026, 2, 14)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 10, 5), date(2026, 10, 8)),  # Mon–Wed off in the week of 2026-10-05
        (date(2026, 10, 11), date(2026, 10, 8)),  # any day of that week gives the same answer
        (date(2026, 9, 28), date(2026, 9, 28)),
        (date(2026, 2, 16), None),  # Mon 16 – Sun 22 all 春节: no weekly push that week
        (date(2026, 2, 22), None),
        (date(2026, 2, 23), date(2026, 2, 24)),  # holiday Monday → Tuesday
        (date(2026, 4, 6), date(2026, 4, 7)),  # 清明 Monday → Tuesday
        (date(2026, 1, 1), date(2025, 12, 29)),  # ISO week spanning the year line
        (date(2026, 10, 10), date(2026, 10, 8)),  # the 调休 Saturday is not before Thursday
    ],
)
def test_first_working_day_of_week(day: date, expected: date | None) -> None:
    assert first_working_day_of_week(CAL, day) == expected


def test_first_working_day_of_week_can_be_an_adjusted_sunday() -> None:
    monday = date(2031, 3, 3)
    off = {monday + timedelta(days=i) for i in range(6)}
    cal = HolidayCalendar.of([HolidayYear(2031, off, {date(2031, 3, 9)}, "test")])
    assert first_working_day_of_week(cal, monday) == date(2031, 3, 9)


def test_working_days_between_is_half_open() -> None:
    # October 2026: 8, 9, 10 (调休), then the weeks of the 12th, 19th and 26th.
    assert working_days_between(CAL, date(2026, 10, 1), date(2026, 11, 1)) == 3 + 5 * 3
    assert working_days_between(CAL, date(2026, 11, 1), date(2026, 10, 1)) == -18
    assert working_days_between(CAL, date(2026, 10, 8), date(2026, 10, 8)) == 0
    assert working_days_between(CAL, date(2026, 10, 8), date(2026, 10, 9)) == 1
    assert working_days_between(CAL, date(2026, 2, 14), date(2026, 2, 24)) == 1


@pytest.mark.parametrize(
    ("day", "n", "expected"),
    [
        (date(2026, 9, 30), 1, date(2026, 10, 8)),
        (date(2026, 9, 30), 3, date(2026, 10, 10)),
        (date(2026, 10, 8), -1, date(2026, 9, 30)),
        (date(2026, 10, 1), 0, date(2026, 10, 8)),  # T+0 on a holiday rolls forward
        (date(2026, 10, 9), 0, date(2026, 10, 9)),
        (date(2026, 10, 3), 1, date(2026, 10, 8)),
    ],
)
def test_add_working_days(day: date, n: int, expected: date) -> None:
    assert add_working_days(CAL, day, n) == expected


days_2024_to_2028 = st.dates(min_value=date(2024, 12, 1), max_value=date(2028, 1, 31))


@given(a=days_2024_to_2028, n=st.integers(min_value=-40, max_value=40))
def test_add_then_count_round_trips(a: date, n: int) -> None:
    start = add_working_days(CAL, a, 0)
    assert working_days_between(CAL, start, add_working_days(CAL, start, n)) == n


@given(a=days_2024_to_2028, b=days_2024_to_2028, c=days_2024_to_2028)
def test_counts_add_up(a: date, b: date, c: date) -> None:
    assert working_days_between(CAL, a, b) + working_days_between(CAL, b, c) == working_days_between(CAL, a, c)


def test_a_day_cannot_be_both_off_and_on() -> None:
    with pytest.raises(ValueError, match="2031-03-08"):
        HolidayYear(2031, {date(2031, 3, 8)}, {date(2031, 3, 8)})
    with pytest.raises(ValueError, match="2031-12-31"):
        HolidayCalendar.of([
            HolidayYear(2031, {date(2031, 12, 31)}),
            HolidayYear(2032, {date(2032, 1, 1)}, {date(2031, 12, 31)}),
        ])
