"""Shared set-up for benchmarks: a 1,000,000-customer bank on SQLite and PostgreSQL, built once."""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine

from bot.store.db import has_schema, make_engine
from bot.store.migrate import upgrade
from bot.store.models import DataLoad
from bot.store.seed import seed_bank
from bot.testing import DEMO_DATA_DATE
from rules.policy import default_policy

DATA = Path(__file__).parent / ".data"
RESULTS = Path(__file__).parent / "results"
PG_URL = os.environ.get("RMBOT_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CUSTOMERS = int(os.environ.get("RMBOT_BENCH_CUSTOMERS", "1000000"))
SEED = 1


@dataclass
class Bank:
    name: str
    engine: Engine
    seed_seconds: float | None
    """Seconds the seed took if it ran now; None if the bank was already there."""


def _seeded_with(engine: Engine) -> str | None:
    if not has_schema(engine):
        return None
    with engine.connect() as conn:
        return conn.execute(select(DataLoad.source).where(DataLoad.kind == "seed")).scalar_one_or_none()


def _ensure(engine: Engine, name: str) -> Bank:
    wanted = f"rmbot seed --customers {CUSTOMERS} --seed {SEED}"
    if _seeded_with(engine) == wanted:
        upgrade(engine)  # a bank built by an older revision gets the newer tables
        return Bank(name, engine, None)
    upgrade(engine)
    start = time.perf_counter()
    seed_bank(engine, default_policy(), customers=CUSTOMERS, seed=SEED, data_date=DEMO_DATA_DATE)
    elapsed = time.perf_counter() - start
    with engine.begin() as conn:  # planner statistics, as an operator would after a bulk load
        conn.execute(text("ANALYZE"))
    return Bank(name, engine, elapsed)


def sqlite_bank() -> Bank:
    DATA.mkdir(exist_ok=True)
    path = DATA / f"bank-{CUSTOMERS}.db"
    engine = make_engine(f"sqlite:///{path}")
    if _seeded_with(engine) not in (None, f"rmbot seed --customers {CUSTOMERS} --seed {SEED}"):
        engine.dispose()
        path.unlink()
        engine = make_engine(f"sqlite:///{path}")
    return _ensure(engine, "SQLite")


def postgres_bank() -> Bank:
    schema = f"bench_{CUSTOMERS}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        found = conn.execute(text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :s"), {"s": schema}).first()
        engine = make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
        if found and _seeded_with(engine) not in (None, f"rmbot seed --customers {CUSTOMERS} --seed {SEED}"):
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            found = None
        if not found:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    admin.dispose()
    return _ensure(engine, "PostgreSQL")


WARM_TABLES = ("customer", "org", "staff", "balance", "aum_monthly", "holding", "contact", "data_load")


def warm(bank: Bank) -> float:
    """Read the bank once so it is in memory, as a production database's working set is.

    Without it the first minutes of any measurement time the virtual disk, not rmbot.
    """
    start = time.perf_counter()
    if bank.engine.dialect.name == "sqlite":
        path = Path(bank.engine.url.database or "")
        with open(path, "rb") as f:
            while f.read(16 << 20):
                pass
    else:
        with bank.engine.connect() as conn:
            for table in WARM_TABLES:
                conn.execute(text(f"SELECT count(*) FROM {table}"))
            conn.execute(text("SELECT count(*) FROM (SELECT customer_id, month FROM aum_monthly ORDER BY customer_id, month) t"))
    return time.perf_counter() - start


def machine() -> dict[str, object]:
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine()}


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def write_result(name: str, payload: dict[str, object]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **payload}, ensure_ascii=False, indent=2), encoding="utf-8")
    return path
