"""Fast bulk writes for seed and import: PostgreSQL COPY, SQLite executemany on the raw cursor.

The ORM costs ~20× more per row; at a million customers that is the difference between
minutes and an hour.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy.engine import Connection

from bot.clock import SHANGHAI


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(SHANGHAI).replace(tzinfo=None)
    return value


def bulk_insert(conn: Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert rows inside the caller's transaction; returns the count written."""
    dbapi = conn.connection.driver_connection
    cols = ", ".join(columns)
    count = 0
    if conn.dialect.name == "postgresql":
        with dbapi.cursor() as cur:  # type: ignore[union-attr]
            with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([_plain(v) for v in row])
                    count += 1
        return count
    marks = ", ".join("?" for _ in columns)
    cur = dbapi.cursor()  # type: ignore[union-attr]
    batch: list[Sequence[Any]] = []
    for row in rows:
        batch.append([_plain(v).isoformat(" ") if isinstance(v, datetime) else v for v in row])
        if len(batch) >= 10_000:
            cur.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", batch)
            count += len(batch)
            batch.clear()
    if batch:
        cur.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", batch)
        count += len(batch)
    cur.close()
    return count
