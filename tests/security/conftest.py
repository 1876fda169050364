"""Security tests: each runs on the seeded SQLite bank and on real PostgreSQL (`bank` fixture)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

import commands.approve
import commands.campaign  # noqa: F401  (registered with the core, as tests/campaign does)
from bot.config import get_settings
from bot.testing import PG_URL, Harness


@pytest.fixture(params=["sqlite", "postgresql"])
def bank(request: pytest.FixtureRequest) -> Harness:
    """The seeded demo bank on either database."""
    return request.getfixturevalue("rmbot" if request.param == "sqlite" else "rmbot_pg")


def url_of(engine: Engine) -> str:
    """DATABASE_URL for the CLI: the SQLite file, or the test server with the engine's schema."""
    if engine.dialect.name == "sqlite":
        return str(engine.url)
    with engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


@pytest.fixture
def cli_bank(bank: Harness, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    """The same bank, with the in-process CLI pointed at it."""
    monkeypatch.setenv("DATABASE_URL", url_of(bank.engine))
    monkeypatch.delenv("RMBOT_CAMPAIGNS_FILE", raising=False)
    get_settings.cache_clear()
    yield bank
    get_settings.cache_clear()
