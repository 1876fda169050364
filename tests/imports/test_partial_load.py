"""A partial balance load never becomes the truth (issue 15 item 8), on SQLite and PostgreSQL.

A one-row balance file for a new day used to exit 0 and become the bank's data date: the
regional manager's /churn lost almost every customer and a branch's /summary showed its 金融资产
as 0.10万. Now the date is kept as partial (exit 3, a Chinese-first warning), every answer stays on
the previous date, `--allow-partial` accepts it (recorded in data_day), and a top-up import for
the same date that completes it promotes it.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from bot.calendar_data import load_calendar
from bot.cli_import import app
from bot.config import get_settings
from bot.push.service import PushService
from bot.store.data_dates import current_data_date
from bot.store.models import Balance, DataDay
from bot.testing import DEMO_DATA_DATE, Harness
from rules.policy import default_policy

NEW_DAY = date(2026, 11, 21)
HEADER = "customer_id,as_of,aum,deposit,outflow_other_bank\n"
ASKS = [("REG01", "/churn"), ("REG01", "/summary"), ("BM01", "/summary"), ("BM01", "/churn"),
        ("RM001", "/tier C0000001")]
"""The regional manager, a branch and the RM of the customer the one-row file names."""


@dataclass
class Bank:
    harness: Harness
    url: str
    runner: CliRunner
    monkeypatch: pytest.MonkeyPatch

    @property
    def engine(self) -> Engine:
        return self.harness.engine

    def cli(self, *args: str):
        self.monkeypatch.setenv("DATABASE_URL", self.url)
        get_settings.cache_clear()
        return self.runner.invoke(app, list(args), catch_exceptions=False)

    def answers(self) -> list[str]:
        return [self.harness.ask(who, what).text for who, what in ASKS]

    def current(self) -> date | None:
        with self.engine.connect() as conn:
            return current_data_date(conn)

    def customers_on(self, day: date) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM balance WHERE as_of = :d"), {"d": day}).scalar_one())

    def status(self, day: date) -> DataDay | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(DataDay).where(DataDay.day == day)).first()
        return None if row is None else DataDay(**row._mapping)


@pytest.fixture(params=["sqlite", "postgresql"])
def bank(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Bank]:
    monkeypatch.chdir(tmp_path)
    if request.param == "sqlite":
        harness: Harness = request.getfixturevalue("rmbot")
        url = f"sqlite:///{harness.engine.url.database}"
    else:
        harness = request.getfixturevalue("rmbot_pg")
        schema = request.getfixturevalue("pg_schema")
        url = (harness.engine.url.set(query={"options": f"-csearch_path={schema}"})
               .render_as_string(hide_password=False))
    yield Bank(harness, url, CliRunner(), monkeypatch)
    get_settings.cache_clear()


def one_row(folder: Path) -> Path:
    path = folder / "balances_20261121.csv"
    path.write_text(HEADER + "C0000001,2026-11-21,1000.00,1000.00,0.00\n", encoding="utf-8")
    return path


def top_up(bank: Bank, folder: Path, skip: str = "C0000001") -> Path:
    """The rest of the new day: every other customer's previous balance, dated the new day."""
    with bank.engine.connect() as conn:
        rows = conn.execute(select(Balance.customer_id, Balance.aum_fen, Balance.deposit_fen,
                                   Balance.outflow_other_bank_fen)
                            .where(Balance.as_of == DEMO_DATA_DATE, Balance.customer_id != skip)
                            .order_by(Balance.customer_id)).all()
    path = folder / "balances_20261121_rest.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER.strip().split(","))
        for cid, aum, dep, out in rows:
            w.writerow([cid, NEW_DAY.isoformat(), f"{aum / 100:.2f}", f"{(dep or 0) / 100:.2f}",
                        f"{(out or 0) / 100:.2f}"])
    return path


def test_one_row_file_is_kept_partial_and_changes_no_answer(bank: Bank, tmp_path: Path) -> None:
    before = bank.answers()
    assert "待跟进 8 户" in before[0]  # the regional manager's churn list, as seeded
    result = bank.cli("import", "balances", str(one_row(tmp_path)))
    assert result.exit_code == 3, result.output
    assert "警告" in result.output and "数据不完整" in result.output, result.output
    seeded = bank.customers_on(DEMO_DATA_DATE)
    assert seeded == 379  # the seeded individual customers with a balance
    assert "1 / 379 户 = 0.3%" in result.output and "要求 ≥ 95%" in result.output, result.output
    assert f"当前数据日期仍为 {DEMO_DATA_DATE}" in result.output and "--allow-partial" in result.output
    assert bank.current() == DEMO_DATA_DATE
    stored = bank.status(NEW_DAY)
    assert stored is not None and (stored.status, stored.covered, stored.expected) == ("partial", 1, seeded)
    assert bank.answers() == before  # /churn, /summary, /tier: all still on the previous date
    assert bank.customers_on(NEW_DAY) == 1  # the row itself is kept, for the top-up to complete


def test_churn_pushes_stay_on_the_previous_date(bank: Bank, tmp_path: Path) -> None:
    """The partial day used to empty the churn pushes of four branches."""
    service = PushService(bank.engine, default_policy(), load_calendar())
    day = date(2026, 11, 23)

    def churn_pushes() -> tuple[date | None, list[tuple[str, int]]]:
        built = service.build("churn", day, dry_run=True, force=True)
        return built.data_date, sorted((b.branch_id, b.items) for b in built.branches if b.items)

    before = churn_pushes()
    assert before[0] == DEMO_DATA_DATE and len(before[1]) >= 4
    assert bank.cli("import", "balances", str(one_row(tmp_path))).exit_code == 3
    assert churn_pushes() == before


def test_dry_run_of_a_partial_file_warns_and_keeps_nothing(bank: Bank, tmp_path: Path) -> None:
    result = bank.cli("import", "balances", str(one_row(tmp_path)), "--dry-run")
    assert result.exit_code == 3 and "数据不完整" in result.output, result.output
    assert bank.status(NEW_DAY) is None and bank.current() == DEMO_DATA_DATE


def test_allow_partial_makes_the_date_current_and_records_it(bank: Bank, tmp_path: Path) -> None:
    result = bank.cli("import", "balances", str(one_row(tmp_path)), "--allow-partial")
    assert result.exit_code == 0, result.output
    assert "--allow-partial" in result.output and "已记录" in result.output, result.output
    assert bank.current() == NEW_DAY
    stored = bank.status(NEW_DAY)
    assert stored is not None and (stored.status, stored.covered, stored.expected) == ("allowed", 1, bank.customers_on(DEMO_DATA_DATE))
    assert "数据日期 2026-11-21" in bank.harness.ask("REG01", "/churn").text


def test_top_up_for_the_same_date_promotes_it(bank: Bank, tmp_path: Path) -> None:
    assert bank.cli("import", "balances", str(one_row(tmp_path))).exit_code == 3
    result = bank.cli("import", "balances", str(top_up(bank, tmp_path)))
    assert result.exit_code == 0, result.output
    assert "379 / 379 户 = 100.0%" in result.output and "成为当前数据日期" in result.output, result.output
    assert bank.current() == NEW_DAY
    stored = bank.status(NEW_DAY)
    assert stored is not None and (stored.status, stored.covered) == ("complete", 379)
    assert "数据日期 2026-11-21" in bank.harness.ask("REG01", "/churn").text


def test_a_complete_new_day_passes_quietly(bank: Bank, tmp_path: Path) -> None:
    """96% of the previous day's customers: complete (the threshold allows normal churn)."""
    folder = tmp_path / "full"
    folder.mkdir()
    path = top_up(bank, folder, skip="")
    lines = path.read_text(encoding="utf-8").splitlines()
    keep = -(-bank.customers_on(DEMO_DATA_DATE) * 96 // 100)  # 364 of 379: 96%
    path.write_text("\n".join(lines[:1 + keep]) + "\n", encoding="utf-8")
    result = bank.cli("import", "balances", str(path))
    assert result.exit_code == 0 and "警告" not in result.output, result.output
    assert bank.current() == NEW_DAY and bank.status(NEW_DAY).status == "complete"  # type: ignore[union-attr]
