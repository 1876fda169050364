"""The canonical fast path: a CSV's raw cells go into a temp table, and the rows already in the
form their parsers would store unchanged are converted by SQL, set-based, into the target (or the
staging table) with one INSERT … SELECT. Only the other rows come back to Python, one chunk at a
time, and go through the parsers (rowparse.Layout), so their values and errors are exactly what
they would have been: the fast path changes the speed of an import, never its result.

Which rows are canonical is decided in two steps:

1. While the file is read — in blocks of lines, with the same decoder and the same csv module as
   the parser path — one regular expression per file layout, built from the columns' forms
   (forms.py), matches whole blocks at once (C speed). A block where every line matches is
   written as it is (PostgreSQL: COPY of the block's text; SQLite: executemany of the matched
   cells). Any other block is read record by record with csv.reader; a record's cells are kept
   as the parser path would see them, marked canonical or not. Blank records keep their place
   (the row numbers are the raw table's insertion order) but are neither rows nor errors.
2. In SQL: the mapped columns (data dates, months: a handful of distinct cells, each parsed once
   by its own parser, see Mapping), integer ranges and the kind's row rule (Kind.row_sql).

Measured on the bench's 1,000,000-row balance file, the per-cell checks cost more in SQL than in
Python's regex engine (SQLite GLOB and string functions ≈ 1.3 µs a row, PostgreSQL regex ≈ 1 µs a
cell), hence the split. Whole-file problems (an undecodable byte, a malformed CSV) make `load`
return False, and the caller runs the parser path, which reports them word for word as ever.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date
from itertools import islice
from typing import Any

from bot.imports import staging
from bot.imports.fields import FieldError
from bot.imports.forms import Form, any_cell
from bot.imports.readers import Table
from bot.imports.rowparse import Errors, Layout
from bot.imports.specs import Column, Kind
from bot.imports.staging import STAGE, Stage, q

RAW = "imp_raw"
OK, ODD, BLANK = 1, 0, 2
"""imp_raw._ok: cells in canonical shape / any other record (cells as JSON) / a blank record."""
MAP_MAX = 1000
"""Distinct cells of one mapped column parsed at most: beyond that, rows go through the parser."""
MAP_BRANCHES = 64
"""Mapped cells spelt otherwise than their stored value (2026/11/20, a month 2026-10) inlined as
CASE branches; cells stored as they are (2026-11-20) need none."""

Progress = Callable[[str, int, int], None]


def eligible(kind: Kind, table: Table, positions: list[int | None]) -> bool:
    """CSV files of kinds whose every column present has a form and whose row rule has SQL."""
    if table.format != "csv" or table.text is None or kind.extra_targets:
        return False
    if kind.check_row is not None and not kind.row_sql:
        return False
    present = [c for c, p in zip(kind.columns, positions) if p is not None]
    # A required, non-mapped column is never empty in a canonical line, so a line of delimiters
    # alone (a blank record to the parser path) can never pass for a canonical row.
    anchored = any(c.required and c.form is not None and not c.form.mapped for c in present)
    return anchored and all(c.form is not None for c in present)


def literal(value: Any, pg: bool) -> str:
    """An SQL literal for a parsed value or a cell (forms.any_cell keeps NUL and backslash out)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return ("TRUE" if value else "FALSE") if pg else str(int(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'" if pg else f"'{value.isoformat()}'"
    text = str(value)
    if "\x00" in text or "\\" in text:
        raise ValueError("not a literal-safe cell")
    return "'" + text.replace("'", "''") + "'"


@dataclass
class Mapping:
    """A mapped column's accepted cells → stored values, as the parser gave them."""

    same: list[str] = field(default_factory=list)
    """Cells whose stored value is the cell itself (an ISO date): converted by a cast."""
    other: dict[str, Any] = field(default_factory=dict)
    """Cells spelt otherwise, with their stored value: inlined as CASE branches."""
    values: dict[str, Any] = field(default_factory=dict)
    """Every accepted cell → its stored value."""

    def check(self, cell: str, pg: bool) -> str:
        cells = [*self.same, *self.other]
        if not cells:
            return "FALSE" if pg else "0"
        return f"{cell} IN ({', '.join(literal(c, pg) for c in cells)})"

    def value(self, cell: str, pg: bool) -> str:
        same = f"({cell})::date" if pg else cell
        if not self.other:
            return same
        branches = " ".join(f"WHEN {literal(c, pg)} THEN {literal(v, pg)}" for c, v in self.other.items())
        return f"CASE {cell} {branches}" + (f" ELSE {same} END" if self.same else " END")


class RawStage:
    """imp_raw: one text column per file column, `_row` (the file's row number: insertion order),
    `_ok` and `_cells` (any other record's cells, JSON). Lives in the caller's transaction."""

    def __init__(self, stage: Stage, kind: Kind, table: Table, positions: list[int | None], layout: Layout) -> None:
        self.stage = stage
        self.kind = kind
        self.table = table
        self.positions = positions
        self.layout = layout
        self.pg = stage.pg
        self.cur = stage.cur
        self.width = len(table.header)
        self.delimiter = table.delimiter
        self.cells = [f"c{j}" for j in range(self.width)]
        self.name = RAW if self.pg else f"temp.{RAW}"
        self.rows = 0
        """Data rows read (blank records not counted), as the parser path counts them."""
        self.maps: dict[int, Mapping] | None = None
        self.block = re.compile(f"^{self._pattern('(')}\\r?$", re.MULTILINE)
        self.lines = re.compile(f"^{self._pattern('(?:')}\\r?$", re.MULTILINE)
        """The block pattern without groups: PostgreSQL only needs to count the matches."""
        self.line = re.compile(self._pattern("("))
        """One record's cells joined by the delimiter (no delimiter in a canonical cell)."""
        self._open: ExitStack | None = None
        self._copy: Any = None

    # ---- reading -------------------------------------------------------------------------------
    def _pattern(self, group: str) -> str:
        """A canonical line's cells, each in a group opened by `group`."""
        fields = [any_cell(self.delimiter)] * self.width
        for col, j in zip(self.kind.columns, self.positions):
            if j is None:
                continue
            assert col.form is not None
            pattern = col.form.pattern(self.delimiter)
            fields[j] = pattern if col.required or col.form.mapped else f"(?:{pattern})?"
        return re.escape(self.delimiter).join(f"{group}{p})" for p in fields)

    def load(self, progress: Progress | None, tick: int) -> bool:
        """Read the whole file into imp_raw. False (and imp_raw gone) when the file cannot be read
        as the parser path reads it: the caller then runs that path, which says why."""
        self.cur.execute("SAVEPOINT imp_raw")
        self._create()
        try:
            self._read(progress, tick)
        except BaseException as exc:
            self._end_block_copy(exc)  # a COPY still open is failed, so the connection is usable
            if not isinstance(exc, (UnicodeDecodeError, csv.Error)):
                raise
            self.cur.execute("ROLLBACK TO SAVEPOINT imp_raw")
            self.cur.execute("RELEASE SAVEPOINT imp_raw")
            return False
        self.cur.execute("RELEASE SAVEPOINT imp_raw")
        return True

    def _create(self) -> None:
        cells = ", ".join(f"{c} text" for c in self.cells)
        if self.pg:
            self.cur.execute(f"CREATE TEMP TABLE {RAW} (_row bigint GENERATED BY DEFAULT AS IDENTITY (START WITH 2), "
                             f"_ok smallint NOT NULL DEFAULT {OK}, {cells}, _cells text) ON COMMIT DROP")
            return
        self.cur.execute(f"DROP TABLE IF EXISTS temp.{RAW}")
        self.cur.execute(f"CREATE TEMP TABLE {RAW} (_row INTEGER PRIMARY KEY, _ok INTEGER NOT NULL DEFAULT {OK}, "
                         f"{cells}, _cells TEXT)")
        self.cur.execute(f"INSERT INTO temp.{RAW} (_row, _ok) VALUES (1, {BLANK})")  # the header: data starts at 2

    def _read(self, progress: Progress | None, tick: int) -> None:
        text = self.table.text
        assert text is not None
        size = self.table.size
        while True:
            lines = list(islice(text, tick))
            if not lines:
                break
            block = "".join(lines)
            found = (self.lines if self.pg else self.block).findall(block)
            if len(found) == len(lines):  # every line canonical: one match per line, anchored
                self._write_block(block, found)
                self.rows += len(lines)
            else:
                self._end_block_copy()
                self._write_records(self._records(lines, text))
            if progress:
                progress("读取", self.table.position(), size)
        self._end_block_copy()
        if progress:
            progress("读取", size or self.table.position(), size)

    def _records(self, lines: list[str], text: Iterator[str]) -> Iterator[list[str]]:
        """The block's records as csv.reader gives them; a quoted field may run on past the block."""
        left = [len(lines)]

        def feed() -> Iterator[str]:
            for line in lines:
                left[0] -= 1
                yield line
            for line in text:  # not `yield from`: closing this generator would close the file
                yield line

        reader = csv.reader(feed(), delimiter=self.delimiter)
        while left[0] > 0:
            yield next(reader)

    def _write_records(self, records: Iterator[list[str]]) -> None:
        """Records of a block that did not match as a whole, each kept in its place."""
        out: list[tuple[Any, ...]] = []
        empty = (None,) * self.width
        for cells in records:
            if not cells or (not cells[0] and not any(cells)):
                out.append((BLANK, *empty, None))  # a blank line: not a row, not an error
                continue
            self.rows += 1
            if len(cells) == self.width and self.line.fullmatch(self.delimiter.join(cells)):
                out.append((OK, *cells, None))
            else:
                out.append((ODD, *empty, json.dumps(cells)))
        names = ", ".join(["_ok", *self.cells, "_cells"])
        if self.pg:
            with self.cur.copy(f"COPY {RAW} ({names}) FROM STDIN") as copy:
                for row in out:
                    copy.write_row(row)
            return
        marks = ", ".join("?" * (self.width + 2))
        self.cur.executemany(f"INSERT INTO temp.{RAW} ({names}) VALUES ({marks})", out)

    def _write_block(self, block: str, found: list[Any]) -> None:
        names = ", ".join(self.cells)
        if self.pg:  # the server splits the lines: no cell has a quote, a delimiter or a line break
            if self._copy is None:  # one COPY for a run of blocks: the server parses while we read
                delimiter = "E'\\t'" if self.delimiter == "\t" else f"'{self.delimiter}'"
                self._open = ExitStack()
                self._copy = self._open.enter_context(self.cur.copy(
                    f"COPY {RAW} ({names}) FROM STDIN (FORMAT csv, DELIMITER {delimiter}, FORCE_NOT_NULL ({names}))"))
            self._copy.write(block.replace("\r", "").encode("utf-8"))  # \r only ever ends a line here
            return
        marks = ", ".join("?" * self.width)
        self.cur.executemany(f"INSERT INTO temp.{RAW} ({names}) VALUES ({marks})", found)

    def _end_block_copy(self, error: BaseException | None = None) -> None:
        if self._open is not None:
            stack, self._open, self._copy = self._open, None, None
            if error is None:
                stack.close()
            else:
                stack.__exit__(type(error), error, error.__traceback__)

    # ---- SQL -----------------------------------------------------------------------------------
    def _map(self) -> dict[int, Mapping]:
        """Parse each mapped column's distinct canonical-shaped cells once, as rowparse would."""
        if self.maps is None:
            self.maps = {}
            for i, (col, j) in enumerate(zip(self.kind.columns, self.positions)):
                if j is not None and col.form is not None and col.form.mapped:
                    self.cur.execute(f"SELECT DISTINCT c{j} FROM {self.name} WHERE _ok = {OK} LIMIT {MAP_MAX}")
                    self.maps[i] = self._mapping(i, col, [r[0] for r in self.cur.fetchall()])
        return self.maps

    def _mapping(self, i: int, col: Column, cells: list[str]) -> Mapping:
        adapt = self.layout.adapt.get(i)
        out = Mapping()
        for cell in cells:
            stripped = cell.strip()
            if stripped:
                try:
                    value = col.parse(stripped)
                except FieldError:
                    continue
            elif col.required:
                continue
            else:
                value = col.default
            stored = adapt(value) if adapt is not None and value is not None else value
            shown = stored.isoformat() if isinstance(stored, date) else stored
            if isinstance(stored, (date, str)) and shown == cell:
                out.same.append(cell)
            elif len(out.other) < MAP_BRANCHES:
                out.other[cell] = stored
            else:
                continue
            out.values[cell] = stored
        return out

    def _values(self) -> dict[str, str]:
        """Target column → SQL of its value from a canonical raw row."""
        maps = self._map()
        out: dict[str, str] = {}
        for i, (col, j) in enumerate(zip(self.kind.columns, self.positions)):
            if j is None:
                out[col.target] = literal(col.default, self.pg)
            elif i in maps:
                out[col.target] = maps[i].value(f"c{j}", self.pg)
            else:
                form: Form = col.form  # type: ignore[assignment]
                value = form.value(f"c{j}", self.pg)
                if not col.required:
                    value = f"CASE WHEN c{j} = '' THEN {literal(col.default, self.pg)} ELSE {value} END"
                out[col.target] = value
        return out

    def _base_ok(self) -> str:
        """Canonical shape and an accepted cell in every mapped column: safe to convert."""
        maps = self._map()
        conds = [f"_ok = {OK}"]
        conds += [m.check(f"c{self.positions[i]}", self.pg) for i, m in maps.items()]
        return " AND ".join(conds)

    def _value_ok(self, values: dict[str, str]) -> str:
        """Rules on the converted values (`values`: target → SQL); empty when there are none."""
        conds = []
        for col, j in zip(self.kind.columns, self.positions):
            check = col.form.check(values[col.target]) if j is not None and col.form is not None else None
            if check:
                conds.append(check)
        if self.kind.row_sql:
            conds.append(re.sub(r"\b[a-z_]+\b", lambda m: f"({values[m[0]]})" if m[0] in values else m[0],
                                self.kind.row_sql))
        return " AND ".join(f"({c})" for c in conds)

    def _canonical(self, extra: str = "") -> str:
        """The canonical rows with their values, one column per target (the rules not yet applied).
        A subquery that is not flattened, so each value is computed once per row."""
        values = ", ".join(f"{sql} AS {q(t)}" for t, sql in self._values().items())
        fence = "OFFSET 0" if self.pg else "LIMIT -1"
        return f"SELECT _row, {values}{extra} FROM {self.name} WHERE {self._base_ok()} {fence}"

    def _passing(self) -> str:
        ok = self._value_ok({t: f"v.{q(t)}" for t in self.kind.targets})
        return ok or ("TRUE" if self.pg else "1")

    def insert(self, into_target: bool) -> int:
        """Write the canonical rows that pass the rules; returns how many."""
        names = ", ".join(q(t) for t in self.kind.targets)
        picked = ", ".join(f"v.{q(t)}" for t in self.kind.targets)
        if into_target:
            dest = q(self.kind.table) if self.pg else f"main.{q(self.kind.table)}"
        else:
            dest = STAGE if self.pg else f"temp.{STAGE}"
            names, picked = f"_row, {names}", f"v._row, {picked}"
        self.cur.execute(f"INSERT INTO {dest} ({names}) SELECT {picked} FROM ({self._canonical()}) v "
                         f"WHERE {self._passing()}")
        return int(self.cur.rowcount or 0)

    def written_values(self, column: str, all_rows: bool) -> set[Any]:
        """Stored values of a mapped column among the rows `insert` wrote (all of them: every
        accepted cell occurs, so no second pass over the file is needed)."""
        i = next(n for n, c in enumerate(self.kind.columns) if c.target == column)
        mapping = self._map().get(i)
        if mapping is None:
            raise ValueError(f"{column} is not a mapped column")
        if all_rows:
            return set(mapping.values.values())
        j = self.positions[i]
        self.cur.execute(f"SELECT DISTINCT v._cell FROM ({self._canonical(f', c{j} AS _cell')}) v "
                         f"WHERE {self._passing()}")
        return {mapping.values[r[0]] for r in self.cur.fetchall()}

    def _not_ok(self) -> str:
        """Rows `insert` leaves out: NULL-safe, and converting only rows known to be convertible."""
        false = "FALSE" if self.pg else "0"
        rules = self._value_ok(self._values())
        if not rules:
            return f"NOT ({self._base_ok()})"
        return f"NOT (CASE WHEN {self._base_ok()} THEN coalesce({rules}, {false}) ELSE {false} END)"

    def parsed_rest(self, errors: Errors) -> Iterator[list[tuple[Any, ...]]]:
        """The rows `insert` left out, through the parsers, a chunk at a time (errors appended to
        `errors`). Each chunk is fetched whole before it is yielded, so the caller may write
        (PostgreSQL: COPY) on the same connection in between."""
        cols = ", ".join(["_row", *self.cells, "_cells"])
        sql = f"SELECT {cols} FROM {self.name} WHERE _ok <> {BLANK} AND {self._not_ok()} ORDER BY _row"
        convert, generic, width = self.layout.compiled(), self.layout.generic, self.width
        cur = self.stage.dbapi.cursor(name="imp_raw_cursor") if self.pg else self.stage.dbapi.cursor()  # type: ignore[union-attr]
        try:
            cur.execute(sql)
            while batch := cur.fetchmany(staging.CHUNK):
                out = []
                for number, *cells, packed in batch:
                    if packed is not None:
                        cells = json.loads(packed)
                    row = convert(number, cells, errors) if len(cells) == width else generic(number, cells, errors)
                    if row is not None:
                        out.append(row)
                yield out
        finally:
            cur.close()

    def drop(self) -> None:
        if not self.pg:  # PostgreSQL drops it at commit or rollback
            self.cur.execute(f"DROP TABLE IF EXISTS temp.{RAW}")
