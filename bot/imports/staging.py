"""The database side of an import: a temp staging table, set-based checks, one upsert.

Rows that parsed cleanly are bulk-loaded into `imp_stage` (PostgreSQL COPY, SQLite executemany);
duplicate keys and unknown references are then found with a handful of joins over the whole file
instead of a query per row, recorded in `imp_err` and removed, and the rest goes into the target
table with one `INSERT … SELECT … ON CONFLICT DO UPDATE` that skips rows whose values are
unchanged. A new day's balances may instead go straight into the target under a savepoint (the
`direct_*` methods, see importer._direct). Everything runs on the caller's connection, inside its
one transaction per file, so an error or an interrupt anywhere leaves the database as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from itertools import islice, takewhile
from typing import Any

from sqlalchemy.engine import Connection

from bot.imports.specs import Kind

STAGE = "imp_stage"
ERRORS = "imp_err"
CHUNK = 50_000
"""Rows per COPY / executemany: bounds memory, and lets parse errors be flushed in between."""
PG_WORK_MEM = "256MB"
PG_TEMP_BUFFERS = "512MB"
"""Upper bounds, not allocations: PostgreSQL only uses what the stage and its joins need."""


def _unique_violation(exc: Exception) -> bool:
    state = getattr(exc, "sqlstate", None)  # psycopg
    if state is not None:
        return bool(state == "23505")
    return "UNIQUE constraint failed" in str(exc)  # sqlite3.IntegrityError


def _not_none(row: object) -> bool:
    return row is not None


def q(name: str) -> str:
    return f'"{name}"'


class Stage:
    def __init__(self, conn: Connection, kind: Kind) -> None:
        self.conn = conn
        self.kind = kind
        self.pg = conn.dialect.name == "postgresql"
        self.dbapi = conn.connection.driver_connection
        self.targets = kind.targets
        self.cur = self.dbapi.cursor()  # type: ignore[union-attr]
        self.types: list[int] = []
        self.target_types: list[int] = []
        """PostgreSQL type oids of the stage's and the target's columns, for binary COPY."""
        self.fast_path = False
        """True when PostgreSQL writes skip the per-row foreign-key triggers (_can_skip_fk_triggers)."""

    # ---- set-up --------------------------------------------------------------------------------
    def create(self) -> None:
        """Temp tables shaped like the target (same types, so COPY parses as the table would)."""
        cols = ", ".join(q(c) for c in self.targets)
        table = q(self.kind.table)
        kind_table = self.kind.table
        if self.pg:
            self._pg_memory()
            self.fast_path = self._can_skip_fk_triggers()
            self.cur.execute(f"CREATE TEMP TABLE {STAGE} ON COMMIT DROP AS "
                             f"SELECT 0::bigint AS _row, {cols} FROM {table} WITH NO DATA")
            self.cur.execute(f"CREATE TEMP TABLE {ERRORS} (_row bigint, pos int, col text, value text, reason text) "
                             "ON COMMIT DROP")
            self.cur.execute(f"SELECT atttypid FROM pg_attribute WHERE attrelid = '{STAGE}'::regclass AND attnum > 0 "
                             "AND NOT attisdropped ORDER BY attnum")
            self.types = [r[0] for r in self.cur.fetchall()]
            self.cur.execute(f"SELECT attname, atttypid FROM pg_attribute WHERE attrelid = '{kind_table}'::regclass "
                             "AND attnum > 0 AND NOT attisdropped")
            oids = dict(self.cur.fetchall())
            self.target_types = [oids[c] for c in self.targets]
        else:
            self.cur.execute(f"DROP TABLE IF EXISTS temp.{STAGE}")
            self.cur.execute(f"DROP TABLE IF EXISTS temp.{ERRORS}")
            self.cur.execute(f"CREATE TEMP TABLE {STAGE} AS SELECT 0 AS _row, {cols} FROM main.{table} WHERE 0")
            self.cur.execute(f"CREATE TEMP TABLE {ERRORS} (_row INTEGER, pos INTEGER, col TEXT, value TEXT, reason TEXT)")

    def _pg_memory(self) -> None:
        """Room for a million-row stage and its joins: the defaults (8 MB of temp buffers, 4 MB per
        hash) would spill a daily extract to disk several times over. Local to this transaction,
        except temp_buffers, which PostgreSQL only lets a session set before its first temp table."""
        self.cur.execute(f"SET LOCAL work_mem = '{PG_WORK_MEM}'")
        self.cur.execute("SAVEPOINT imp_temp_buffers")
        try:
            self.cur.execute(f"SET temp_buffers = '{PG_TEMP_BUFFERS}'")
            self.cur.execute("RELEASE SAVEPOINT imp_temp_buffers")
        except Exception:  # noqa: BLE001  (this session has used temp tables already: keep its setting)
            self.cur.execute("ROLLBACK TO SAVEPOINT imp_temp_buffers")

    def drop(self) -> None:
        if not self.pg:  # PostgreSQL drops them at commit or rollback
            self.cur.execute(f"DROP TABLE IF EXISTS temp.{STAGE}")
            self.cur.execute(f"DROP TABLE IF EXISTS temp.{ERRORS}")
        self.cur.close()

    # ---- loading -------------------------------------------------------------------------------
    def write(self, rows: Iterator[Sequence[Any] | None], into_target: bool = False) -> None:
        """Write up to CHUNK rows (`_row` first, then the targets), stopping early at a None.
        `into_target`: straight into the kind's table, without the row numbers (the direct path)."""
        chunk: Iterator[Sequence[Any]] = takewhile(_not_none, islice(rows, CHUNK))  # type: ignore[arg-type]
        names = [q(c) for c in self.targets]
        if into_target:
            chunk = (row[1:] for row in chunk)
            table, types = q(self.kind.table), self.target_types
        else:
            names.insert(0, "_row")
            table, types = STAGE, self.types
        if self.pg:
            # Binary COPY: psycopg encodes in C and the server skips text parsing (about 2× the text format).
            with self.cur.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(types)
                for row in chunk:
                    copy.write_row(row)
            return
        marks = ", ".join("?" for _ in names)
        target = f"main.{table}" if into_target else f"temp.{STAGE}"
        self.cur.executemany(f"INSERT INTO {target} ({', '.join(names)}) VALUES ({marks})", chunk)

    # ---- the direct path (see importer._direct) ------------------------------------------------
    def direct_begin(self) -> None:
        self.cur.execute("SAVEPOINT imp_direct")
        if self.fast_path:
            self.cur.execute("SET LOCAL session_replication_role = replica")

    def direct_references_ok(self, partition_values: set[Any]) -> bool:
        """With the per-row foreign-key triggers skipped, look for rows naming nothing, set-based,
        among the rows of the file's partitions (all just written: nothing else there conflicted)."""
        if not self.fast_path or not partition_values:
            return True  # the database enforced the foreign keys row by row
        part = q(self.kind.partition or "")
        values = sorted(partition_values)
        marks = ", ".join(["%s" if self.pg else "?"] * len(values))
        for ref in self.kind.refs:
            cond = f"NOT EXISTS (SELECT 1 FROM {q(ref.table)} r WHERE r.id = t.{q(ref.column)}" + (
                f" AND {ref.where})" if ref.where else ")")
            self.cur.execute(f"SELECT 1 FROM {q(self.kind.table)} t WHERE t.{part} IN ({marks}) "
                             f"AND t.{q(ref.column)} IS NOT NULL AND {cond} LIMIT 1", values)
            if self.cur.fetchone():
                return False
        return True

    def direct_end(self) -> None:
        if self.fast_path:
            self.cur.execute("SET LOCAL session_replication_role = DEFAULT")
        self.cur.execute("RELEASE SAVEPOINT imp_direct")

    def direct_abort(self) -> None:
        self.cur.execute("ROLLBACK TO SAVEPOINT imp_direct")
        if self.fast_path:
            self.cur.execute("SET LOCAL session_replication_role = DEFAULT")
        self.cur.execute("RELEASE SAVEPOINT imp_direct")

    @staticmethod
    def is_conflict(exc: BaseException) -> bool:
        """A repeated key or an unknown reference: what the careful path handles row by row."""
        state = getattr(exc, "sqlstate", None)  # psycopg
        if state is not None:
            return state in ("23505", "23503")
        text = str(exc)
        return "UNIQUE constraint failed" in text or "FOREIGN KEY constraint failed" in text

    def add_errors(self, errors: Iterable[tuple[int, int, str, str, str]]) -> None:
        errors = list(errors)
        if not errors:
            return
        if self.pg:
            with self.cur.copy(f"COPY {ERRORS} (_row, pos, col, value, reason) FROM STDIN") as copy:
                for e in errors:
                    copy.write_row(e)
        else:
            self.cur.executemany(f"INSERT INTO temp.{ERRORS} VALUES (?, ?, ?, ?, ?)", errors)

    def scalar(self, sql: str) -> Any:
        self.cur.execute(sql)
        row = self.cur.fetchone()
        return None if row is None else row[0]

    def analyze(self) -> None:
        """Temp tables get no autovacuum statistics; without them PostgreSQL may pick nested loops."""
        if self.pg:
            self.cur.execute(f"ANALYZE {STAGE}")

    # ---- set-based checks -----------------------------------------------------------------------
    def _pos(self, target: str) -> tuple[int, str]:
        for i, col in enumerate(self.kind.columns):
            if col.target == target:
                return i, col.name
        raise KeyError(target)

    def _text(self, expr: str) -> str:
        return f"CAST({expr} AS TEXT)" if not self.pg else f"({expr})::text"

    def check_duplicates(self) -> int:
        """Later rows with a key seen earlier in the file are errors; the first one counts."""
        key = ", ".join(q(c) for c in self.kind.key)
        has = self.scalar(f"SELECT 1 FROM {STAGE} GROUP BY {key} HAVING count(*) > 1 LIMIT 1")
        if not has:
            return 0
        pos, name = self._pos(self.kind.key[0])
        shown = " || '/' || ".join(self._text(q(c)) for c in self.kind.key)
        self.cur.execute(
            f"INSERT INTO {ERRORS} (_row, pos, col, value, reason) "
            f"SELECT d._row, {pos}, '{name}', d.shown, '与第 ' || d.first || ' 行重复（同一业务主键）' FROM ("
            f"  SELECT _row, {shown} AS shown, min(_row) OVER (PARTITION BY {key}) AS first FROM {STAGE}) d "
            "WHERE d._row <> d.first")
        return int(self.cur.rowcount or 0)

    def check_refs(self) -> int:
        """Unknown branches, staff and customers, against the store (and the file for self-references)."""
        found = 0
        for ref in self.kind.refs:
            pos, name = self._pos(ref.column)
            col = f"s.{q(ref.column)}"
            exists = f"SELECT 1 FROM {q(ref.table)} r WHERE r.id = {col}"
            if ref.where:  # present, but of the wrong sort: only rows the plain check let through
                cond = f"EXISTS ({exists}) AND NOT EXISTS ({exists} AND {ref.where})"
            else:
                cond = f"NOT EXISTS ({exists})"
                if ref.same_file:
                    cond += f" AND NOT EXISTS (SELECT 1 FROM {STAGE} s2 WHERE s2.id = {col})"
            self.cur.execute(
                f"INSERT INTO {ERRORS} (_row, pos, col, value, reason) "
                f"SELECT s._row, {pos}, '{name}', {col}, '{ref.reason}' FROM {STAGE} s "
                f"WHERE {col} IS NOT NULL AND {cond}")
            found += int(self.cur.rowcount or 0)
        return found

    def reject(self) -> None:
        """Remove every row that has an error of any kind from the stage."""
        if self.scalar(f"SELECT 1 FROM {ERRORS} LIMIT 1"):
            self.cur.execute(f"DELETE FROM {STAGE} WHERE _row IN (SELECT _row FROM {ERRORS})")

    def rejected_rows(self) -> int:
        return int(self.scalar(f"SELECT count(DISTINCT _row) FROM {ERRORS}") or 0)

    def errors(self) -> Iterator[tuple[int, str, str, str]]:
        """(row, column, value, reason) in file order, streamed (a server-side cursor on PostgreSQL)."""
        sql = f"SELECT _row, col, value, reason FROM {ERRORS} ORDER BY _row, pos"
        if self.pg:
            with self.dbapi.cursor(name="imp_err_cursor") as cur:  # type: ignore[union-attr]
                cur.itersize = 5000
                cur.execute(sql)
                yield from cur
        else:
            cur = self.dbapi.cursor()  # type: ignore[union-attr]
            try:
                yield from cur.execute(sql)
            finally:
                cur.close()

    # ---- writing -------------------------------------------------------------------------------
    def all_new(self) -> bool:
        """True when no stored row can share a key with the file (see Kind.partition)."""
        part = self.kind.partition
        if part is None:
            return False
        col = q(part)
        return not self.scalar(f"SELECT 1 FROM {q(self.kind.table)} WHERE {col} IN "
                               f"(SELECT DISTINCT {col} FROM {STAGE}) LIMIT 1")

    def insert_new(self) -> int | None:
        """Plain INSERT of rows known to be new; None (and nothing written) when the file itself
        repeats a key, which the unique index reports — then the caller checks and upserts."""
        names = ", ".join(q(c) for c in self.targets)
        self.cur.execute("SAVEPOINT imp_insert")
        if self.fast_path:
            self.cur.execute("SET LOCAL session_replication_role = replica")
        try:
            self.cur.execute(f"INSERT INTO {q(self.kind.table)} ({names}) SELECT {names} FROM {STAGE}")
        except Exception as exc:
            if not _unique_violation(exc):
                raise
            self.cur.execute("ROLLBACK TO SAVEPOINT imp_insert")
            return None
        count = int(self.cur.rowcount or 0)
        if self.fast_path:
            self.cur.execute("SET LOCAL session_replication_role = DEFAULT")
        self.cur.execute("RELEASE SAVEPOINT imp_insert")
        return count

    def upsert(self) -> tuple[int, int]:
        """Write the staged rows; returns (inserted, updated). Identical rows are left untouched."""
        if self.fast_path:
            self.cur.execute("SET LOCAL session_replication_role = replica")
        counts = self._key_upsert() if self.kind.unique_key else self._match_upsert()
        if self.fast_path:
            self.cur.execute("SET LOCAL session_replication_role = DEFAULT")
        return counts

    def _key_upsert(self) -> tuple[int, int]:
        table = q(self.kind.table)
        cols = [q(c) for c in self.targets]
        values = [c for c in self.targets if c not in self.kind.key]
        key = ", ".join(q(c) for c in self.kind.key)
        names = ", ".join(cols)
        if self.pg:
            sets = ", ".join(f"{q(c)} = EXCLUDED.{q(c)}" for c in values)
            changed = (f"({', '.join(f't.{q(c)}' for c in values)}) IS DISTINCT FROM "
                       f"({', '.join(f'EXCLUDED.{q(c)}' for c in values)})")
            self.cur.execute(
                f"WITH up AS (INSERT INTO {table} AS t ({names}) SELECT {names} FROM {STAGE} "
                f"ON CONFLICT ({key}) DO UPDATE SET {sets} WHERE {changed} RETURNING (xmax = 0) AS inserted) "
                "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up")
            inserted, updated = self.cur.fetchone()
            return int(inserted), int(updated)
        sets = ", ".join(f"{q(c)} = excluded.{q(c)}" for c in values)
        changed = " OR ".join(f"{table}.{q(c)} IS NOT excluded.{q(c)}" for c in values)
        before_rows = self.scalar(f"SELECT count(*) FROM {table}")
        before = self.dbapi.total_changes  # type: ignore[union-attr]
        self.cur.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM temp.{STAGE} WHERE true "
                         f"ON CONFLICT ({key}) DO UPDATE SET {sets} WHERE {changed}")
        changes = self.dbapi.total_changes - before  # type: ignore[union-attr]
        inserted = int(self.scalar(f"SELECT count(*) FROM {table}")) - int(before_rows)
        return inserted, changes - inserted

    def _can_skip_fk_triggers(self) -> bool:
        """PostgreSQL checks a foreign key with one trigger query per row: ~10 µs a row, most of a
        million-row load. Our references are checked set-based anyway, so when the role may set
        session_replication_role (superuser, or PostgreSQL 15+ `GRANT SET ON PARAMETER`) and the
        table has no triggers of its own, the upsert runs without the per-row checks. The
        referenced tables are then locked SHARE before the checks, so no customer, staff or org
        can change between the check and the commit. Otherwise: the normal, slower path."""
        if not self.kind.refs:
            return False
        own = self.scalar(f"SELECT count(*) FROM pg_trigger WHERE tgrelid = '{self.kind.table}'::regclass "
                          "AND NOT tgisinternal")
        if own:
            return False
        self.cur.execute("SAVEPOINT imp_fast")
        try:
            self.cur.execute("SET LOCAL session_replication_role = replica")
        except Exception:  # noqa: BLE001  (not permitted for this role)
            self.cur.execute("ROLLBACK TO SAVEPOINT imp_fast")
            return False
        self.cur.execute("SET LOCAL session_replication_role = DEFAULT")
        self.cur.execute("RELEASE SAVEPOINT imp_fast")
        parents = sorted({r.table for r in self.kind.refs})
        self.cur.execute(f"LOCK TABLE {', '.join(q(t) for t in parents)} IN SHARE MODE")
        return True

    def _match_upsert(self) -> tuple[int, int]:
        """Tables without a unique business key (contacts): update the matches, insert the rest."""
        table = q(self.kind.table)
        values = [c for c in self.targets if c not in self.kind.key]
        names = ", ".join(q(c) for c in self.targets)
        match = " AND ".join(self._same(c) for c in self.kind.key)
        stage = STAGE if self.pg else f"temp.{STAGE}"
        if self.pg:
            changed = (f"({', '.join(f't.{q(c)}' for c in values)}) IS DISTINCT FROM "
                       f"({', '.join(f's.{q(c)}' for c in values)})")
        else:
            changed = "(" + " OR ".join(f"t.{q(c)} IS NOT s.{q(c)}" for c in values) + ")"
        sets = ", ".join(f"{q(c)} = s.{q(c)}" for c in values)
        self.cur.execute(f"UPDATE {table} AS t SET {sets} FROM {stage} AS s WHERE {match} AND {changed}")
        updated = int(self.cur.rowcount or 0)
        self.cur.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage} AS s "
                         f"WHERE NOT EXISTS (SELECT 1 FROM {table} AS t WHERE {match})")
        return int(self.cur.rowcount or 0), updated

    def _same(self, col: str) -> str:
        if col == "at" and not self.pg:
            # SQLite keeps times as text: the ORM writes "…:00.000000", bulk loads "…:00". Both match.
            return f"t.{q(col)} IN (s.{q(col)}, substr(s.{q(col)}, 1, 19))"
        return f"t.{q(col)} = s.{q(col)}"

    def max_date(self, column: str) -> date | None:
        value = self.scalar(f"SELECT max({q(column)}) FROM {STAGE}")
        if value is None or isinstance(value, date):
            return value.date() if isinstance(value, datetime) else value
        return date.fromisoformat(str(value)[:10])
