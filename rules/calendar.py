"""Chinese working days (docs/DOMAIN.md §9): statutory holidays are off, 调休上班 weekend days are on.

The State Council publishes next year's schedule only in November, so the bot must never stop
for a date it has no data for: such a date is judged by the statutory holidays of
《全国年节及纪念日放假办法》 (computed for any year, the lunar ones with ``lunar_python``) and
otherwise Monday–Friday, and the result says ``fallback=True`` so the caller can warn operators
that the 调休 working days (and the bridged days of each break) are unknown until the notice is
loaded, instead of silently guessing (the failure of the ``holidays`` package) or raising (the
failure of ``chinesecalendar``).

A year entry may list dates just across the year line (a notice for year Y has been known to
schedule the 元旦 block of Y+1), so lookups use every entry, while "has official data" is decided
by the date's own calendar year. Reading and validating the data file is ``bot.calendar_data``'s
job; this module does no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

from lunar_python import Lunar

from rules.reasons import Reason

WEEKDAY_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
FALLBACK_SOURCE = "无官方数据：按《全国年节及纪念日放假办法》法定节假日与周一至周五推算"
STATUTORY_SOURCE = "《全国年节及纪念日放假办法》（2024 年 11 月国务院第三次修订，2025 年起施行）第二条"

MAX_GAP_DAYS = 366
"""No real schedule keeps anyone off work for a year; a longer search means corrupt data."""

HOLIDAY, ADJUSTED_WORKDAY, WEEKDAY, WEEKEND = "holiday", "adjusted_workday", "weekday", "weekend"


@dataclass(frozen=True)
class HolidayYear:
    """One year's official schedule, as the State Council notice for that year lists it."""

    year: int
    holidays: frozenset[date]
    """放假 dates, every day of each block including the weekend days inside it."""
    workdays: frozenset[date] = frozenset()
    """调休上班: weekend days that are working days."""
    source: str = ""
    """The notice title and its publication date, shown in every reason built from this year."""
    names: Mapping[date, str] = field(default_factory=dict)
    """Festival name per date (国庆节, 春节...), for the user-facing reason; optional."""

    def __post_init__(self) -> None:
        # Accept plain sets and lists from callers and tests; keep the object immutable.
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "workdays", frozenset(self.workdays))
        both = self.holidays & self.workdays
        if both:
            raise ValueError(f"{self.year}: dates both 放假 and 调休上班: {_iso_list(both)}")


@dataclass(frozen=True)
class HolidayCalendar:
    """Every year with official data; any other year is judged Monday–Friday."""

    years: Mapping[int, HolidayYear] = field(default_factory=dict)
    _days: dict[date, tuple[str, HolidayYear]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        days: dict[date, tuple[str, HolidayYear]] = {}
        for entry in self.years.values():
            for kind, dates in ((HOLIDAY, entry.holidays), (ADJUSTED_WORKDAY, entry.workdays)):
                for d in dates:
                    seen = days.get(d)
                    if seen is not None and seen[0] != kind:
                        raise ValueError(
                            f"{d.isoformat()} is 放假 in one year entry and 调休上班 in another "
                            f"({seen[1].year}, {entry.year})"
                        )
                    days[d] = (kind, entry)
        object.__setattr__(self, "_days", days)

    @classmethod
    def of(cls, entries: Iterable[HolidayYear]) -> HolidayCalendar:
        return cls({entry.year: entry for entry in entries})

    def has_official_data(self, year: int) -> bool:
        return year in self.years


@dataclass(frozen=True)
class WorkingDay:
    day: date
    working: bool
    reason: Reason
    fallback: bool
    """True when the date's year has no official data and Monday–Friday was assumed."""
    kind: str
    """holiday | adjusted_workday | weekday | weekend."""
    holiday_name: str | None = None
    """The festival for a 放假 or 调休上班 day, when the data names it."""


def years_covered(cal: HolidayCalendar) -> tuple[int, ...]:
    return tuple(sorted(cal.years))


def is_working_day(cal: HolidayCalendar, d: date) -> WorkingDay:
    covered = cal.has_official_data(d.year)
    listed = cal._days.get(d)
    day = f"{d.isoformat()}（{WEEKDAY_ZH[d.weekday()]}）"
    inputs: dict[str, object] = {"date": d.isoformat(), "weekday": d.isoweekday(), "official_data": covered}
    if listed is not None:
        kind, entry = listed
        name = entry.names.get(d)
        inputs |= {"listed_in": entry.year, "holiday": name}
        if kind == HOLIDAY:
            text = f"{day}{name or '法定节假日'}放假 → 非工作日"
            reason = Reason("calendar.holiday", text, entry.source, inputs)
            return WorkingDay(d, False, reason, not covered, HOLIDAY, name)
        text = f"{day}{name or ''}调休上班 → 工作日"
        reason = Reason("calendar.adjusted_workday", text, entry.source, inputs)
        return WorkingDay(d, True, reason, not covered, ADJUSTED_WORKDAY, name)

    working = d.weekday() < 5
    kind = WEEKDAY if working else WEEKEND
    outcome = "→ 工作日" if working else "周末 → 非工作日"
    if covered:
        text = f"{day}{outcome}"
        return WorkingDay(d, working, Reason(f"calendar.{kind}", text, cal.years[d.year].source, inputs), False, kind)
    statutory = statutory_holidays(d.year).get(d)
    if statutory is not None:
        inputs |= {"holiday": statutory}
        text = (f"{d.year} 年无官方节假日数据：{day}为法定节假日{statutory}（{STATUTORY_SOURCE}）→ 非工作日；"
                "调休安排待国务院办公厅通知加载")
        return WorkingDay(d, False, Reason("calendar.fallback_holiday", text, FALLBACK_SOURCE, inputs), True,
                          HOLIDAY, statutory)
    text = f"{d.year} 年无官方节假日数据，暂按法定节假日与周一至周五（调休上班日未知）：{day}{outcome}"
    return WorkingDay(d, working, Reason("calendar.fallback", text, FALLBACK_SOURCE, inputs), True, kind)


@lru_cache(maxsize=64)
def statutory_holidays(year: int) -> Mapping[date, str]:
    """The statutory 全体公民放假 days of a year, without the State Council's bridging 调休.

    From 2025 (the 2024 revision): 元旦 1 天, 春节 4 天 (除夕、正月初一至初三), 清明节 1 天
    (the solar term), 劳动节 2 天 (5月1日、2日), 端午节 1 天 (五月初五), 中秋节 1 天 (八月十五),
    国庆节 3 天 (10月1日至3日). Before 2025 (the 2013 text): 春节 初一至初三 and 劳动节 5月1日 only.
    Every day here is off whatever the notice adds, so skipping them in a year without data is
    always right; the notice only adds days (bridges) and 调休上班 weekend days."""
    days: dict[date, str] = {date(year, 1, 1): "元旦"}
    new_year = Lunar.fromYmd(year, 1, 1)
    first = 0 if year >= 2025 else 1  # 2025 on: 除夕 (the day before 正月初一) is a holiday too
    for i in range(first, 4):
        solar = new_year.next(i - 1).getSolar()  # i = 0 is 除夕, 1–3 are 正月初一至初三
        days[date(solar.getYear(), solar.getMonth(), solar.getDay())] = "春节"
    qingming = new_year.getJieQiTable()["清明"]
    days[date(qingming.getYear(), qingming.getMonth(), qingming.getDay())] = "清明节"
    for d in (1, 2) if year >= 2025 else (1,):
        days[date(year, 5, d)] = "劳动节"
    for month, day, name in ((5, 5, "端午节"), (8, 15, "中秋节")):
        solar = Lunar.fromYmd(year, month, day).getSolar()
        days[date(solar.getYear(), solar.getMonth(), solar.getDay())] = name
    for d in (1, 2, 3):
        days[date(year, 10, d)] = "国庆节"
    return {d: n for d, n in days.items() if d.year == year}


def next_working_day(cal: HolidayCalendar, d: date) -> date:
    """The first working day strictly after ``d`` (the day after a daily push's date)."""
    return _step(cal, d, 1)


def previous_working_day(cal: HolidayCalendar, d: date) -> date:
    """The last working day strictly before ``d`` (e.g. the data date a Monday push reports on)."""
    return _step(cal, d, -1)


def working_days_between(cal: HolidayCalendar, a: date, b: date) -> int:
    """Working days in the half-open range [a, b); negative when b < a (as numpy's busday_count).

    Half-open so that ranges add up (a→b plus b→c is a→c) and so that
    ``working_days_between(a, add_working_days(a, n)) == n`` for a working day ``a``.
    """
    if b < a:
        return -working_days_between(cal, b, a)
    return sum(is_working_day(cal, a + timedelta(days=i)).working for i in range((b - a).days))


def add_working_days(cal: HolidayCalendar, d: date, n: int) -> date:
    """The n-th working day after ``d`` (before it when n < 0).

    n = 0 rolls a non-working ``d`` forward to the next working day, so "T+0" on a holiday means
    the first day anyone is at work to act on it.
    """
    if n == 0:
        return d if is_working_day(cal, d).working else next_working_day(cal, d)
    step = 1 if n > 0 else -1
    for _ in range(abs(n)):
        d = _step(cal, d, step)
    return d


def first_working_day_of_week(cal: HolidayCalendar, d: date) -> date | None:
    """The first working day of the ISO week (Monday–Sunday) containing ``d``, or None.

    Weekly pushes go out on it: Tuesday after a holiday Monday, Thursday 2026-10-08 after the
    National Day block, even a 调休 Sunday if every earlier day of the week were off. A week with
    no working day at all (2026-02-16…22, Spring Festival) gives None and that week's push is
    skipped: rolling it into the next week would send two weekly pushes in one week, since the
    next week has its own first working day.
    """
    monday = d - timedelta(days=d.weekday())
    for i in range(7):
        day = monday + timedelta(days=i)
        if is_working_day(cal, day).working:
            return day
    return None


def _step(cal: HolidayCalendar, d: date, step: int) -> date:
    for i in range(1, MAX_GAP_DAYS + 1):
        day = d + timedelta(days=step * i)
        if is_working_day(cal, day).working:
            return day
    raise ValueError(f"no working day within {MAX_GAP_DAYS} days of {d.isoformat()}: calendar data is corrupt")


def _iso_list(dates: Iterable[date]) -> str:
    return ", ".join(x.isoformat() for x in sorted(dates))
