"""Canonical cell forms: the spelling of a cell that its parser (fields.py) takes exactly as it
is, so the fast path (fastpath.py) may convert it in SQL instead of calling the parser.

A form says two things about one column: a regular expression for its canonical cells, checked
while the file is read, and the SQL that turns such a cell into the stored value. A cell that
does not match is not an error here — its row simply goes through the Python parser, which
decides (and words the error) exactly as it always has. So a form may be narrower than what
the parser accepts, never wider, and never give a different value: tests/imports/
test_import_fastpath.py checks that against the parsers.

Values are converted by string arithmetic only (digits with the decimal point removed, times
1, 10 or 100): never through float or REAL, which cannot hold every amount in 分 exactly.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

MONEY_DIGITS = 12
"""Digits of 元 a canonical amount may have: 999,999,999,999.99 元 is below fields.MONEY_MAX_FEN
(1万亿元), so a canonical amount needs no range check; the rare larger one goes to the parser."""


def any_cell(delimiter: str) -> str:
    """A cell the CSV reader returns exactly as written: no delimiter, quote or line break. NUL and
    backslash are left out too, so such a cell is also safe as a COPY field and as an SQL literal."""
    return f'[^{_escape(delimiter)}"\\\\\\r\\n\\x00]*'


def _escape(char: str) -> str:
    return "\\t" if char == "\t" else "\\" + char


@dataclass(frozen=True)
class Form(ABC):
    """Base: subclasses give the regular expression and the SQL of a canonical cell."""

    mapped = False
    """True when the column's distinct cells are parsed once each instead (see Mapped)."""

    @abstractmethod
    def pattern(self, delimiter: str) -> str:
        """A canonical, non-empty cell (Python `re` syntax, no capturing groups)."""

    @abstractmethod
    def value(self, cell: str, pg: bool) -> str:
        """SQL turning the canonical cell `cell` (an SQL expression of type text) into its value."""

    def check(self, value: str) -> str | None:
        """SQL condition on the converted value, for rules a pattern cannot express."""
        return None


@dataclass(frozen=True)
class Code(Form):
    """Business ids already in the form fields.code() stores: upper-case ASCII letters, digits
    and the allowed punctuation, of an allowed length. Lower case, full-width or padded ids are
    not canonical: the parser folds them."""

    first: str
    """Characters allowed first, as a regex class body (e.g. `A-Z0-9`)."""
    rest: str
    min_len: int
    max_len: int

    def pattern(self, delimiter: str) -> str:
        return f"[{self.first}][{self.rest}]{{{self.min_len - 1},{self.max_len - 1}}}"

    def value(self, cell: str, pg: bool) -> str:
        return cell


@dataclass(frozen=True)
class Money(Form):
    """元 as plain ASCII digits with at most two decimals: `1234`, `1234.5`, `1234.56` (leading
    zeros allowed, as int() and Decimal take them). 分 = the digits without the point, times
    100, 10 or 1 by the number of decimals. Signs, grouping commas, exponents, ¥ or 元 are left
    to the parser."""

    def pattern(self, delimiter: str) -> str:
        return f"[0-9]{{1,{MONEY_DIGITS}}}(?:\\.[0-9]{{1,2}})?"

    def value(self, cell: str, pg: bool) -> str:
        if pg:
            digits, dot = f"replace({cell}, '.', '')::bigint", f"strpos({cell}, '.')"
        else:
            digits, dot = f"CAST(replace({cell}, '.', '') AS INTEGER)", f"instr({cell}, '.')"
        return f"({digits} * CASE {dot} WHEN 0 THEN 100 WHEN length({cell}) - 2 THEN 1 ELSE 10 END)"


@dataclass(frozen=True)
class Int(Form):
    """Plain ASCII integers of up to 9 digits; the range is checked in SQL."""

    low: int
    high: int

    def pattern(self, delimiter: str) -> str:
        return ("-?" if self.low < 0 else "") + "[0-9]{1,9}"

    def value(self, cell: str, pg: bool) -> str:
        return f"({cell})::integer" if pg else f"CAST({cell} AS INTEGER)"

    def check(self, value: str) -> str:
        return f"{value} BETWEEN {self.low} AND {self.high}"


@dataclass(frozen=True)
class Mapped(Form):
    """Low-cardinality columns (a balance file's data date, a month): the distinct cells of the
    file are parsed once each by the column's own parser, and SQL maps cell → value. Exact by
    construction, and it takes every spelling the parser takes (`2026/11/20`, `20261120`)."""

    mapped = True

    def pattern(self, delimiter: str) -> str:
        return any_cell(delimiter)

    def value(self, cell: str, pg: bool) -> str:
        raise TypeError("mapped columns get their SQL from the file's distinct cells (fastpath.Mapping)")


CUSTOMER_ID = Code("A-Z0-9", "A-Z0-9-", 2, 20)
"""fields.customer_code(): [A-Z0-9][A-Z0-9-]{1,19}."""


ORG_ID = Code("A-Z0-9", "A-Z0-9-", 1, 16)
"""fields.org_code(): [A-Z0-9][A-Z0-9-]{0,15}."""


def code(max_len: int) -> Code:
    """fields.code(max_len) with its default pattern [A-Z0-9][A-Z0-9_-]*."""
    return Code("A-Z0-9", "A-Z0-9_-", 1, max_len)


MONEY = Money()
MAPPED = Mapped()
