"""The holiday data files: the shipped `rules/holidays_cn.yaml` plus the bank's override file.

The shipped file goes stale every November when the State Council publishes next year's
schedule, and a bank cannot wait for an rmbot release: it writes the new year into its own file
(same format, named by RMBOT_HOLIDAYS_FILE), and a year in that file replaces the shipped year
whole, so a corrected notice never mixes with the old one.

A wrong date in this file silently sends pushes on a holiday or skips a working day, so loading
is strict and every problem is reported with the file and the entry, all at once.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from rules.calendar import WEEKDAY_ZH, HolidayCalendar, HolidayYear

HOLIDAYS_FILE_ENV = "RMBOT_HOLIDAYS_FILE"
SHIPPED_NAME = "holidays_cn.yaml"
SHIPPED_ORIGIN = f"rules/{SHIPPED_NAME}"

_TOP_KEYS = {"years"}
_YEAR_KEYS = {"source", "published", "holidays", "workdays"}
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class CalendarDataError(ValueError):
    """An unusable holiday file; ``problems`` lists every entry at fault."""

    def __init__(self, origin: str, problems: list[str]) -> None:
        self.origin = origin
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"节假日文件无效 Invalid holiday file {origin}:\n{lines}")


@dataclass(frozen=True)
class LoadedCalendar:
    calendar: HolidayCalendar
    origins: Mapping[int, str]
    """Year → the file its data came from (the shipped file or the override)."""


class _NoTimestampLoader(yaml.SafeLoader):
    """Leaves dates as text: PyYAML would raise on 2026-02-30 without saying which entry."""


_NoTimestampLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def shipped_text() -> str:
    return resources.files("rules").joinpath(SHIPPED_NAME).read_text(encoding="utf-8")


def holidays_file_from_env(environ: Mapping[str, str] | None = None) -> Path | None:
    value = (os.environ if environ is None else environ).get(HOLIDAYS_FILE_ENV, "").strip()
    return Path(value) if value else None


def parse_years(text: str, origin: str) -> dict[int, HolidayYear]:
    """One file's year entries, validated on their own; raises CalendarDataError."""
    try:
        data = yaml.load(text, Loader=_NoTimestampLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise CalendarDataError(origin, [f"YAML 语法错误 syntax error: {exc}"]) from exc
    problems: list[str] = []
    if not isinstance(data, dict) or not isinstance(data.get("years"), dict):
        raise CalendarDataError(origin, ["文件须为含 years 映射的 YAML（years: {2027: {...}}）must be a mapping with `years`"])
    unknown = sorted(str(k) for k in data if k not in _TOP_KEYS)
    if unknown:
        problems.append(f"未知的顶层键 unknown top-level keys: {', '.join(unknown)}")
    years: dict[int, HolidayYear] = {}
    for key, entry in data["years"].items():
        year = _year_key(key)
        if year is None:
            problems.append(f"years.{key}: 年份须为 1949–2200 的整数 year must be an integer")
            continue
        parsed = _parse_year(year, entry, problems)
        if parsed is not None:
            years[year] = parsed
    if problems:
        raise CalendarDataError(origin, problems)
    return years


def load(override_file: Path | str | None = None) -> LoadedCalendar:
    """The shipped years, then the override file's years replacing them whole."""
    years = parse_years(shipped_text(), SHIPPED_ORIGIN)
    origins = {year: SHIPPED_ORIGIN for year in years}
    if override_file is not None:
        path = Path(override_file)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CalendarDataError(str(path), [f"无法读取 cannot read: {exc}"]) from exc
        for year, entry in parse_years(text, str(path)).items():
            years[year] = entry
            origins[year] = str(path)
    _check_across_years(years, origins)
    return LoadedCalendar(HolidayCalendar(years), origins)


def load_calendar(override_file: Path | str | None = None) -> HolidayCalendar:
    return load(override_file).calendar


def calendar_check(cal: HolidayCalendar, today: date, horizon_days: int = 60) -> list[str]:
    """Warnings for operators when the coming days fall in a year without official data.

    Checked ahead of time because the notice comes out in November: a warning in early November
    leaves the bank weeks to load next year's dates before the first wrong push.
    """
    end = today + timedelta(days=max(horizon_days, 0))
    warnings = []
    years = set(range(today.year, end.year + 1)) | set(missing_for_monitoring(cal, today))
    for year in sorted(years):
        if cal.has_official_data(year):
            continue
        start = max(today, date(year, 1, 1))
        warnings.append(
            f"{year} 年无官方节假日数据，{start.isoformat()} 起暂按法定节假日（《全国年节及纪念日放假办法》推算）"
            f"与周一至周五推送，调休上班日与连休安排未知；"
            f"请按国务院办公厅通知编写节假日文件，设置 {HOLIDAYS_FILE_ENV} 加载官方安排"
            f"（rmbot calendar check 校验）/ No official holiday data for {year}: pushing on Monday–Friday "
            f"except the statutory holidays from {start.isoformat()}, make-up working days unknown; load the "
            f"official schedule with {HOLIDAYS_FILE_ENV}."
        )
    return warnings


MONITOR_FROM_MONTH = 11
"""The State Council's notice for next year has come out in November (2024-11-12, 2025-11-04)."""


def missing_for_monitoring(cal: HolidayCalendar, today: date) -> list[int]:
    """Years whose missing data should page someone: this year, and from November next year.

    `rmbot calendar check` exits 1 while this is not empty, so monitoring catches a missing
    notice before the first 调休 Saturday is missed, whatever `--horizon` says."""
    years = [today.year] + ([today.year + 1] if today.month >= MONITOR_FROM_MONTH else [])
    return [y for y in years if not cal.has_official_data(y)]


def _year_key(key: object) -> int | None:
    if isinstance(key, bool):
        return None
    if isinstance(key, str) and key.strip().isdigit():
        key = int(key.strip())
    return key if isinstance(key, int) and 1949 <= key <= 2200 else None


def _parse_year(year: int, entry: object, problems: list[str]) -> HolidayYear | None:
    where = f"years.{year}"
    if not isinstance(entry, dict):
        problems.append(f"{where}: 须为映射（source, published, holidays, workdays）must be a mapping")
        return None
    unknown = sorted(str(k) for k in entry if k not in _YEAR_KEYS)
    if unknown:
        problems.append(f"{where}: 未知的键 unknown keys: {', '.join(unknown)}")
    before = len(problems)
    source = entry.get("source")
    if not isinstance(source, str) or not source.strip():
        problems.append(f"{where}.source: 须写明通知名称 the notice title is required")
        source = ""
    published: date | None = None
    if entry.get("published") is not None:
        published = _parse_date(entry["published"], f"{where}.published", problems)

    holidays = _dated(year, entry.get("holidays"), f"{where}.holidays", problems, required=True)
    workdays = _dated(year, entry.get("workdays"), f"{where}.workdays", problems, required=False)
    for d, name in workdays.items():
        if d.weekday() < 5:
            problems.append(
                f"{where}.workdays.{name}: {d.isoformat()} 是{WEEKDAY_ZH[d.weekday()]}，调休上班日须为周六或周日"
                " / an adjusted working day must be a Saturday or Sunday"
            )
    for d in sorted(holidays.keys() & workdays.keys()):
        problems.append(
            f"{where}: {d.isoformat()} 同时列为放假（{holidays[d]}）和调休上班（{workdays[d]}）"
            " / both a holiday and a working day"
        )
    if len(problems) > before:
        return None
    shown = f"{source.strip()}（{published.isoformat()} 发布）" if published else source.strip()
    return HolidayYear(year, frozenset(holidays), frozenset(workdays), shown, {**holidays, **workdays})


def _dated(year: int, block: object, where: str, problems: list[str], *, required: bool) -> dict[date, str]:
    """{festival: [dates]} → {date: festival}, each date listed once and within reach of the year."""
    if block is None and not required:
        return {}
    if not isinstance(block, dict) or (required and not block):
        problems.append(f"{where}: 须为 节日名: [日期, ...] 的映射 must map a festival name to its dates")
        return {}
    out: dict[date, str] = {}
    for name, dates in block.items():
        at = f"{where}.{name}"
        if not isinstance(name, str) or not name.strip():
            problems.append(f"{at}: 节日名须为文字 the festival name must be text")
            continue
        if not isinstance(dates, list) or not dates:
            problems.append(f"{at}: 须为日期列表 [YYYY-MM-DD, ...] must be a non-empty list of dates")
            continue
        for raw in dates:
            d = _parse_date(raw, at, problems)
            if d is None:
                continue
            if not _near_year(d, year):
                problems.append(f"{at}: {d.isoformat()} 不属于 {year} 年的安排 / is outside year {year}")
            elif d in out:
                problems.append(f"{at}: {d.isoformat()} 重复列出（已在 {out[d]}）/ listed twice")
            else:
                out[d] = name.strip()
    return out


def _near_year(d: date, year: int) -> bool:
    # A notice may schedule the 元旦 block across the year line (Dec of the year before, Jan after).
    return d.year == year or (d.year == year - 1 and d.month == 12) or (d.year == year + 1 and d.month == 1)


def _parse_date(raw: Any, where: str, problems: list[str]) -> date | None:
    text = str(raw).strip()
    if isinstance(raw, str) and _ISO_DATE.match(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    problems.append(f"{where}: {raw!r} 不是有效日期（YYYY-MM-DD）/ not a valid date")
    return None


def _check_across_years(years: Mapping[int, HolidayYear], origins: Mapping[int, str]) -> None:
    """Adjacent entries may both list a date across the year line; they must agree on it."""
    seen: dict[date, tuple[bool, int]] = {}
    for year in sorted(years):
        entry = years[year]
        for d in sorted(entry.holidays | entry.workdays):
            off = d in entry.holidays
            if d in seen and seen[d][0] != off:
                other = seen[d][1]
                # Blame the bank's file: the shipped years agree with each other.
                blamed = origins[year] if origins[year] != SHIPPED_ORIGIN else origins[other]
                problem = (
                    f"{d.isoformat()}: years.{other}（{origins[other]}）与 years.{year}（{origins[year]}）"
                    "对放假/调休的安排矛盾 / the two year entries contradict each other"
                )
                raise CalendarDataError(blamed, [problem])
            seen[d] = (off, year)
