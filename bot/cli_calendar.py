"""`rmbot calendar`: is the holiday data good for the coming weeks, and is a given day a working day.

Operators run `check` after loading a new year's notice and from monitoring; a missing year is
a warning (the bot keeps pushing, skipping the statutory holidays), and `check` exits 1 while this
year's data, or from November next year's, is missing; an unusable override file exits 2.
`is-working-day` exits 0/1 so a shell script can gate a job on it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from bot import clock
from bot.calendar_data import (
    HOLIDAYS_FILE_ENV,
    CalendarDataError,
    LoadedCalendar,
    calendar_check,
    load,
    missing_for_monitoring,
)
from rules.calendar import WEEKDAY_ZH, is_working_day, next_working_day, years_covered

calendar_app = typer.Typer(help="工作日日历（法定节假日与调休）Chinese working-day calendar.", no_args_is_help=True)

HolidaysFile = Annotated[
    Path | None,
    typer.Option(
        "--holidays-file",
        envvar=HOLIDAYS_FILE_ENV,
        help=f"官方节假日覆盖文件 override file of official dates (env {HOLIDAYS_FILE_ENV})",
        show_envvar=False,
    ),
]


def _fail(message: str) -> NoReturn:
    typer.echo(f"错误 Error: {message}", err=True)
    raise typer.Exit(2)


def _load(holidays_file: Path | None) -> LoadedCalendar:
    try:
        return load(holidays_file)
    except CalendarDataError as exc:
        _fail(str(exc))


def _parse_day(text: str | None) -> date:
    if text is None:
        return clock.today()
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        _fail(f"日期须为 YYYY-MM-DD date must be YYYY-MM-DD: {text!r}")


def _day(d: date) -> str:
    return f"{d.isoformat()}（{WEEKDAY_ZH[d.weekday()]}）"


@calendar_app.command("check")
def check(
    date_: Annotated[str | None, typer.Option("--date", help="检查日期 YYYY-MM-DD (default: today, Asia/Shanghai)")] = None,
    horizon: Annotated[int, typer.Option(min=0, max=730, help="预警天数 days ahead to check for missing data")] = 60,
    count: Annotated[int, typer.Option(min=1, max=60, help="列出之后几个工作日 working days to list")] = 5,
    holidays_file: HolidaysFile = None,
) -> None:
    """Coverage, the next working days and warnings (to stderr); exit 1 when monitoring should
    alert: this year's official data missing, or next year's from November on."""
    loaded = _load(holidays_file)
    cal, today = loaded.calendar, _parse_day(date_)
    typer.echo("官方节假日数据 Official data:")
    for year in years_covered(cal):
        typer.echo(f"  {year}: {cal.years[year].source} [{loaded.origins[year]}]")
    if not cal.years:
        typer.echo("  （无 none）")
    typer.echo(f"{is_working_day(cal, today).reason.text}")
    typer.echo(f"之后 {count} 个工作日 Next working days:")
    d = today
    for _ in range(count):
        d = next_working_day(cal, d)
        typer.echo(f"  {_day(d)}{'（按法定节假日与周一至周五推算 fallback）' if is_working_day(cal, d).fallback else ''}")
    warnings = calendar_check(cal, today, horizon)
    for warning in warnings:
        typer.echo(f"警告 Warning: {warning}", err=True)
    if not warnings:
        typer.echo(f"未来 {horizon} 天均有官方数据 Official data covers the next {horizon} days.")
    missing = missing_for_monitoring(cal, today)
    if missing:
        years = "、".join(str(y) for y in missing)
        typer.echo(f"缺少 {years} 年官方节假日数据，退出码 1（供监控告警）/ Missing official data for {years}: exit 1.",
                   err=True)
        raise typer.Exit(1)


@calendar_app.command("is-working-day")
def is_working_day_command(
    day: Annotated[str, typer.Argument(help="日期 YYYY-MM-DD")],
    holidays_file: HolidaysFile = None,
) -> None:
    """Exit 0 for a working day, 1 for a day off, 2 for bad input."""
    cal = _load(holidays_file).calendar
    result = is_working_day(cal, _parse_day(day))
    typer.echo(result.reason.text)
    if result.fallback:
        typer.echo(
            f"警告 Warning: {result.day.year} 年无官方节假日数据，按法定节假日与周一至周五判断，调休未知 / no official data: statutory holidays and Monday–Friday assumed",
            err=True,
        )
    raise typer.Exit(0 if result.working else 1)
