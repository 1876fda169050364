"""Shared by the import tests: typed table dumps, file writers, the sample bank."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from bot.imports import KINDS, import_file
from bot.store.models import DataLoad

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
BUSINESS = ("org", "staff", "customer", "holding", "balance", "aum_monthly", "corporate_monthly", "contact")


def dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every business table as sorted, typed rows (contact ids are the store's own, so left out)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for name in BUSINESS:
            table = SQLModel.metadata.tables[name]
            cols = [c for c in table.c if not (name == "contact" and c.name == "id")]
            out[name] = sorted((tuple(r) for r in conn.execute(select(*cols))), key=repr)
    return out


def loads(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(DataLoad)).scalar_one())


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]], encoding: str = "utf-8") -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def import_samples(engine: Engine) -> None:
    from bot.imports import files_of

    for kind, path in files_of("all", SAMPLES):
        result = import_file(engine, kind, path)
        assert result.rejected == 0, (path.name, result.errors)


def balance_rows(customers: int, days: int, start: date = date(2026, 10, 1)) -> list[list[str]]:
    """A balance extract for C0000001…: `days` data dates × `customers` customers, all valid."""
    rows = []
    for d in range(days):
        as_of = (start + timedelta(days=d)).isoformat()
        for n in range(1, customers + 1):
            aum = 10_000 + n * 137 + d
            rows.append([f"C{n:07d}", as_of, f"{aum}.{n % 100:02d}", f"{aum // 2}.00", "0.00"])
    return rows


BALANCE_HEADER = ["customer_id", "as_of", "aum", "deposit", "outflow_other_bank"]
__all__ = ["BALANCE_HEADER", "KINDS", "SAMPLES", "balance_rows", "dump", "import_samples", "loads", "write_csv"]
