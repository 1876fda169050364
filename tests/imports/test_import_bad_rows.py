"""A realistic bad day: 10,000 balance rows of which 1% are wrong, through the real command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from bot.imports import KINDS, ErrorReport, import_file, read_report, staging
from bot.store.seed import seed_bank
from bot.testing import DEMO_DATA_DATE, Harness
from rules.policy import default_policy
from tests.imports.helpers import BALANCE_HEADER, balance_rows, write_csv

DEFECTS = [  # (how to spoil a row, column, reason)
    (lambda r: [r[0], r[1], "-" + r[2], r[3], r[4]], "aum", "不能为负"),
    (lambda r: [r[0], "2026-02-30", r[2], r[3], r[4]], "as_of", "日期"),
    (lambda r: ["X" + r[0][1:], r[1], r[2], r[3], r[4]], "customer_id", "客户号不存在"),
    (lambda r: [r[0], r[1], "", r[3], r[4]], "aum", "必填"),
    (lambda r: [r[0], r[1], r[2], "99999999.00", r[4]], "deposit", "存款余额大于金融资产"),
    (lambda r: [r[0], r[1], r[2] + "9", r[3], r[4]], "aum", "两位小数"),
    (lambda r: [r[0], r[1], r[2], r[3], "abc"], "outflow_other_bank", "应为数字"),
]


def bad_day(folder: Path) -> tuple[Path, dict[int, tuple[str, str]], int]:
    """10,000 rows (400 customers × 25 days); every 100th spoilt. Returns (file, row → error, rows)."""
    rows = balance_rows(400, 25)
    expected: dict[int, tuple[str, str]] = {}
    for k, i in enumerate(range(57, len(rows), 100)):
        spoil, column, reason = DEFECTS[k % len(DEFECTS)]
        rows[i] = spoil(rows[i])
        expected[i + 2] = (column, reason)  # header is row 1
    rows.append(list(rows[10]))  # and one repeated key: the first occurrence (row 12) wins
    expected[len(rows) + 1] = ("customer_id", "与第 12 行重复")
    return write_csv(folder / "balances_20261025.csv", BALANCE_HEADER, rows), expected, len(rows)


def check_report(report: Path, expected: dict[int, tuple[str, str]], name: str) -> None:
    errors = read_report(report)
    assert [e.row for e in errors] == sorted(expected)
    for e in errors:
        column, reason = expected[e.row]
        assert (e.file, e.column) == (name, column) and reason in e.reason, e


def balance_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM balance WHERE as_of < '2026-11-01'")).scalar_one())


def test_one_percent_bad_rows_through_the_command(rmbot: Harness, tmp_path: Path) -> None:
    path, expected, total = bad_day(tmp_path)
    db = Path(rmbot.engine.url.database or "")
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "RMBOT_LOG_LEVEL": "WARNING"}
    cmd = [sys.executable, "-m", "bot.cli_import", "import", "balances", str(path), "--errors", str(tmp_path / "r.csv")]
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path, check=False)
    assert run.returncode == 1, run.stderr
    good = total - len(expected)
    assert f"读取 {total} 行，新增 {good}，更新 0，未变 0，错误 {len(expected)} 行" in run.stdout
    assert "数据日期 2026-10-25" in run.stdout and "错误明细已写入" in run.stderr and "Traceback" not in run.stderr
    check_report(tmp_path / "r.csv", expected, path.name)
    assert balance_count(rmbot.engine) == good
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path, check=False)
    assert again.returncode == 1 and f"新增 0，更新 0，未变 {good}" in again.stdout
    assert "数据日期 2026-11-20" in rmbot.ask("RM001", "/tier C0000001").text  # an older file does not move it


def test_one_percent_bad_rows_on_postgresql_in_small_chunks(pg_engine: Engine, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    seed_bank(pg_engine, default_policy(), customers=400, seed=7, data_date=DEMO_DATA_DATE)
    monkeypatch.setattr(staging, "CHUNK", 1_000)  # many COPY chunks, errors flushed in between
    path, expected, total = bad_day(tmp_path)
    report = ErrorReport(tmp_path / "r.csv")
    result = import_file(pg_engine, KINDS["balances"], path, report=report)
    report.close()
    assert (result.rows, result.rejected, result.inserted) == (total, len(expected), total - len(expected))
    check_report(report.path, expected, path.name)
    assert balance_count(pg_engine) == total - len(expected)
