"""Export → import into an empty database gives identical rows; importing twice changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.imports import KINDS, export_kind, import_file
from bot.testing import Harness
from tests.imports.helpers import dump, import_samples, loads


@pytest.mark.parametrize("fmt", ["csv", "gbk"])
def test_export_then_import_into_empty_database_is_identical(rmbot: Harness, empty_db: Engine, tmp_path: Path,
                                                             fmt: str) -> None:
    for kind in KINDS.values():
        out = tmp_path / f"{kind.name}.csv"
        export_kind(rmbot.engine, kind, out, encoding="gbk" if fmt == "gbk" else "utf-8", zh=fmt == "gbk")
        result = import_file(empty_db, kind, out)
        assert result.rejected == 0, result.errors
        assert result.inserted == result.rows > 0
    assert dump(empty_db) == dump(rmbot.engine)


def test_xlsx_round_trip(rmbot: Harness, empty_sqlite: Engine, tmp_path: Path) -> None:
    for kind in KINDS.values():
        out = tmp_path / f"{kind.name}.xlsx"
        export_kind(rmbot.engine, kind, out)
        result = import_file(empty_sqlite, kind, out)
        assert result.rejected == 0 and result.inserted == result.rows > 0, result.errors
    assert dump(empty_sqlite) == dump(rmbot.engine)


def test_reimporting_the_same_files_changes_nothing(rmbot: Harness, empty_db: Engine, tmp_path: Path) -> None:
    files = []
    for kind in KINDS.values():
        out = tmp_path / f"{kind.name}.csv"
        export_kind(rmbot.engine, kind, out)
        files.append((kind, out))
        import_file(empty_db, kind, out)
    before, load_count = dump(empty_db), loads(empty_db)
    for kind, out in files:
        again = import_file(empty_db, kind, out)
        assert (again.inserted, again.updated, again.rejected) == (0, 0, 0)
        assert again.unchanged == again.rows
    assert dump(empty_db) == before
    assert loads(empty_db) == load_count + len(files)  # each load is still recorded


def test_samples_import_cleanly_and_idempotently(empty_db: Engine) -> None:
    import_samples(empty_db)
    first = dump(empty_db)
    assert len(first["customer"]) == 6 and len(first["holding"]) == 10 and len(first["org"]) == 4
    import_samples(empty_db)
    assert dump(empty_db) == first


def test_changed_rows_are_updated_and_counted(rmbot: Harness, tmp_path: Path) -> None:
    out = tmp_path / "balances.csv"
    export_kind(rmbot.engine, KINDS["balances"], out)
    lines = out.read_text(encoding="utf-8").splitlines()
    cid, as_of, _, deposit, outflow = lines[1].split(",")
    lines[1] = f"{cid},{as_of},999999.99,{deposit},{outflow}"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = import_file(rmbot.engine, KINDS["balances"], out)
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, result.rows - 1)
    with rmbot.engine.connect() as conn:
        assert conn.execute(text("SELECT aum_fen FROM balance WHERE customer_id = :c AND as_of = :d"),
                            {"c": cid, "d": as_of}).scalar_one() == 99_999_999
