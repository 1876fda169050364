"""Import benchmark: a 1,000,000-row balance extract into the 1M-customer banks, side by side with
the databases' own bulk loaders on the same file.

    python -m bench.import_bench [--rows N] [--repeat N]

Measured, per database:
  loader_plain   psql `\\copy` / sqlite3 `.import --csv` into a plain table (no keys, no checks)
  loader_real    the same, then one INSERT … SELECT into `balance` (what a DBA would run by hand)
  loader_target  the loader straight into `balance` itself, the file converted to 分 beforehand
                 (untimed) and no foreign-key checks: the floor, what merely inserting a million
                 rows into the indexed, logged table costs
  import_new     `rmbot import balances` code path, a new data date (the nightly case)
  import_new_parser  the same with every cell through the Python parsers (`fast=False`): the
                 path before the canonical fast path, for comparison
  import_again   the same file again: every row compared, nothing changes (idempotency)
and on PostgreSQL `import_new_no_grant`: the import for a role that may not skip the per-row
foreign-key triggers (see docs/IMPORT.md, Speed). The banks are left as they were: imported rows
and load records are deleted afterwards and PostgreSQL's table vacuumed.
The table's ×plain, ×real and ×floor are import_new over loader_plain, loader_real and loader_target.
Targets (issue 8): ≥ 100k rows/s into PostgreSQL, ≥ 50k rows/s into SQLite, within 2× of the loader.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from bench.common import (
    CUSTOMERS,
    DATA,
    PG_URL,
    Bank,
    postgres_bank,
    sqlite_bank,
    write_result,
)
from bot.imports import KINDS, import_file, staging
from bot.testing import DEMO_DATA_DATE

AS_OF = DEMO_DATA_DATE + timedelta(days=1)
"""A data date the bench banks do not have yet: every row is new, as in a nightly load."""
PLAIN = "bench_plain_balance"


def generate(path: Path, rows: int, as_of: date = AS_OF, seed: int = 8) -> Path:
    """Deterministic extract for C0000001…: same seed and size → byte-identical file."""
    if path.exists() and path.stat().st_size > 0 and path.with_suffix(".ok").exists():
        return path
    rng = random.Random(seed)
    day = as_of.isoformat()
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("customer_id,as_of,aum,deposit,outflow_other_bank\n")
        lines = []
        for n in range(1, rows + 1):
            aum = rng.randrange(10_000, 500_000_000)
            deposit = aum * rng.randrange(0, 101) // 100
            outflow = 0 if rng.random() < 0.9 else rng.randrange(0, 5_000_000)
            lines.append(f"C{n:07d},{day},{aum // 100}.{aum % 100:02d},{deposit // 100}.{deposit % 100:02d},"
                         f"{outflow // 100}.{outflow % 100:02d}\n")
            if len(lines) == 10_000:
                fh.writelines(lines)
                lines.clear()
        fh.writelines(lines)
    path.with_suffix(".ok").write_text(str(rows))
    return path


def fen_file(path: Path) -> Path:
    """The extract with its amounts in 分 (no header), for `loader_target`: built once, untimed."""
    out = path.with_name(path.stem + "_fen.csv")
    if out.exists() and out.stat().st_mtime >= path.stat().st_mtime:
        return out
    with path.open(encoding="utf-8") as src, out.open("w", encoding="utf-8") as dst:
        src.readline()
        for line in src:
            cid, day, *amounts = line.rstrip("\n").split(",")
            dst.write(",".join([cid, day, *(a.replace(".", "") for a in amounts)]) + "\n")
    return out


def timed(fn: Callable[[], Any], repeat: int, reset: Callable[[], None]) -> tuple[float, Any]:
    """Best of `repeat` runs (the machine is shared), resetting the bank between runs."""
    best, value = float("inf"), None
    for i in range(repeat):
        if i:
            reset()
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def _cleanup(engine: Engine, vacuum: bool) -> None:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM balance WHERE as_of = :d"), {"d": AS_OF})
        conn.execute(text("DELETE FROM data_load WHERE kind = 'balances' AND data_date = :d"), {"d": AS_OF})
        conn.execute(text("DELETE FROM data_day WHERE day = :d"), {"d": AS_OF})  # its completeness record
        conn.execute(text(f"DROP TABLE IF EXISTS {PLAIN}"))
    if vacuum:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE balance"))


def _import(engine: Engine, path: Path, fast: bool = True) -> dict[str, int]:
    result = import_file(engine, KINDS["balances"], path, fast=fast)
    assert result.rejected == 0, result.errors[:3]
    return {"rows": result.rows, "inserted": result.inserted, "updated": result.updated, "unchanged": result.unchanged,
            "fast_rows": result.fast_rows}


def _psql(sql: str, schema: str, options: str = "") -> None:
    url = make_url(PG_URL)
    env = {**os.environ, "PGOPTIONS": f"-csearch_path={schema} {options}".strip()}
    if url.password:
        env["PGPASSWORD"] = url.password
    cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432),
           "-U", url.username or "postgres", "-d", url.database or "postgres", "-c", sql]
    subprocess.run(cmd, check=True, env=env, capture_output=True)


def _sqlite3(db: Path, *commands: str) -> None:
    subprocess.run(["sqlite3", str(db), *commands], check=True, capture_output=True)


def bench_postgres(bank: Bank, path: Path, rows: int, repeat: int) -> dict[str, Any]:
    engine, schema = bank.engine, f"bench_{CUSTOMERS}"
    plain_ddl = (f"DROP TABLE IF EXISTS {PLAIN}; CREATE TABLE {PLAIN} (customer_id varchar(20), as_of date, "
                 "aum numeric(18,2), deposit numeric(18,2), outflow_other_bank numeric(18,2))")
    copy = f"\\copy {PLAIN} FROM '{path}' WITH (FORMAT csv, HEADER true)"
    into_real = (f"INSERT INTO balance (customer_id, as_of, aum_fen, deposit_fen, outflow_other_bank_fen) "
                 f"SELECT customer_id, as_of, (aum * 100)::bigint, (deposit * 100)::bigint, "
                 f"(outflow_other_bank * 100)::bigint FROM {PLAIN}")
    reset = lambda: _cleanup(engine, vacuum=True)
    _cleanup(engine, vacuum=True)
    out: dict[str, Any] = {"database": "PostgreSQL", "rows": rows}

    def loader_plain() -> None:
        _psql(plain_ddl, schema)
        _psql(copy, schema)

    out["loader_plain_s"], _ = timed(loader_plain, repeat, reset)
    def loader_real() -> None:
        loader_plain()
        _psql(into_real, schema)

    out["loader_real_s"], _ = timed(loader_real, repeat, reset)
    reset()
    fen = fen_file(path)
    into_target = (f"\\copy balance (customer_id, as_of, aum_fen, deposit_fen, outflow_other_bank_fen) "
                   f"FROM '{fen}' WITH (FORMAT csv)")
    out["loader_target_s"], _ = timed(lambda: _psql(into_target, schema, "-csession_replication_role=replica"),
                                      repeat, reset)
    reset()
    out["import_new_parser_s"], _ = timed(lambda: _import(engine, path, fast=False), repeat, reset)
    reset()
    out["import_new_s"], out["import_new"] = timed(lambda: _import(engine, path), repeat, reset)
    out["import_again_s"], out["import_again"] = timed(lambda: _import(engine, path), repeat, lambda: None)
    reset()
    original = staging.Stage._can_skip_fk_triggers
    staging.Stage._can_skip_fk_triggers = lambda self: False  # type: ignore[method-assign]
    try:
        out["import_new_no_grant_s"], _ = timed(lambda: _import(engine, path), 1, reset)
    finally:
        staging.Stage._can_skip_fk_triggers = original  # type: ignore[method-assign]
    reset()
    return out


def bench_sqlite(bank: Bank, path: Path, rows: int, repeat: int) -> dict[str, Any]:
    engine = bank.engine
    db = Path(engine.url.database or "")
    if shutil.which("sqlite3") is None:
        raise SystemExit("sqlite3 command-line shell not found (apt-get install sqlite3)")
    plain_ddl = (f"DROP TABLE IF EXISTS {PLAIN}; CREATE TABLE {PLAIN} (customer_id TEXT, as_of TEXT, aum NUMERIC, "
                 "deposit NUMERIC, outflow_other_bank NUMERIC);")
    into_real = (f"INSERT INTO balance (customer_id, as_of, aum_fen, deposit_fen, outflow_other_bank_fen) "
                 f"SELECT customer_id, as_of, CAST(round(aum * 100) AS INTEGER), CAST(round(deposit * 100) AS INTEGER), "
                 f"CAST(round(outflow_other_bank * 100) AS INTEGER) FROM {PLAIN};")
    reset = lambda: _cleanup(engine, vacuum=False)
    engine.dispose()
    _cleanup(engine, vacuum=False)
    engine.dispose()  # the shell must not wait on our connections
    out: dict[str, Any] = {"database": "SQLite", "rows": rows}

    def loader_plain() -> None:
        _sqlite3(db, plain_ddl, f".import --csv --skip 1 {path} {PLAIN}")

    out["loader_plain_s"], _ = timed(loader_plain, repeat, reset)
    def loader_real() -> None:
        loader_plain()
        _sqlite3(db, into_real)

    out["loader_real_s"], _ = timed(loader_real, repeat, reset)
    reset()
    fen = fen_file(path)  # the shell leaves foreign keys off
    out["loader_target_s"], _ = timed(lambda: _sqlite3(db, f".import --csv {fen} balance"), repeat, reset)
    reset()
    out["import_new_parser_s"], _ = timed(lambda: _import(engine, path, fast=False), repeat, reset)
    reset()
    out["import_new_s"], out["import_new"] = timed(lambda: _import(engine, path), repeat, reset)
    out["import_again_s"], out["import_again"] = timed(lambda: _import(engine, path), repeat, lambda: None)
    reset()
    return out


def derive(r: dict[str, Any]) -> dict[str, Any]:
    rows = r["rows"]
    for key in [k for k in r if k.endswith("_s")]:
        r[key] = round(r[key], 2)
        r[key[:-2] + "_rows_per_s"] = round(rows / r[key]) if r[key] else None
    r["ratio_to_loader_plain"] = round(r["import_new_s"] / r["loader_plain_s"], 2)
    r["ratio_to_loader_real"] = round(r["import_new_s"] / r["loader_real_s"], 2)
    r["ratio_to_loader_target"] = round(r["import_new_s"] / r["loader_target_s"], 2)
    return r


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs for each figure")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    if args.rows > CUSTOMERS:
        raise SystemExit(f"--rows must be ≤ the bench banks' {CUSTOMERS:,} customers")
    DATA.mkdir(exist_ok=True)
    started = time.perf_counter()
    path = generate(DATA / f"balances_{args.rows}.csv", args.rows)
    print(f"extract: {path} ({path.stat().st_size / 1e6:.0f} MB, {args.rows:,} rows) "
          f"ready in {time.perf_counter() - started:.1f} s", flush=True)
    results = []
    for name, make, run in (("sqlite", sqlite_bank, bench_sqlite), ("postgresql", postgres_bank, bench_postgres)):
        if args.only and args.only != name:
            continue
        print(f"preparing {make.__name__} with {CUSTOMERS:,} customers …", flush=True)
        bank = make()
        r = derive(run(bank, path, args.rows, args.repeat))
        results.append(r)
        print(f"  {r['database']}: import {r['import_new_rows_per_s']:,} rows/s ({r['import_new_s']} s), "
              f"loader {r['loader_plain_rows_per_s']:,} rows/s → ×{r['ratio_to_loader_plain']}; "
              f"floor (loader into balance) ×{r['ratio_to_loader_target']}", flush=True)
    load = os.getloadavg()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    written = write_result("import", {"rows": args.rows, "customers": CUSTOMERS, "repeat": args.repeat,
                                      "file_mb": round(path.stat().st_size / 1e6, 1), "peak_rss_mb": round(peak_mb),
                                      "load_average_after": [round(x, 2) for x in load], "results": results})
    print()
    print(f"{'database':12s} {'import rows/s':>14s} {'parser rows/s':>14s} {'again rows/s':>13s} "
          f"{'loader rows/s':>14s} {'loader+insert':>14s} {'into balance':>13s} {'×plain':>7s} {'×real':>6s} "
          f"{'×floor':>7s}")
    for r in results:
        print(f"{r['database']:12s} {r['import_new_rows_per_s']:>14,} {r['import_new_parser_rows_per_s']:>14,} "
              f"{r['import_again_rows_per_s']:>13,} {r['loader_plain_rows_per_s']:>14,} "
              f"{r['loader_real_rows_per_s']:>14,} {r['loader_target_rows_per_s']:>13,} "
              f"{r['ratio_to_loader_plain']:>7} {r['ratio_to_loader_real']:>6} {r['ratio_to_loader_target']:>7}")
        if "import_new_no_grant_rows_per_s" in r:
            print(f"{'':12s} without the replica grant: {r['import_new_no_grant_rows_per_s']:,} rows/s")
    print(f"\npeak memory of this process: {peak_mb:.0f} MB for a {path.stat().st_size / 1e6:.0f} MB file")
    print(f"written {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
