"""Write a kind back out in the import's own format, so export → import round-trips exactly.

Rows stream from the database (a server-side cursor on PostgreSQL) straight into the file; an
XLSX is written in openpyxl's write-only mode. Money goes out as 元 with two decimals, from the
integer 分 through Decimal, never float. Cells are written by bot/exports/cells.py (no live
formulas) and every export is audited first by bot/exports/audit.py (exactly which customers).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Select, Table, select
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

import bot.store.models  # noqa: F401  (registers the tables in SQLModel.metadata)
from bot.clock import SHANGHAI, month_start
from bot.exports.audit import Actor, audited_export
from bot.exports.cells import is_stdout, is_xlsx, open_sheet
from bot.imports.readers import normalize_encoding
from bot.imports.specs import Kind


def _filtered(kind: Kind, stmt: Select, day: date | None) -> Select:
    """`day` keeps one data date (or its month) of dated kinds."""
    table = SQLModel.metadata.tables[kind.table]
    if day is not None and kind.date_column:
        col = table.c[kind.date_column]
        if kind.date_column == "month":
            stmt = stmt.where(col == month_start(day))
        elif kind.date_column == "at":
            start = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
            stmt = stmt.where(col >= start, col < start + timedelta(days=1))
        else:
            stmt = stmt.where(col == day)
    return stmt


def _table(kind: Kind) -> Table:
    return SQLModel.metadata.tables[kind.table]


def customers_of(kind: Kind, day: date | None = None) -> Select | None:
    """The customer numbers an export of `kind` contains (None: the kind holds no customer data)."""
    table = _table(kind)
    name = "id" if kind.table == "customer" else "customer_id"
    if name not in table.c:
        return None
    col = table.c[name]
    return _filtered(kind, select(col).distinct(), day).order_by(col)


def rows_of(conn: Connection, kind: Kind, zh: bool = False, day: date | None = None) -> Iterator[list[Any]]:
    """Cells in the kind's column order; `day` keeps one data date (or its month) of dated kinds."""
    table = _table(kind)
    stmt = _filtered(kind, select(*(table.c[c.target] for c in kind.columns)), day)
    order = [table.c["path"]] if kind.table == "org" else [table.c[k] for k in kind.key]
    stmt = stmt.order_by(*order)
    outs = [c.out for c in kind.columns]
    result = conn.execution_options(stream_results=True, yield_per=5000).execute(stmt)
    for row in result:
        yield [v if out is None or v is None else out(v, zh) for v, out in zip(row, outs)]


def header_of(kind: Kind, zh: bool) -> list[str]:
    return [c.zh if zh else c.name for c in kind.columns]


def export_kind(engine: Engine, kind: Kind, out: Path | None, *, encoding: str = "utf-8", zh: bool = False,
                day: date | None = None, actor: Actor | None = None) -> int:
    """Write the rows to `out` (.csv or .xlsx; None: CSV on stdout); returns how many were written.
    Audited before the first row is written; `actor` defaults to the OS account running rmbot."""
    codec = normalize_encoding(encoding)
    where = "stdout" if is_stdout(out) else str(Path(out).resolve())  # type: ignore[arg-type]
    columns = [c.name for c in kind.columns]
    fmt = "xlsx" if is_xlsx(out) else "csv"
    with audited_export(engine, actor or Actor.cli(), action="export", target=f"export:{kind.name}:{fmt}",
                        where=where, columns=columns, customers=customers_of(kind, day)) as conn:
        with open_sheet(out, title=kind.name, encoding=codec) as sheet:
            sheet.writerow(header_of(kind, zh))
            count = 0
            for row in rows_of(conn, kind, zh, day):
                sheet.writerow(row)
                count += 1
    return count
