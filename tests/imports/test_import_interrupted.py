"""An import stopped half-way — Ctrl-C, a database error at row 5,000, a crash after the rows
were written — leaves the database exactly as it was before the file."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.imports import KINDS, ErrorReport, import_file, importer
from bot.store.seed import seed_bank
from bot.testing import DEMO_DATA_DATE
from rules.policy import default_policy
from tests.imports.helpers import BALANCE_HEADER, balance_rows, dump, loads, write_csv


@pytest.fixture(params=["sqlite", "postgresql"])
def bank(request: pytest.FixtureRequest) -> Engine:
    if request.param == "sqlite":
        return request.getfixturevalue("rmbot").engine  # type: ignore[no-any-return]
    engine: Engine = request.getfixturevalue("pg_engine")
    seed_bank(engine, default_policy(), customers=400, seed=7, data_date=DEMO_DATA_DATE)
    return engine


def big_file(folder: Path) -> Path:
    rows = balance_rows(400, 30)  # 12,000 rows; row 5,000 is the 4,999th data row
    rows[100][2] = "-1"  # one bad row too, so the error report is being written when it matters
    return write_csv(folder / "balances.csv", BALANCE_HEADER, rows)


def test_ctrl_c_while_reading(bank: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "TICK", 1_000)
    path = big_file(tmp_path)
    before, count = dump(bank), loads(bank)
    calls = []

    def progress(phase: str, done: int, total: int) -> None:
        calls.append(phase)
        if len(calls) == 5:  # about row 5,000
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_file(bank, KINDS["balances"], path, progress=progress)
    assert dump(bank) == before and loads(bank) == count
    again = import_file(bank, KINDS["balances"], path)  # and the connection is fine afterwards
    assert again.inserted == 11_999


def test_database_error_at_row_5000(bank: Engine, tmp_path: Path) -> None:
    """A trigger refuses the row at line 5,000 while the set-based insert is half-way through."""
    path = big_file(tmp_path)
    cid, as_of = path.read_text(encoding="utf-8").splitlines()[4999].split(",")[:2]
    with bank.begin() as conn:
        if bank.dialect.name == "sqlite":
            conn.execute(text(f"CREATE TRIGGER boom BEFORE INSERT ON balance WHEN NEW.customer_id = '{cid}' "
                              f"AND NEW.as_of = '{as_of}' BEGIN SELECT RAISE(ABORT, 'row 5000 refused'); END"))
        else:
            conn.execute(text(f"""CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
                IF NEW.customer_id = '{cid}' AND NEW.as_of = '{as_of}' THEN RAISE EXCEPTION 'row 5000 refused'; END IF;
                RETURN NEW; END $$"""))
            conn.execute(text("CREATE TRIGGER boom BEFORE INSERT ON balance FOR EACH ROW EXECUTE FUNCTION boom()"))
    before, count = dump(bank), loads(bank)
    with pytest.raises(Exception, match="row 5000 refused"):
        import_file(bank, KINDS["balances"], path)
    assert dump(bank) == before and loads(bank) == count


class _CrashingReport(ErrorReport):
    """Writing the error report is the last step before the commit: crash there."""

    def add(self, error) -> None:
        raise KeyboardInterrupt


def test_crash_after_rows_written_before_commit(bank: Engine, tmp_path: Path) -> None:
    path = big_file(tmp_path)
    before, count = dump(bank), loads(bank)
    with pytest.raises(KeyboardInterrupt):
        import_file(bank, KINDS["balances"], path, report=_CrashingReport(tmp_path / "r.csv"))
    assert dump(bank) == before and loads(bank) == count


def test_dry_run_validates_and_writes_nothing(bank: Engine, tmp_path: Path) -> None:
    path = big_file(tmp_path)
    before, count = dump(bank), loads(bank)
    result = import_file(bank, KINDS["balances"], path, dry_run=True)
    assert (result.inserted, result.rejected) == (11_999, 1) and result.dry_run
    assert dump(bank) == before and loads(bank) == count
