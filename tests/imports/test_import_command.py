"""`rmbot import` / `rmbot export` as an operator runs them (in-process via typer's runner; the
1%-bad-rows test runs the real subprocess)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from bot.cli_import import app
from bot.config import get_settings
from bot.store.db import make_engine
from bot.store.migrate import upgrade
from bot.testing import PG_URL, Harness, postgres_schema_engine
from tests.imports.helpers import SAMPLES, dump


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[callable]:  # type: ignore[valid-type]
    runner = CliRunner()
    monkeypatch.chdir(tmp_path)

    def run(db: Path, *args: str):
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
        get_settings.cache_clear()
        return runner.invoke(app, list(args), catch_exceptions=False)

    yield run
    get_settings.cache_clear()


def fresh(path: Path) -> Path:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


def test_import_all_samples_then_export_and_reimport_as_xlsx_and_gbk(cli, tmp_path: Path) -> None:
    db = fresh(tmp_path / "bank.db")
    first = cli(db, "import", "all", str(SAMPLES))
    assert first.exit_code == 0, first.output
    assert first.output.count("导入 ") == 8 and "客户信息_20261120.csv：读取 6 行，新增 6" in first.output
    again = cli(db, "import", "all", str(SAMPLES))
    assert again.exit_code == 0 and "新增 0，更新 0，未变 6" in again.output

    copy = fresh(tmp_path / "copy.db")
    for kind in ("org", "staff", "customers", "holdings", "balances", "aum_monthly", "corporate_monthly", "contacts"):
        fmt = "xlsx" if kind in ("customers", "holdings") else "csv"
        out = tmp_path / "out" / f"{kind}.{fmt}"
        exported = cli(db, "export", kind, "--out", str(out), "--encoding", "gbk", "--header", "zh")
        assert exported.exit_code == 0 and "已导出" in exported.output, exported.output
        loaded = cli(copy, "import", kind, str(out))
        assert loaded.exit_code == 0, loaded.output
    assert dump(make_engine(f"sqlite:///{copy}")) == dump(make_engine(f"sqlite:///{db}"))


def test_export_to_stdout_with_a_date(cli, rmbot: Harness) -> None:
    db = Path(rmbot.engine.url.database or "")
    result = cli(db, "export", "balances", "--date", "2026-11-20")
    lines = result.output.splitlines()
    assert lines[0] == "customer_id,as_of,aum,deposit,outflow_other_bank"
    assert lines[1].startswith("C0000001,2026-11-20,323600.00,")
    assert len(lines) == 1 + len(dump(rmbot.engine)["balance"])


def test_whole_file_problem_exit_2_and_default_report(cli, rmbot: Harness, tmp_path: Path) -> None:
    db = Path(rmbot.engine.url.database or "")
    wrong = tmp_path / "balances.csv"
    wrong.write_text("客户号,日期,金额\nC0000001,2026-11-20,1\n", encoding="utf-8")
    result = cli(db, "import", "balances", str(wrong))
    assert result.exit_code == 2 and "未知列 金额" in result.output and "未导入任何数据" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("客户号,日期,金融资产\nC0000001,2026-11-19,1\nC9,2026-11-19,1\n", encoding="utf-8")
    result = cli(db, "import", "balances", str(bad))
    assert result.exit_code == 1 and "客户号不存在" in result.output
    reports = list(tmp_path.glob("import-errors-balances-*.csv"))
    assert len(reports) == 1 and "客户号不存在" in reports[0].read_text(encoding="utf-8-sig")


@pytest.mark.parametrize(("args", "message"), [
    (["import", "bonds", "x.csv"], "未知数据类型"),
    (["import", "balances", "missing.csv"], "文件不存在"),
    (["import", "all", "x.csv"], "all 只能用于目录"),
    (["import", "balances", ".", "--data-date", "2026-13-01"], "日期格式"),
    (["export", "balances", "--out", "x.pdf"], ".csv 或 .xlsx"),
    (["export", "balances", "--header", "fr"], "en 或 zh"),
])
def test_usage_errors(cli, tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "x.csv").write_text("a\n", encoding="utf-8")
    result = cli(fresh(tmp_path / "bank.db"), *args)
    assert result.exit_code == 2 and message in result.output, result.output


def test_import_into_a_fresh_database_creates_the_schema(cli, tmp_path: Path) -> None:
    """What the README says: `rmbot import all samples` on a fresh database, no `db upgrade` first."""
    db = tmp_path / "none.db"
    result = cli(db, "import", "all", str(SAMPLES))
    assert result.exit_code == 0, result.output
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM customer")).scalar_one() > 0
    engine.dispose()


def test_import_into_an_empty_postgresql_schema_creates_it(cli, pg_schema: str, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"{PG_URL}?options=-csearch_path%3D{pg_schema}")
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["import", "all", str(SAMPLES)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    engine = postgres_schema_engine(pg_schema)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM customer")).scalar_one() > 0
    engine.dispose()


def test_a_database_holding_other_tables_is_not_touched(cli, tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    engine = make_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE something_else (id INTEGER)"))
    result = cli(db, "import", "all", str(SAMPLES))
    assert result.exit_code == 2 and "rmbot db upgrade" in result.output
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sqlite_master WHERE type = 'table'")).scalar_one() == 1
    engine.dispose()
