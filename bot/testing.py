"""The test harness that ships with rmbot (a pytest plugin: `-p bot.testing`).

Our tests, and a bank writing its own command, read like
    assert "贵宾客户" in rmbot.ask("RM001", "/tier C0000001").text
on a real, seeded SQLite database — or PostgreSQL with `rmbot_pg`.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine as sa_create_engine, text
from sqlalchemy.engine import Engine

from bot.adapters.console import ask as console_ask, click as console_click
from bot.clock import SHANGHAI
from bot.core.app import Rmbot
from bot.core.reply import Reply
from bot.core.request import ChannelKind
from bot.render.text import render_text
from bot.store.db import make_engine
from bot.store.migrate import upgrade
from bot.store.seed import seed_bank
from rules.policy import Policy, default_policy

DEMO_DATA_DATE = date(2026, 11, 20)
"""Pinned so seeded figures (and tests on them) do not move with the calendar."""
DEMO_NOW = datetime.combine(DEMO_DATA_DATE + timedelta(days=1), time(9, 0), SHANGHAI)
"""Requests in tests are made the morning after the data date, as in production."""
PG_URL = os.environ.get("RMBOT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@dataclass(frozen=True)
class Answer:
    reply: Reply
    text: str

    def __contains__(self, needle: str) -> bool:
        return needle in self.text


class Harness:
    """Runs commands as a given staff member, through the same core path as every adapter."""

    def __init__(self, engine: Engine, policy: Policy | None = None, now: datetime | None = DEMO_NOW) -> None:
        self.engine = engine
        self.bot = Rmbot(engine, policy or default_policy())
        self.now = now
        """The time requests are made at; None means the real clock."""

    def ask(self, staff_id: str, text: str, channel: ChannelKind = "dm") -> Answer:
        reply = console_ask(self.bot, staff_id, text, channel, now=self.now)
        return Answer(reply, render_text(reply))

    def click(self, staff_id: str, action: str, value: str, channel: ChannelKind = "dm") -> Answer:
        reply = console_click(self.bot, staff_id, action, value, channel, now=self.now)
        return Answer(reply, render_text(reply))


def seeded_sqlite(path: Path, customers: int = 400, seed: int = 7) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    seed_bank(engine, default_policy(), customers=customers, seed=seed, data_date=DEMO_DATA_DATE)
    return engine


def postgres_schema_engine(schema: str) -> Engine:
    """An engine whose connections live in their own schema of the `test` database."""
    return make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})


def require_postgres() -> None:
    """In CI PostgreSQL must be there: fail loudly rather than skip."""
    try:
        with sa_create_engine(PG_URL).connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:  # noqa: BLE001
        message = f"PostgreSQL unreachable at {PG_URL}: {exc.__class__.__name__}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def _seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bank") / "bank.db"
    seeded_sqlite(path).dispose()
    return path


@pytest.fixture
def rmbot(_seeded_template: Path, tmp_path: Path) -> Iterator[Harness]:
    """A fresh copy of the small seeded demo bank (400 customers, showcase set included)."""
    path = tmp_path / "bank.db"
    shutil.copy(_seeded_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield Harness(engine)
    engine.dispose()


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A schema of its own in the PostgreSQL `test` database; dropped afterwards."""
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = sa_create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield schema
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def pg_engine(pg_schema: str) -> Iterator[Engine]:
    """A migrated, empty PostgreSQL schema (a second engine on it: `postgres_schema_engine`)."""
    engine = postgres_schema_engine(pg_schema)
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()


def add_file_destinations(engine: Engine, folder: Path) -> list[str]:
    """Point every 支行's pushes at files under `folder` (the demo's destination)."""
    from sqlmodel import Session, select

    from bot.store.models import Org, PushDestination

    with Session(engine) as s:
        ids = list(s.exec(select(Org.id).where(Org.level == "sub_branch").order_by(Org.id)))
        for sb in ids:
            s.merge(PushDestination(org_id=sb, platform="file", target=str(folder / sb)))
        s.commit()
    return ids


@pytest.fixture
def rmbot_pg(pg_engine: Engine) -> Harness:
    seed_bank(pg_engine, default_policy(), customers=400, seed=7, data_date=DEMO_DATA_DATE)
    return Harness(pg_engine)
