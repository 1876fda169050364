"""Import one file: parse while streaming, check set-based, upsert, record the load.

One transaction per file: the file lands completely (its good rows) or not at all, whatever
happens on the way — a database error, a full disk, Ctrl-C. Memory stays bounded by one chunk
of rows: the whole file only ever exists in the database (the staging table, or for a new day's
balances the target table itself, see `_direct`).

CSV files of the kinds whose columns all have a canonical form (balances, monthly figures) take
the fast path (fastpath.py): raw cells into a temp table, canonical rows converted by SQL, only
the others parsed in Python. Same rows, counts and errors as the parser path, which everything
else takes (and which `fast=False` forces).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Connection, Engine

from bot.clock import SHANGHAI
from bot.clock import now as clock_now
from bot.imports import fastpath, org_tree
from bot.imports.header import resolve
from bot.imports.readers import FileProblem, Table, open_table
from bot.imports.report import SAMPLE, ErrorReport, ImportResult, RowError
from bot.imports.rowparse import Errors, Layout
from bot.imports.specs import KINDS, Context, Kind, kind_of_file
from bot.imports.staging import Stage
from bot.store.data_dates import assess_balances, current_data_date
from bot.store.models import DataLoad
from rules.policy import Policy, default_policy

Progress = Callable[[str, int, int], None]
"""(phase, done, total): phase 读取 counts bytes (CSV) or rows (XLSX); the others have no total."""
TICK = 8192
"""Rows between progress calls: often enough for a smooth bar, rarely enough to cost nothing."""
FLUSH_ERRORS = 20_000
"""Parse errors held before they are written to the database."""
SUFFIXES = (".csv", ".txt", ".xlsx", ".xlsm")
_NAME_DATE = re.compile(r"(20\d{2})-?(\d{2})-?(\d{2})")


class _DryRun(Exception):
    """Raised inside the transaction to roll a validated file back."""


def import_file(
    engine: Engine,
    kind: Kind,
    path: Path,
    *,
    encoding: str | None = None,
    data_date: date | None = None,
    policy: Policy | None = None,
    report: ErrorReport | None = None,
    progress: Progress | None = None,
    dry_run: bool = False,
    fast: bool = True,
    wecom_userid_from_staff_id: bool | None = None,
    allow_partial: bool = False,
) -> ImportResult:
    """Raises FileProblem (nothing imported) for a whole-file problem; row problems are in the result.
    A staff file links the chat accounts it names (`wecom_userid_from_staff_id`: None reads the
    WECOM_USERID_FROM_STAFF_ID setting). A balance file for a new date is checked for completeness
    (bot/store/data_dates.py, `result.coverage`): partial, it does not become the current data date
    unless `allow_partial`."""
    started = time.perf_counter()
    opened: list[Table] = []

    def reopen() -> Table:
        opened.append(open_table(path, encoding))
        return opened[-1]

    table = reopen()
    result = ImportResult(kind.name, path.name, dry_run=dry_run)
    try:
        positions = resolve(kind, table.header, path.name)
        policy = policy or default_policy()
        ctx = Context(frozenset(row.name for row in policy.tiers.ladder))
        try:
            with engine.begin() as conn:
                _run(conn, kind, table, reopen, positions, ctx, result, data_date, report, progress, fast,
                     wecom_userid_from_staff_id)
                if kind.name == "balances" and result.accepted > 0 and result.data_date is not None:
                    result.coverage = assess_balances(conn, result.data_date, result.current_before,
                                                      policy.imports.complete_coverage, allow_partial, path.name)
                if dry_run:
                    raise _DryRun
        except _DryRun:
            pass
    finally:
        for t in opened:
            t.close()
    result.seconds = time.perf_counter() - started
    return result


def _run(conn: Connection, kind: Kind, table: Table, reopen: Callable[[], Table], positions: list[int | None],
         ctx: Context, result: ImportResult, data_date: date | None, report: ErrorReport | None,
         progress: Progress | None, fast: bool, wecom_userid_from_staff_id: bool | None = None) -> None:
    pg = conn.dialect.name == "postgresql"
    if not pg:  # take the write lock now: a later upgrade from a read snapshot could fail mid-import
        conn.connection.driver_connection.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]
    stage = Stage(conn, kind)
    stage.create()
    raw_ok = fast and fastpath.eligible(kind, table, positions)
    seen: set[Any] | None = None
    if kind.partition and (pg or not raw_ok):
        # A new day's rows, parsed while streamed (binary COPY) into the target. On PostgreSQL this
        # beats the raw path: the server's insert into the indexed table takes longer than the
        # parsing, which runs beside it on another core (docs/IMPORT.md, Speed).
        seen = _direct(stage, kind, table, positions, ctx, pg, result, progress)
        if seen is None:  # it gave up (a conflict or an unknown reference): start over, carefully
            table = reopen()
    if seen is None:
        raw = _load_raw(stage, kind, table, positions, ctx, pg, result, progress) if raw_ok else None
        if raw is None:
            if raw_ok:  # undecodable or malformed: the parser path says where, as it always has
                table = reopen()
            _staged(stage, kind, table, positions, ctx, pg, result, progress)
        else:
            if kind.partition and not pg:
                seen = _direct_raw(stage, raw, kind, result, progress)
            if seen is None:
                _staged_raw(stage, raw, kind, result, progress)
            raw.drop()
    if seen is not None:
        result.inserted, result.updated = result.rows - stage.rejected_rows(), 0
    result.rejected = stage.rejected_rows()
    if kind.name == "org":
        org_tree.repath_stored(stage)
    if kind.name == "holdings" and pg:  # explicit ids: keep the serial ahead of them
        stage.cur.execute("SELECT setval(pg_get_serial_sequence('holding', 'id'), COALESCE(max(id), 0) + 1, false) "
                          "FROM holding")
    result.current_before = current_data_date(conn)
    result.data_date = data_date or _data_date(conn, kind, stage, table.path, seen)
    if result.accepted > 0:
        conn.execute(insert(DataLoad).values(kind=kind.name, data_date=result.data_date, loaded_at=clock_now(),
                                             source=table.path.name[:200], rows=result.accepted))
    for row, column, value, reason in stage.errors():
        error = RowError(table.path.name, int(row), column, "" if value is None else str(value), reason)
        result.error_count += 1
        if len(result.errors) < SAMPLE:
            result.errors.append(error)
        if report is not None:
            report.add(error)
    if kind.name == "staff":
        _link_staff(conn, result, wecom_userid_from_staff_id)
    stage.drop()


def _link_staff(conn: Connection, result: ImportResult, from_staff_id: bool | None) -> None:
    from bot.imports.identities import link_staged

    if from_staff_id is None:
        from bot.config import get_settings

        from_staff_id = get_settings().wecom_userid_from_staff_id
    summary = link_staged(conn, from_staff_id)
    result.links, result.link_problems = summary.linked, summary.problems


def _staged(stage: Stage, kind: Kind, table: Table, positions: list[int | None], ctx: Context, pg: bool,
            result: ImportResult, progress: Progress | None) -> None:
    """Every row through the staging table: set-based checks, then insert or upsert."""
    parse_errors: Errors = []
    state = {"done": False}
    result.rows = 0
    rows = _parsed(kind, table, positions, ctx, pg, parse_errors, result, progress, state)
    while not state["done"]:
        stage.write(rows)
        stage.add_errors(parse_errors)
        parse_errors.clear()
    _require_rows(result, table)
    _check_and_write(stage, kind, result, progress)


def _load_raw(stage: Stage, kind: Kind, table: Table, positions: list[int | None], ctx: Context, pg: bool,
              result: ImportResult, progress: Progress | None) -> fastpath.RawStage | None:
    """The file's cells in imp_raw (fastpath.py); None when it cannot be read that way."""
    raw = fastpath.RawStage(stage, kind, table, positions, _layout(kind, table, positions, ctx, pg))
    if not raw.load(progress, TICK):
        return None
    result.rows = raw.rows
    _require_rows(result, table)
    return raw


def _staged_raw(stage: Stage, raw: fastpath.RawStage, kind: Kind, result: ImportResult,
                progress: Progress | None) -> None:
    """`_staged` from the raw table: canonical rows converted by SQL, the rest parsed."""
    result.fast_rows = raw.insert(into_target=False)
    if result.fast_rows < result.rows:
        parse_errors: Errors = []
        for rows in raw.parsed_rest(parse_errors):
            stage.write(iter(rows))
            stage.add_errors(parse_errors)
            parse_errors.clear()
    _check_and_write(stage, kind, result, progress)


def _check_and_write(stage: Stage, kind: Kind, result: ImportResult, progress: Progress | None) -> None:
    """The staged rows: set-based checks, then insert or upsert."""
    if progress:
        progress("校验", 0, 0)
    stage.analyze()
    stage.check_refs()
    stage.reject()
    if kind.name == "org":
        org_tree.check_tree(stage)
        org_tree.fill_stage_paths(stage)
    if progress:
        progress("写入", 0, 0)
    # A new data date needs neither the duplicate check nor the upsert: the unique index catches
    # a repeated key, and then the careful path below runs instead.
    inserted = stage.insert_new() if stage.all_new() else None
    if inserted is not None:
        result.inserted, result.updated = inserted, 0
    else:
        stage.check_duplicates()
        stage.reject()
        result.inserted, result.updated = stage.upsert()


def _direct(stage: Stage, kind: Kind, table: Table, positions: list[int | None], ctx: Context, pg: bool,
            result: ImportResult, progress: Progress | None) -> set[Any] | None:
    """The nightly case, fast: rows go straight into the target table while the file is still
    being read, so the database inserts while Python parses. Any key conflict (a re-sent day, a
    key repeated in the file) or unknown reference undoes it all (a savepoint) and returns None:
    the staged path then does the careful work. Returns the partition values written."""
    assert kind.partition is not None
    index = 1 + next(i for i, c in enumerate(kind.columns) if c.target == kind.partition)
    seen: set[Any] = set()
    parse_errors: Errors = []
    state = {"done": False}
    rows = _parsed(kind, table, positions, ctx, pg, parse_errors, result, progress, state)

    def tracked() -> Iterator[tuple[Any, ...] | None]:
        for row in rows:
            if row is not None:
                seen.add(row[index])
            yield row

    feed = tracked()

    def write() -> set[Any]:
        while not state["done"]:
            stage.write(feed, into_target=True)
            stage.add_errors(parse_errors)
            parse_errors.clear()
        _require_rows(result, table)
        return seen

    return _under_savepoint(stage, progress, write)


def _direct_raw(stage: Stage, raw: fastpath.RawStage, kind: Kind, result: ImportResult,
                progress: Progress | None) -> set[Any] | None:
    """`_direct` from the raw table: one INSERT … SELECT of the canonical rows straight into the
    target, then the other rows parsed; the same savepoint, checks and way out as `_direct`."""
    assert kind.partition is not None
    index = 1 + next(i for i, c in enumerate(kind.columns) if c.target == kind.partition)
    partition = kind.partition

    def write() -> set[Any]:
        fast = raw.insert(into_target=True)
        seen = raw.written_values(partition, all_rows=fast == result.rows)
        if fast < result.rows:
            parse_errors: Errors = []
            for rows in raw.parsed_rest(parse_errors):
                seen.update(row[index] for row in rows)
                stage.write(iter(rows), into_target=True)
                stage.add_errors(parse_errors)
                parse_errors.clear()
        result.fast_rows = fast
        return seen

    seen = _under_savepoint(stage, progress, write)
    if seen is None:
        result.fast_rows = 0
    return seen


def _under_savepoint(stage: Stage, progress: Progress | None, write: Callable[[], set[Any]]) -> set[Any] | None:
    """The direct path's safety net: `write` fills the target under a savepoint; a key conflict or
    an unknown reference rolls it all back (None), and the caller takes the careful path."""
    stage.direct_begin()
    try:
        seen = write()
        if progress:
            progress("校验", 0, 0)
        clean = stage.direct_references_ok(seen)
    except Exception as exc:
        if not stage.is_conflict(exc):
            raise
        clean = False
    if not clean:
        stage.direct_abort()
        return None
    stage.direct_end()
    return seen


def _require_rows(result: ImportResult, table: Table) -> None:
    if result.rows == 0:
        raise FileProblem(f"{table.path.name}：没有数据行（只有表头）。No data rows.")


def _parsed(kind: Kind, table: Table, positions: list[int | None], ctx: Context, pg: bool,
            errors: Errors, result: ImportResult, progress: Progress | None,
            state: dict[str, bool]) -> Iterator[tuple[Any, ...] | None]:
    """Staged rows (row number first). Parse errors go to `errors`; a None asks the caller to flush
    them, so a file of nothing but bad rows still streams in bounded memory."""
    width = len(table.header)
    layout = _layout(kind, table, positions, ctx, pg)
    generic = layout.generic
    fast = layout.compiled() if table.format == "csv" else generic
    count = 0
    size = table.size
    for number, cells in table.rows:
        n = len(cells)
        if n == 0 or (not cells[0] and not any(cells)):
            continue  # a blank line (Excel leaves them at the end): not a row, not an error
        count += 1
        if count % TICK == 0:
            result.rows = count
            if progress:
                progress("读取", table.position(), size)
            if len(errors) >= FLUSH_ERRORS:
                yield None
        row = fast(number, cells, errors) if n == width else generic(number, cells, errors)
        if row is not None:
            yield row
    result.rows = count
    state["done"] = True
    if progress:
        progress("读取", size or table.position(), size)


def _layout(kind: Kind, table: Table, positions: list[int | None], ctx: Context, pg: bool) -> Layout:
    return Layout(kind, positions, len(table.header), ctx, {} if pg else _sqlite_adapters(kind))


def _sqlite_adapters(kind: Kind) -> dict[int, Callable[[Any], Any]]:
    """SQLite gets dates and times as the text SQLAlchemy writes; psycopg takes Python values."""
    out: dict[int, Callable[[Any], Any]] = {}
    for i, c in enumerate(kind.columns):
        if c.kind in ("date", "month"):
            out[i] = date.isoformat
        elif c.kind == "datetime":
            out[i] = lambda v: f"{v:%Y-%m-%d %H:%M:%S}.{v.microsecond:06d}"
    return out


def _data_date(conn: Connection, kind: Kind, stage: Stage, path: Path, seen: set[Any] | None) -> date:
    """--data-date, else the file's newest date, else a date in its name, else the current one."""
    if kind.date_column:
        if seen and kind.date_column == kind.partition:
            newest = max(seen)
            found: date | None = newest if isinstance(newest, date) else date.fromisoformat(str(newest)[:10])
        else:
            found = stage.max_date(kind.date_column)
        if found is not None:
            return found
    match = _NAME_DATE.search(path.stem)
    if match:
        try:
            return date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            pass
    # Reference data (orgs, staff, customers) does not move the data date answers show.
    current = current_data_date(conn)
    return current or (datetime.now(SHANGHAI) - timedelta(days=1)).date()


def files_of(kind_name: str, folder: Path) -> list[tuple[Kind, Path]]:
    """The files of a directory to import, in name order; for `all`, kind by kind in dependency order."""
    found: list[tuple[Kind, Path]] = []
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if not path.is_file() or path.suffix.lower() not in SUFFIXES or path.name.startswith((".", "~$")):
            continue
        kind = kind_of_file(path.name)
        if kind is not None and (kind_name == "all" or kind.name == kind_name):
            found.append((kind, path))
    order = list(KINDS)
    return sorted(found, key=lambda kp: (order.index(kp[0].name), kp[1].name))
