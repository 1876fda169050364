"""Turn file rows into staged tuples: a generic converter, and a compiled one for the hot path.

A daily balance extract has a million rows; a generic loop over (column, parser) pairs costs
more than the parsing itself. For the common case — a CSV row of strings with exactly the
header's width — we generate one straight-line function per file layout (as `dataclasses` and
`namedtuple` do) so each cell is a local variable and a direct call. Every other row (XLSX cells,
ragged rows) takes the generic path; both give the same values and the same errors.

Both take the export's formula guard off a cell first (bot/exports/cells.py: `'=…` → `=…`), so
this is the one place the import undoes what the export added, for every kind and column.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.exports.cells import QUOTE, restore
from bot.imports.fields import FieldError
from bot.imports.specs import Context, Kind

Errors = list[tuple[int, int, str, str, str]]
Convert = Callable[[int, list[Any], Errors], "tuple[Any, ...] | None"]
"""(row number, cells, errors) → staged tuple, or None after appending the row's errors."""


class Layout:
    """A kind as laid out in one file: which file column feeds which store column."""

    def __init__(self, kind: Kind, positions: list[int | None], width: int, ctx: Context,
                 adapt: dict[int, Callable[[Any], Any]]) -> None:
        self.kind = kind
        self.positions = positions
        self.width = width
        self.ctx = ctx
        self.adapt = adapt
        """Column index → store representation (SQLite dates as text); only for the columns that need it."""
        self.at = {c.target: i for i, c in enumerate(kind.columns)}
        self.names = {c.name: i for i, c in enumerate(kind.columns)}
        self.extra = (None,) * len(kind.extra_targets)

    def finish(self, number: int, values: list[Any], cells: list[Any], errors: Errors) -> tuple[Any, ...] | None:
        """Row checks, then the store representation."""
        check = self.kind.check_row
        if check is not None:
            problems = check(values, self.at, self.ctx)
            if problems:
                for column, reason in problems:
                    i = self.names[column]
                    j = self.positions[i]
                    errors.append((number, i, column, "" if j is None else str(cells[j])[:100], reason))
                return None
        for i, fn in self.adapt.items():
            if values[i] is not None:
                values[i] = fn(values[i])
        return (number, *values, *self.extra)

    def generic(self, number: int, cells: list[Any], errors: Errors) -> tuple[Any, ...] | None:
        n = len(cells)
        if n > self.width and any(str(c).strip() for c in cells[self.width:]):
            errors.append((number, -1, "*", "", f"列数不符：表头 {self.width} 列，本行 {n} 列"))
            return None
        values: list[Any] = []
        bad = False
        for i, col in enumerate(self.kind.columns):
            j = self.positions[i]
            cell = "" if j is None or j >= n else cells[j]
            if cell.__class__ is str:
                cell = restore(cell.strip())
            if cell == "" or cell is None:
                if col.required:
                    errors.append((number, i, col.name, "", "必填，不能为空" if j is None or j < n
                                   else f"缺少此列：本行只有 {n} 列"))
                    bad = True
                values.append(col.default)
                continue
            try:
                values.append(col.parse(cell))
            except FieldError as exc:
                errors.append((number, i, col.name, str(cell)[:100], str(exc)))
                values.append(None)
                bad = True
        return None if bad else self.finish(number, values, cells, errors)

    def compiled(self) -> Convert:
        """The straight-line converter for full-width rows of strings."""
        env: dict[str, Any] = {"FieldError": FieldError, "finish": self.finish, "QUOTE": QUOTE, "restore": restore}
        lines = ["def convert(number, cells, errors):", "    bad = False"]
        for i, col in enumerate(self.kind.columns):
            env[f"p{i}"] = col.parse
            env[f"d{i}"] = col.default
            j = self.positions[i]
            if j is None:
                lines.append(f"    v{i} = d{i}")
                continue
            lines += [
                f"    c = cells[{j}].strip()",
                "    if c[:1] == QUOTE:",
                "        c = restore(c)",
                "    if c:",
                "        try:",
                f"            v{i} = p{i}(c)",
                "        except FieldError as exc:",
                f"            errors.append((number, {i}, {col.name!r}, c[:100], str(exc)))",
                f"            v{i} = None",
                "            bad = True",
                "    else:",
            ]
            if col.required:
                lines += [f"        errors.append((number, {i}, {col.name!r}, '', '必填，不能为空'))",
                          f"        v{i} = None", "        bad = True"]
            else:
                lines.append(f"        v{i} = d{i}")
        values = ", ".join(f"v{i}" for i in range(len(self.kind.columns)))
        lines += ["    if bad:", "        return None"]
        if self.kind.check_row is None and not self.adapt:
            lines.append(f"    return (number, {values}{', None' * len(self.extra)})")
        else:
            lines.append(f"    return finish(number, [{values}], cells, errors)")
        exec("\n".join(lines), env)  # noqa: S102  (source built above from our own specs only)
        return env["convert"]  # type: ignore[no-any-return]
