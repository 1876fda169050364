"""Write a kind back out in the import's own format, so export → import round-trips exactly.

Rows stream from the database (a server-side cursor on PostgreSQL) straight into the file; an
XLSX is written in openpyxl's write-only mode. Money goes out as 元 with two decimals, from the
integer 分 through Decimal, never float.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import bot.store.models  # noqa: F401  (registers the tables in SQLModel.metadata)
from bot.clock import SHANGHAI, month_start
from bot.imports.readers import normalize_encoding
from bot.imports.specs import Kind


def rows_of(engine: Engine, kind: Kind, zh: bool = False, day: date | None = None) -> Iterator[list[Any]]:
    """Cells in the kind's column order; `day` keeps one data date (or its month) of dated kinds."""
    table = SQLModel.metadata.tables[kind.table]
    stmt = select(*(table.c[c.target] for c in kind.columns))
    if day is not None and kind.date_column:
        col = table.c[kind.date_column]
        if kind.date_column == "month":
            stmt = stmt.where(col == month_start(day))
        elif kind.date_column == "at":
            start = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
            stmt = stmt.where(col >= start, col < start + timedelta(days=1))
        else:
            stmt = stmt.where(col == day)
    order = [table.c["path"]] if kind.table == "org" else [table.c[k] for k in kind.key]
    stmt = stmt.order_by(*order)
    outs = [c.out for c in kind.columns]
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=5000).execute(stmt)
        for row in result:
            yield [v if out is None or v is None else out(v, zh) for v, out in zip(row, outs)]


def header_of(kind: Kind, zh: bool) -> list[str]:
    return [c.zh if zh else c.name for c in kind.columns]


def csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        text = f"{value:%Y-%m-%d %H:%M:%S}"
        return f"{text}.{value.microsecond:06d}" if value.microsecond else text
    if isinstance(value, date):
        return value.isoformat()
    return value


def export_kind(engine: Engine, kind: Kind, out: Path | None, *, encoding: str = "utf-8", zh: bool = False,
                day: date | None = None) -> int:
    """Write the rows to `out` (.csv or .xlsx; None: CSV on stdout); returns how many were written."""
    if out is not None and out.suffix.lower() in (".xlsx", ".xlsm"):
        return _write_xlsx(engine, kind, out, zh, day)
    codec = normalize_encoding(encoding)
    if out is None:
        stream = io.TextIOWrapper(sys.stdout.buffer, encoding=codec, newline="", write_through=True)
        try:
            return _write_csv(engine, kind, stream, zh, day)
        finally:
            stream.detach()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding=codec, newline="") as fh:
        return _write_csv(engine, kind, fh, zh, day)


def _write_csv(engine: Engine, kind: Kind, fh: Any, zh: bool, day: date | None) -> int:
    writer = csv.writer(fh)
    writer.writerow(header_of(kind, zh))
    count = 0
    for row in rows_of(engine, kind, zh, day):
        writer.writerow([csv_cell(v) for v in row])
        count += 1
    return count


def _write_xlsx(engine: Engine, kind: Kind, out: Path, zh: bool, day: date | None) -> int:
    from openpyxl import Workbook  # type: ignore[import-untyped]

    book = Workbook(write_only=True)
    sheet = book.create_sheet(kind.name)
    sheet.append(header_of(kind, zh))
    count = 0
    for row in rows_of(engine, kind, zh, day):
        # Ids stay text cells (leading zeros survive); money is a number cell Excel can sum.
        sheet.append([float(v) if isinstance(v, Decimal) and abs(v) < 10**13 else v for v in row])
        count += 1
    out.parent.mkdir(parents=True, exist_ok=True)
    book.save(out)
    return count
