"""What the audit chain costs a command: `python -m bench.audit_chain_bench`.

Measures, on a small seeded bank (SQLite file and a scratch PostgreSQL schema): `/tier` through
the test harness, the chain's one extra statement (the head read, which locks the head on
PostgreSQL) with the MAC, and a bare round trip for scale. Prints p10 and median in ms; the
shared-machine figures are quoted in README ("Audit log").
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from bot import clock
from bot.store.audit_chain import compute_mac, current_keyring, read_head
from bot.store.migrate import upgrade
from bot.store.seed import seed_bank
from bot.testing import DEMO_DATA_DATE, PG_URL, Harness, postgres_schema_engine, seeded_sqlite
from rules.policy import default_policy


def _stats(times: list[float]) -> str:
    times.sort()
    return f"p10 {times[len(times) // 10] * 1000:.3f} ms, median {statistics.median(times) * 1000:.3f} ms"


def _timed(n: int, call: Callable[[], None]) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        call()
        out.append(time.perf_counter() - t)
    return out


def measure(name: str, engine: Engine, n: int = 400) -> None:
    h = Harness(engine)
    for _ in range(30):
        h.ask("RM001", "/tier C0000001")
    print(f"{name} /tier: {_stats(_timed(n, lambda: h.ask('RM001', '/tier C0000001')))}")
    keyring = current_keyring()
    values = {"at": clock.now(), "staff_id": "RM001", "platform": "console", "user_ref": "RM001",
              "channel_kind": "dm", "channel_id": None, "action": "tier", "target": "C0000001",
              "outcome": "allowed", "detail": None}
    head: list[float] = []
    bare: list[float] = []
    for _ in range(n):
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))  # the command's transaction is open by then
            bare += _timed(1, lambda: conn.execute(text("SELECT 1")).all())

            def chain_step() -> None:
                seq, mac = read_head(conn)
                compute_mac(keyring.current_key, seq + 1, keyring.current_id, values, mac)

            head += _timed(1, chain_step)
            conn.rollback()
    print(f"{name} head read + MAC: {_stats(head)}; bare SELECT 1: {_stats(bare)}")


def main() -> None:
    with TemporaryDirectory() as tmp:
        lite = seeded_sqlite(Path(tmp) / "bank.db", customers=400)
        measure("SQLite", lite)
        lite.dispose()
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        pg = postgres_schema_engine(schema)
        upgrade(pg)
        seed_bank(pg, default_policy(), customers=400, seed=7, data_date=DEMO_DATA_DATE)
        measure("PostgreSQL", pg)
        pg.dispose()
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


if __name__ == "__main__":
    main()
