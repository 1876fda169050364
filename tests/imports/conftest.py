"""Fixtures for the import tests: empty migrated databases (SQLite here, PostgreSQL via
`pg_engine`) and the seeded demo bank (`rmbot`) as the source of realistic files."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `tests.imports.helpers` lives beside the packages
    sys.path.insert(0, str(ROOT))

from bot.store.db import make_engine
from bot.store.migrate import upgrade


@pytest.fixture
def empty_sqlite(tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite database with no data at all."""
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db(request: pytest.FixtureRequest) -> Engine:
    """Each test run on both stores."""
    name = "empty_sqlite" if request.param == "sqlite" else "pg_engine"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]
