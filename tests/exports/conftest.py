"""Fixtures for the export tests: the seeded demo bank on each store (`bank`), an empty migrated
twin on the same store (`twin`, the import target of a round trip), and the URL a subprocess
`rmbot` uses to reach either."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import commands.approve  # noqa: E402,F401  (registers the campaign commands with the core)
import commands.campaign  # noqa: E402,F401
from bot.store.db import make_engine  # noqa: E402
from bot.store.migrate import upgrade  # noqa: E402
from bot.testing import PG_URL, Harness, postgres_schema_engine, require_postgres  # noqa: E402


@pytest.fixture(params=["sqlite", "postgresql"])
def bank(request: pytest.FixtureRequest) -> Harness:
    """The seeded demo bank, on SQLite and on PostgreSQL."""
    return request.getfixturevalue("rmbot" if request.param == "sqlite" else "rmbot_pg")  # type: ignore[no-any-return]


@pytest.fixture
def twin(bank: Harness, tmp_path: Path) -> Iterator[Engine]:
    """An empty migrated database on the same store as `bank`."""
    if bank.engine.dialect.name == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'twin.db'}")
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine = postgres_schema_engine(schema)
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def url_of(engine: Engine) -> str:
    """DATABASE_URL for a subprocess: the file, or the test server with the engine's schema."""
    if engine.dialect.name == "sqlite":
        return str(engine.url)
    with engine.connect() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    return f"{PG_URL}?options=-csearch_path%3D{schema}"
