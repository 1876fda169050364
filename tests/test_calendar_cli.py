"""The holiday files (shipped + the bank's override), the coverage warning, and `rmbot calendar`."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.calendar_data import (
    HOLIDAYS_FILE_ENV,
    SHIPPED_ORIGIN,
    CalendarDataError,
    calendar_check,
    holidays_file_from_env,
    load,
    load_calendar,
)
from bot.cli_calendar import calendar_app
from rules.calendar import first_working_day_of_week, is_working_day, years_covered

# Made-up dates in the file format, for tests only: 2027's official schedule is not yet published.
FAKE_2027 = """
years:
  2027:
    source: 测试用 2027 年安排（非官方）
    published: 2026-11-10
    holidays:
      元旦: [2027-01-01, 2027-01-02, 2027-01-03]
      春节: [2027-02-06, 2027-02-07, 2027-02-08, 2027-02-09, 2027-02-10, 2027-02-11, 2027-02-12]
    workdays:
      春节: [2027-02-13]
"""


def write(tmp_path: Path, text: str, name: str = "holidays.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


# --- coverage warning --------------------------------------------------------------------------


def test_no_warning_inside_covered_years() -> None:
    cal = load_calendar()
    assert calendar_check(cal, date(2026, 6, 1)) == []
    assert calendar_check(cal, date(2026, 10, 31), horizon_days=60) == []  # reaches 2026-12-30
    # From November the next year's notice is due: its absence warns whatever the horizon (issue 15)
    [warning] = calendar_check(cal, date(2026, 11, 1), horizon_days=0)
    assert warning.startswith("2027 年无官方节假日数据")


def test_warning_when_the_horizon_reaches_next_year() -> None:
    [warning] = calendar_check(load_calendar(), date(2026, 11, 20), horizon_days=60)
    assert warning.startswith("2027 年无官方节假日数据，2027-01-01 起暂按法定节假日（《全国年节及纪念日放假办法》推算）"
                              "与周一至周五推送，调休上班日与连休安排未知")
    assert HOLIDAYS_FILE_ENV in warning
    assert "No official holiday data for 2027" in warning


def test_date_in_an_uncovered_year_falls_back_and_warns() -> None:
    cal = load_calendar()
    result = is_working_day(cal, date(2030, 3, 6))
    assert (result.working, result.fallback) == (True, True)
    [warning] = calendar_check(cal, date(2030, 3, 6))
    assert warning.startswith("2030 年无官方节假日数据，2030-03-06 起暂按法定节假日")


# --- override file -----------------------------------------------------------------------------


def test_override_adds_a_year(tmp_path: Path) -> None:
    path = write(tmp_path, FAKE_2027)
    loaded = load(path)
    cal = loaded.calendar
    assert years_covered(cal) == (2025, 2026, 2027)
    assert loaded.origins == {2025: SHIPPED_ORIGIN, 2026: SHIPPED_ORIGIN, 2027: str(path)}
    assert calendar_check(cal, date(2026, 11, 20), horizon_days=60) == []
    assert is_working_day(cal, date(2027, 2, 8)).working is False
    saturday = is_working_day(cal, date(2027, 2, 13))
    assert (saturday.working, saturday.fallback) == (True, False)
    assert saturday.reason.source == "测试用 2027 年安排（非官方）（2026-11-10 发布）"
    assert first_working_day_of_week(cal, date(2027, 2, 8)) == date(2027, 2, 13)


def test_override_replaces_a_shipped_year_whole(tmp_path: Path) -> None:
    path = write(tmp_path, "years:\n  2026:\n    source: 更正通知\n    holidays:\n      元旦: [2026-01-01]\n")
    cal = load_calendar(path)
    assert is_working_day(cal, date(2026, 1, 2)).working is True  # the shipped 2026 is gone
    assert is_working_day(cal, date(2026, 10, 1)).working is True
    assert is_working_day(cal, date(2026, 10, 10)).working is False
    assert is_working_day(cal, date(2025, 10, 1)).working is False  # 2025 untouched


def test_override_path_from_environment() -> None:
    assert holidays_file_from_env({HOLIDAYS_FILE_ENV: "/etc/rmbot/holidays.yaml"}) == Path("/etc/rmbot/holidays.yaml")
    assert holidays_file_from_env({HOLIDAYS_FILE_ENV: "  "}) is None
    assert holidays_file_from_env({}) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (FAKE_2027.replace("春节: [2027-02-13]", "春节: [2027-02-10]"), "years.2027.workdays.春节: 2027-02-10 是周三"),
        (FAKE_2027.replace("[2027-02-13]", "[2027-02-30]"), "years.2027.workdays.春节: '2027-02-30' 不是有效日期"),
        (FAKE_2027.replace("[2027-02-13]", "[2027-02-06]"), "years.2027: 2027-02-06 同时列为放假（春节）和调休上班（春节）"),
        (FAKE_2027.replace("2027-01-03]", "2028-03-01]"), "years.2027.holidays.元旦: 2028-03-01 不属于 2027 年"),
        (FAKE_2027.replace("2027-01-02, 2027-01-03", "2027-01-02, 2027-01-02"), "2027-01-02 重复列出"),
        (FAKE_2027.replace("    source: 测试用 2027 年安排（非官方）\n", ""), "years.2027.source: 须写明通知名称"),
        (FAKE_2027.replace("    workdays:", "    workday:"), "years.2027: 未知的键 unknown keys: workday"),
        (FAKE_2027.replace("  2027:", "  27x:"), "years.27x: 年份须为"),
        ("years: [2027]", "须为含 years 映射的 YAML"),
        ("years:\n  2027: {source: x, holidays: {元旦: [2027-01-01}\n", "YAML 语法错误"),
    ],
)
def test_invalid_override_names_file_and_entry(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(CalendarDataError) as caught:
        load(path)
    message = str(caught.value)
    assert message.startswith(f"节假日文件无效 Invalid holiday file {path}:")
    assert expected in message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = FAKE_2027.replace("[2027-02-13]", "[2027-02-10, 2027-02-11]")
    with pytest.raises(CalendarDataError) as caught:
        load(write(tmp_path, text))
    assert len(caught.value.problems) == 4  # two weekdays, each also listed as a holiday


def test_missing_override_file(tmp_path: Path) -> None:
    with pytest.raises(CalendarDataError, match="无法读取"):
        load(tmp_path / "nope.yaml")


def test_adjacent_years_must_agree_across_the_year_line(tmp_path: Path) -> None:
    # 2026's entry already makes 2026-01-04 a 调休 Sunday; a 2025 entry may not call it a holiday.
    text = "years:\n  2025:\n    source: x\n    holidays:\n      元旦: [2025-01-01, 2026-01-04]\n"
    path = write(tmp_path, text)
    with pytest.raises(CalendarDataError) as caught:
        load(path)
    assert caught.value.origin == str(path)
    assert f"2026-01-04: years.2025（{path}）与 years.2026（{SHIPPED_ORIGIN}）" in str(caught.value)


# --- CLI ---------------------------------------------------------------------------------------


def test_check_warns_on_stderr_and_exits_1_when_next_years_data_is_due(
        runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(HOLIDAYS_FILE_ENV, raising=False)
    result = runner.invoke(calendar_app, ["check", "--date", "2026-12-28"])
    assert result.exit_code == 1, result.output  # for monitoring (issue 15)
    assert "缺少 2027 年官方节假日数据，退出码 1" in result.stderr
    assert "2026: 国务院办公厅关于2026年部分节假日安排的通知（2025-11-04 发布）" in result.stdout
    assert "2026-12-28（周一）→ 工作日" in result.stdout
    assert "2026-12-29（周二）" in result.stdout
    # 2027-01-01 is 元旦 by the statutory rules even without the notice (issue 15)
    assert "2027-01-01" not in result.stdout
    assert "2027-01-04（周一）（按法定节假日与周一至周五推算 fallback）" in result.stdout
    assert "警告 Warning: 2027 年无官方节假日数据" in result.stderr
    assert "警告" not in result.stdout


def test_check_walks_over_the_national_day_block(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(HOLIDAYS_FILE_ENV, raising=False)
    result = runner.invoke(calendar_app, ["check", "--date", "2026-09-30", "--count", "3"])
    assert result.exit_code == 0
    assert "2026-10-08（周四）\n  2026-10-09（周五）\n  2026-10-10（周六）" in result.stdout
    assert result.stderr == ""
    assert "未来 60 天均有官方数据" in result.stdout


def test_check_uses_the_override_from_the_environment(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, FAKE_2027)
    monkeypatch.setenv(HOLIDAYS_FILE_ENV, str(path))
    result = runner.invoke(calendar_app, ["check", "--date", "2026-12-28"])
    assert result.exit_code == 0
    assert f"2027: 测试用 2027 年安排（非官方）（2026-11-10 发布） [{path}]" in result.stdout
    assert result.stderr == ""


def test_check_rejects_an_invalid_override_with_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, FAKE_2027.replace("[2027-02-13]", "[2027-02-10]"))
    result = runner.invoke(calendar_app, ["check", "--holidays-file", str(path)])
    assert result.exit_code == 2
    assert f"节假日文件无效 Invalid holiday file {path}" in result.stderr
    assert "years.2027.workdays.春节: 2027-02-10 是周三" in result.stderr


@pytest.mark.parametrize(
    ("day", "code", "text"),
    [
        ("2026-10-01", 1, "2026-10-01（周四）国庆节放假 → 非工作日"),
        ("2026-10-10", 0, "2026-10-10（周六）国庆节调休上班 → 工作日"),
        ("2026-10-08", 0, "2026-10-08（周四）→ 工作日"),
        ("2026-10-17", 1, "2026-10-17（周六）周末 → 非工作日"),
    ],
)
def test_is_working_day(runner: CliRunner, monkeypatch: pytest.MonkeyPatch, day: str, code: int, text: str) -> None:
    monkeypatch.delenv(HOLIDAYS_FILE_ENV, raising=False)
    result = runner.invoke(calendar_app, ["is-working-day", day])
    assert result.exit_code == code
    assert result.stdout.strip() == text
    assert result.stderr == ""


def test_is_working_day_fallback_warns(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(HOLIDAYS_FILE_ENV, raising=False)
    result = runner.invoke(calendar_app, ["is-working-day", "2030-01-02"])
    assert result.exit_code == 0
    assert "2030 年无官方节假日数据" in result.stdout
    assert "按法定节假日与周一至周五判断，调休未知" in result.stderr


def test_is_working_day_bad_date(runner: CliRunner) -> None:
    result = runner.invoke(calendar_app, ["is-working-day", "2026-13-01"])
    assert result.exit_code == 2
    assert "YYYY-MM-DD" in result.stderr
