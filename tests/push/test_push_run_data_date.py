"""`rmbot push run --date D` builds from the latest data whatever D is: it says which data
date it used, and warns when that data is newer than D (a past day's maturities are gone)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.calendar_data import load_calendar
from bot.config import get_settings
from bot.push.service import PushService
from bot.testing import DEMO_DATA_DATE, Harness
from rules.policy import default_policy


@pytest.fixture
def cli(rmbot: Harness, monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[CliRunner]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", rmbot.engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


@pytest.mark.parametrize("db", ["sqlite", "postgres"])
def test_the_build_result_names_its_data_date(request: pytest.FixtureRequest, db: str) -> None:
    h: Harness = request.getfixturevalue("rmbot" if db == "sqlite" else "rmbot_pg")
    service = PushService(h.engine, default_policy(), load_calendar())
    assert service.build("maturing", date(2026, 11, 23), dry_run=True).data_date == DEMO_DATA_DATE


def test_a_date_before_the_data_is_warned_about(cli: CliRunner) -> None:
    result = cli.invoke(app, ["push", "run", "--date", "2026-11-19", "--kind", "maturing", "--dry-run", "--force"])
    assert result.exit_code == 0, result.output
    assert f"数据日期 {DEMO_DATA_DATE}" in result.output
    assert "晚于推送日 2026-11-19" in result.output


def test_a_date_after_the_data_is_not(cli: CliRunner) -> None:
    result = cli.invoke(app, ["push", "run", "--date", "2026-11-23", "--kind", "maturing", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert f"推送日 2026-11-23 · 数据日期 {DEMO_DATA_DATE}" in result.output
    assert "晚于" not in result.output
