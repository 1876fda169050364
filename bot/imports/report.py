"""The error report (one CSV line per bad cell) and the per-file result an import returns.

The report is UTF-8 with a BOM so that Excel on a Chinese Windows desktop, where operators open
it, shows the Chinese reasons instead of mojibake. Its cells go through the export's cell layer
(bot/exports/cells.py): a rejected cell `=HYPERLINK(…)` is shown as text, not run.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, TYPE_CHECKING

from bot.exports.cells import CsvSheet, restore

if TYPE_CHECKING:
    from bot.store.data_dates import Coverage

REPORT_HEADER = ["文件 file", "行号 row", "列 column", "值 value", "原因 reason"]
SAMPLE = 20
"""Errors kept in memory per file for the printed summary; the report has them all."""


@dataclass(frozen=True)
class RowError:
    file: str
    row: int
    column: str
    value: str
    reason: str


class ErrorReport:
    """Append-only CSV of row errors, shared by every file of one `rmbot import` run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[str] | None = None
        self.count = 0

    def open(self) -> None:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("w", encoding="utf-8-sig", newline="")
            self._writer = CsvSheet(self._fh)
            self._writer.writerow(REPORT_HEADER)

    def add(self, error: RowError) -> None:
        self.open()
        self._writer.writerow([error.file, error.row, error.column, error.value, error.reason])
        self.count += 1

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def read_report(path: Path) -> list[RowError]:
    """For tests and scripts: the report's rows back as RowError."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        return [RowError(*[restore(c) for c in r[:1]], int(r[1]), *[restore(c) for c in r[2:5]]) for r in reader]


@dataclass
class ImportResult:
    kind: str
    file: str
    rows: int = 0
    """Data rows read (blank lines not counted)."""
    rejected: int = 0
    inserted: int = 0
    updated: int = 0
    data_date: date | None = None
    seconds: float = 0.0
    dry_run: bool = False
    errors: list[RowError] = field(default_factory=list)
    """The first SAMPLE errors, for printing."""
    error_count: int = 0
    fast_rows: int = 0
    """Rows validated and converted in SQL by the canonical fast path (fastpath.py); the rest of
    `rows` went through the Python parsers."""
    links: int = 0
    """Chat accounts a staff file linked (bot/imports/identities.py), each audited."""
    link_problems: list[str] = field(default_factory=list)
    """Accounts that could not be linked (e.g. a WeCom id linked to someone else in another case)."""
    current_before: date | None = None
    """The current data date before this file (bot/store/data_dates.py)."""
    coverage: Coverage | None = None
    """A balance file for a new date: how complete that date is, and whether it became current."""

    @property
    def accepted(self) -> int:
        return self.rows - self.rejected

    @property
    def unchanged(self) -> int:
        return self.accepted - self.inserted - self.updated

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        head = "校验（未写入）" if self.dry_run else "导入"
        text = (f"{head} {self.kind} {self.file}：读取 {self.rows} 行，新增 {self.inserted}，更新 {self.updated}，"
                f"未变 {self.unchanged}，错误 {self.rejected} 行")
        if self.data_date:
            text += f"；数据日期 {self.data_date}"
        if self.links or self.link_problems:
            text += f"；关联聊天账号 {self.links} 个（已审计）"
        text += f"；用时 {self.seconds:.1f} 秒（{self.rate:,.0f} 行/秒）"
        return text + "".join(f"\n  未能关联 not linked: {p}" for p in self.link_problems[:10])
