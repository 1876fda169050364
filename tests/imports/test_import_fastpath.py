"""The canonical fast path (bot/imports/fastpath.py) changes how fast a file is imported, never
what it imports: for any file, the stored rows, counts, data date, error report and whole-file
problems are those of the parser path (`fast=False`), on both databases.

Each property test keeps two copies of the same small bank: one imports through the fast path,
the other through the parser path, file after file, and they must stay identical.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from bot.clock import today
from bot.imports import KINDS, ErrorReport, FileProblem, ImportResult, RowError, import_file, importer, read_report, staging
from bot.imports.forms import CUSTOMER_ID, MONEY
from bot.store.db import make_engine
from bot.store.migrate import upgrade
from bot.store.seed import seed_bank
from bot.testing import DEMO_DATA_DATE, PG_URL, postgres_schema_engine, require_postgres
from rules.policy import default_policy
from tests.imports.helpers import BALANCE_HEADER, dump, loads

CUSTOMERS = 40
"""C0000001 … C0000040; C0000010 … are corporate (the seed's mix)."""


# ---- two identical banks per database --------------------------------------------------------

def _seeded(engine: Engine) -> Engine:
    upgrade(engine)
    seed_bank(engine, default_policy(), customers=CUSTOMERS, seed=7, data_date=DEMO_DATA_DATE)
    return engine


@pytest.fixture(params=["sqlite", "postgresql"])
def twins(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Engine, Engine]]:
    """(imports through the fast path, imports through the parser path), seeded alike."""
    if request.param == "sqlite":
        pair = [make_engine(f"sqlite:///{tmp_path / f'{name}.db'}") for name in ("fast", "parser")]
        yield _seeded(pair[0]), _seeded(pair[1])
        for e in pair:
            e.dispose()
        return
    require_postgres()
    schemas = [f"t_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        for s in schemas:
            conn.execute(text(f"CREATE SCHEMA {s}"))
    pair = [postgres_schema_engine(s) for s in schemas]
    try:
        yield _seeded(pair[0]), _seeded(pair[1])
    finally:
        for e in pair:
            e.dispose()
        with admin.begin() as conn:
            for s in schemas:
                conn.execute(text(f"DROP SCHEMA {s} CASCADE"))
        admin.dispose()


Outcome = tuple[Any, ...]


def _import(engine: Engine, kind: str, path: Path, fast: bool, **options: Any) -> tuple[Outcome, list[RowError]]:
    report = ErrorReport(path.with_name(f"errors-{fast}.csv"))
    try:
        r: ImportResult = import_file(engine, KINDS[kind], path, report=report, fast=fast, **options)
    except FileProblem as exc:
        return ("FileProblem", str(exc)), []
    finally:
        report.close()
    errors = read_report(report.path) if report.path.exists() else []
    report.path.unlink(missing_ok=True)
    outcome = (r.rows, r.rejected, r.inserted, r.updated, r.unchanged, r.data_date, r.error_count, r.errors)
    return outcome, errors


def assert_same_import(twins: tuple[Engine, Engine], kind: str, path: Path, **options: Any) -> Outcome:
    fast, parser = twins
    got = _import(fast, kind, path, True, **options)
    want = _import(parser, kind, path, False, **options)
    assert got == want
    assert dump(fast) == dump(parser) and loads(fast) == loads(parser)
    return got[0]


# ---- generated files ---------------------------------------------------------------------------

def _full_width(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)


VARIANTS: list[Any] = [
    lambda s: f" {s}", lambda s: f"{s}\u3000", str.lower, _full_width, lambda s: f"{s}\xa0",
]
"""Ways a cell is nearly canonical: padded, lower-cased, full-width, a trailing NBSP."""


def weighted(common: st.SearchStrategy[Any], rare: st.SearchStrategy[Any], odds: int = 4) -> st.SearchStrategy[Any]:
    """`common` `odds` times out of odds + 1: one_of alone would draw the rare cases as often."""
    return st.sampled_from([True] * odds + [False]).flatmap(lambda c: common if c else rare)


def _variants(base: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A cell as written, or nearly (see VARIANTS)."""
    return weighted(base, st.tuples(base, st.sampled_from(VARIANTS)).map(lambda bv: bv[1](bv[0])))


CUSTOMER = _variants(weighted(
    st.integers(1, CUSTOMERS).map(lambda n: f"C{n:07d}"),
    st.sampled_from(["C9999999", "X", "C" * 21, "C-0000001", "C_0000001", "-C0000001", "C0000001é", ""]),
))


def _money_text(fen: int, decimals: int, zeros: int) -> str:
    yuan, cents = divmod(fen, 100)
    text = "0" * zeros + str(yuan)
    if decimals == 2:
        return f"{text}.{cents:02d}"
    return f"{text}.{cents // 10}" if decimals == 1 else text


_AMOUNT = st.builds(_money_text, st.integers(0, 10**14 + 10**6) | st.integers(0, 10**7), st.sampled_from([0, 1, 2]),
                    st.sampled_from([0, 0, 0, 2]))
MONEY_CELL = _variants(weighted(
    _AMOUNT,
    st.sampled_from(["1,234.5", "1.5E+07", "-3", "-0", "3.141", "9999999999999.99", "1000000000000", "1000000000000.00",
                     "1000000000000.01", "¥12", "12元", "", "abc", ".5", "12.", "+1.00", "1_000", "0x10", "NaN",
                     "12.5.1", "1 000", "٣"]),
))


def _dates() -> list[str]:
    t = today()
    days = [DEMO_DATA_DATE - timedelta(days=1), DEMO_DATA_DATE, DEMO_DATA_DATE + timedelta(days=1), t, t + timedelta(days=1)]
    return [d.isoformat() for d in days] + [
        f"{days[2]:%Y/%m/%d}", f"{days[2]:%Y%m%d}", f"{days[2]} 00:00:00", f"{days[2]:%Y年%m月%d日}", "2026-02-30",
        "2026-13-01", "1899-12-31", "2101-01-01", "2024-02-29", "2026-W47-5", "", "yesterday"]


DAY = _variants(weighted(st.sampled_from(_dates()[:3]), st.sampled_from(_dates())))


@st.composite
def balance_files(draw: st.DrawFn) -> tuple[list[str], list[list[str]], str, str, str]:
    """(header, rows, delimiter, encoding, line end): columns in any order, optional ones dropped."""
    columns = draw(st.permutations(BALANCE_HEADER))
    columns = [c for c in columns if c in BALANCE_HEADER[:3] or draw(st.booleans()) or draw(st.booleans())]
    cell = {"customer_id": CUSTOMER, "as_of": DAY, "aum": MONEY_CELL, "deposit": MONEY_CELL,
            "outflow_other_bank": MONEY_CELL}
    row = st.tuples(*[cell[c] for c in columns]).map(list)
    odd = st.one_of(
        st.just([]), st.just([""] * len(columns)),  # blank lines
        row.map(lambda r: r[:-1]), row.map(lambda r: [*r, ""]), row.map(lambda r: [*r, "x"]),  # ragged
        row.map(lambda r: [r[0][:3] + "\n" + r[0][3:], *r[1:]]),  # a line break inside a quoted cell
        row.map(lambda r: [r[0] + '"', *r[1:]]),
    )
    rows = draw(st.lists(weighted(row, odd, 8), min_size=1, max_size=30))
    if draw(st.booleans()):  # a key repeated in the file
        rows += draw(st.lists(st.sampled_from(rows), max_size=2)) if rows else []
    delimiter = draw(st.sampled_from([",", ",", "\t", "|", ";"]))
    return columns, rows, delimiter, draw(st.sampled_from(["utf-8", "utf-8-sig", "gb18030"])), draw(st.sampled_from(["\n", "\r\n"]))


def write(path: Path, header: list[str], rows: list[list[str]], delimiter: str = ",", encoding: str = "utf-8",
          newline: str = "\n") -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator=newline)
    writer.writerow(header)
    for r in rows:
        if r:
            writer.writerow(r)
        else:
            buf.write(newline)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


# ---- the properties ----------------------------------------------------------------------------

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                    phases=[Phase.explicit, Phase.reuse, Phase.generate])
"""No shrinking: the twin banks carry every earlier file, so the first file on which they differ
is the one to look at, and a shrunk variant of it would be imported into banks already apart."""


def test_balances_fast_path_imports_what_the_parsers_import(twins: tuple[Engine, Engine], tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # Small blocks and chunks: files cross block boundaries (a quoted line break too) and the
    # rows left to the parsers come back in several chunks.
    monkeypatch.setattr(importer, "TICK", 3)
    monkeypatch.setattr(staging, "CHUNK", 4)

    @PROPERTY
    @given(balance_files())
    def check(spec: tuple[list[str], list[list[str]], str, str, str]) -> None:
        header, rows, delimiter, encoding, newline = spec
        assert_same_import(twins, "balances", write(tmp_path / "balances.csv", header, rows, delimiter, encoding, newline))

    check()


MONTH = _variants(weighted(st.sampled_from(["2026-10", "2026-09"]), st.sampled_from(["2026-10", "202610", "2026-10-01", "2026-10-31", "2026/10", f"{today():%Y-%m}",
                                   "2099-01", "2026-13", "1899-12", "", "十月"])))
COUNT = _variants(weighted(st.integers(-2, 1_000_002).map(str) | st.sampled_from(["0", "-1", "1000000", "1000001", "1000009"]),
                           st.sampled_from(["007", "1,000", "1.0", "1e3", "", "-0", "9999999999"])))


def test_monthly_fast_path_imports_what_the_parsers_import(twins: tuple[Engine, Engine], tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "TICK", 4)
    header = ["customer_id", "month", "avg_daily", "month_end", "txn_count"]

    @PROPERTY
    @given(st.lists(st.tuples(CUSTOMER, MONTH, MONEY_CELL, MONEY_CELL, COUNT).map(list), min_size=1, max_size=20))
    def check(rows: list[list[str]]) -> None:
        assert_same_import(twins, "aum_monthly", write(tmp_path / "aum_monthly.csv", header, rows))

    check()


# ---- the fast path is taken, and where it matters ----------------------------------------------

def clean_balances(as_of: date, n: int = CUSTOMERS) -> list[list[str]]:
    return [[f"C{i:07d}", as_of.isoformat(), f"{1000 + i}.{i % 100:02d}", f"{500 + i}.5", "0"] for i in range(1, n + 1)]


def test_a_clean_file_is_converted_in_sql(twins: tuple[Engine, Engine], tmp_path: Path) -> None:
    """The nightly case: every row canonical. SQLite writes a new day straight from the raw cells;
    PostgreSQL streams a new day through the parsers (faster there, see docs/IMPORT.md) and takes
    the raw path for the re-sent day."""
    path = write(tmp_path / "balances.csv", BALANCE_HEADER, clean_balances(DEMO_DATA_DATE + timedelta(days=1)))
    pg = twins[0].dialect.name == "postgresql"
    first = import_file(twins[0], KINDS["balances"], path)
    assert (first.rows, first.inserted, first.fast_rows) == (CUSTOMERS, CUSTOMERS, 0 if pg else CUSTOMERS)
    again = import_file(twins[0], KINDS["balances"], path)
    assert (again.rows, again.unchanged, again.fast_rows) == (CUSTOMERS, CUSTOMERS, CUSTOMERS)
    assert import_file(twins[1], KINDS["balances"], path, fast=False).fast_rows == 0
    monthly = write(tmp_path / "aum_monthly.csv", ["customer_id", "month", "avg_daily", "month_end", "txn_count"],
                    [[f"C{i:07d}", "2026-10", "100.00", "120", str(i)] for i in range(1, CUSTOMERS + 1)])
    assert import_file(twins[0], KINDS["aum_monthly"], monthly).fast_rows == CUSTOMERS


def test_only_the_odd_rows_go_through_the_parsers(twins: tuple[Engine, Engine], tmp_path: Path) -> None:
    rows = clean_balances(DEMO_DATA_DATE)  # an existing day: the staged path on both databases
    rows[4][2] = "1,005.05"  # fine, but not canonical: parsed
    rows[5][3] = "99999.00"  # deposit above AUM: canonical cells, caught by the row rule in SQL, reported by the parser
    rows[6][1] = "2026-02-30"
    path = write(tmp_path / "balances.csv", BALANCE_HEADER, rows)
    outcome = assert_same_import(twins, "balances", path)
    assert outcome[:2] == (CUSTOMERS, 2)
    assert import_file(twins[0], KINDS["balances"], path).fast_rows == CUSTOMERS - 3


def test_an_undecodable_line_is_reported_as_the_parser_path_reports_it(twins: tuple[Engine, Engine],
                                                                       tmp_path: Path) -> None:
    rows = clean_balances(DEMO_DATA_DATE + timedelta(days=2))
    path = write(tmp_path / "balances.csv", BALANCE_HEADER, rows)
    data = path.read_bytes()
    cut = data.index(b"C0000030")
    path.write_bytes(data[:cut] + b"\xff\xfe" + data[cut:])
    outcome = assert_same_import(twins, "balances", path, encoding="utf-8")
    assert outcome[0] == "FileProblem" and "无法按 utf-8 解码" in outcome[1]


def test_a_gbk_file_with_a_chinese_header(twins: tuple[Engine, Engine], tmp_path: Path) -> None:
    header = ["客户号", "数据日期", "金融资产", "存款余额", "他行转出"]
    path = write(tmp_path / "时点余额.csv", header, clean_balances(DEMO_DATA_DATE + timedelta(days=3)), encoding="gbk")
    outcome = assert_same_import(twins, "balances", path)
    assert outcome[:3] == (CUSTOMERS, 0, CUSTOMERS)


def test_the_progress_bar_still_moves(twins: tuple[Engine, Engine], tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "TICK", 8)
    path = write(tmp_path / "aum_monthly.csv", ["customer_id", "month", "avg_daily", "month_end"],
                 [[f"C{i:07d}", "2026-10", "100.00", "120"] for i in range(1, CUSTOMERS + 1)])
    calls: list[tuple[str, int, int]] = []
    result = import_file(twins[0], KINDS["aum_monthly"], path, progress=lambda *a: calls.append(a))
    assert result.fast_rows == CUSTOMERS
    read = [done for phase, done, _ in calls if phase == "读取"]
    assert len(read) >= 5 and read == sorted(read) and read[-1] == path.stat().st_size
    assert [phase for phase, *_ in calls][-2:] == ["校验", "写入"]


# ---- the forms against the parsers ------------------------------------------------------------

@given(st.text(max_size=24) | st.from_regex(CUSTOMER_ID.pattern(","), fullmatch=True) | CUSTOMER)
def test_a_canonical_customer_id_is_stored_as_written(cell: str) -> None:
    if re.fullmatch(CUSTOMER_ID.pattern(","), cell):
        assert KINDS["balances"].column("customer_id").parse(cell) == cell


@given(MONEY_CELL | st.text(alphabet="0123456789.", max_size=18) | st.from_regex(MONEY.pattern(","), fullmatch=True))
def test_a_canonical_amount_is_its_digits_in_fen(cell: str) -> None:
    if re.fullmatch(MONEY.pattern(","), cell):
        whole, _, cents = cell.partition(".")
        assert KINDS["balances"].column("aum").parse(cell) == int(whole) * 100 + int((cents + "00")[:2])
