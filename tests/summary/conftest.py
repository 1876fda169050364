"""Fixtures for the manager summaries: the hand-built bank of `bank.py`, as a SQLite copy per
test (built once) or on PostgreSQL, and the /summary command registered with the core."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `tests.fakes` and `tests.summary.bank` live beside the packages
    sys.path.insert(0, str(ROOT))

import commands.summary  # noqa: F401  (the shipped commands, and /summary even before commands/__init__ lists it)
from bot.store.db import make_engine
from bot.testing import Harness
from tests.summary.bank import build_bank


@pytest.fixture(scope="session")
def _bank_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("summary-bank") / "bank.db"
    engine = make_engine(f"sqlite:///{path}")
    build_bank(engine)
    engine.dispose()
    return path


@pytest.fixture
def bank(_bank_template: Path, tmp_path: Path) -> Iterator[Engine]:
    path = tmp_path / "bank.db"
    shutil.copy(_bank_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture
def bank_pg(pg_engine: Engine) -> Engine:
    return build_bank(pg_engine, migrate=False)


@pytest.fixture
def harness(bank: Engine) -> Harness:
    return Harness(bank)
