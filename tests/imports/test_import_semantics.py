"""What an import means for the data: data dates, the org tree, contacts without a unique key,
holdings' ids, directories."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.clock import SHANGHAI
from bot.imports import KINDS, files_of, import_file, importer
from bot.store.models import Contact, DataLoad, Holding
from bot.testing import Harness
from tests.imports.helpers import (
    BALANCE_HEADER,
    SAMPLES,
    dump,
    import_samples,
    write_csv,
)


def data_loads(engine: Engine) -> list[tuple[str, date, str, int]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(DataLoad.kind, DataLoad.data_date, DataLoad.source, DataLoad.rows)
                                               .where(DataLoad.kind != "seed").order_by(DataLoad.id))]


def test_data_date_from_option_column_name_or_current(rmbot: Harness, tmp_path: Path) -> None:
    engine = rmbot.engine
    balances = write_csv(tmp_path / "balances.csv", BALANCE_HEADER, [["C0000001", "2026-11-21", "1.00", "0", "0"],
                                                                     ["C0000002", "2026-11-19", "1.00", "0", "0"]])
    # two rows of a 379-customer bank: partial, so accepted explicitly to become current
    assert import_file(engine, KINDS["balances"], balances, allow_partial=True).data_date == date(2026, 11, 21)
    staff = write_csv(tmp_path / "staff_20261118.csv", ["id", "name", "role", "org_id"], [["RM900", "新人", "rm", "SB01"]])
    assert import_file(engine, KINDS["staff"], staff).data_date == date(2026, 11, 18)  # from the name
    staff2 = write_csv(tmp_path / "staff.csv", ["id", "name", "role", "org_id"], [["RM901", "新人", "rm", "SB01"]])
    assert import_file(engine, KINDS["staff"], staff2).data_date == date(2026, 11, 21)  # the current one
    forced = import_file(engine, KINDS["staff"], staff2, data_date=date(2026, 11, 22))
    assert forced.data_date == date(2026, 11, 22)
    assert data_loads(engine) == [("balances", date(2026, 11, 21), "balances.csv", 2),
                                  ("staff", date(2026, 11, 18), "staff_20261118.csv", 1),
                                  ("staff", date(2026, 11, 21), "staff.csv", 1),
                                  ("staff", date(2026, 11, 22), "staff.csv", 1)]
    assert "数据日期 2026-11-22" in rmbot.ask("RM001", "/tier C0000001").text  # answers show it


def test_a_file_of_only_bad_rows_records_no_load(rmbot: Harness, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "balances.csv", BALANCE_HEADER, [["C9999999", "2026-11-21", "1.00", "0", "0"]])
    result = import_file(rmbot.engine, KINDS["balances"], path)
    assert result.rejected == 1 and data_loads(rmbot.engine) == []


def test_moving_a_sub_branch_moves_its_outlets_and_customers_scope(rmbot: Harness, tmp_path: Path) -> None:
    header = ["id", "name", "level", "parent_id"]
    path = write_csv(tmp_path / "org.csv", header, [["BR02", "宁波分行", "branch", ""], ["SB02", "滨江支行", "sub_branch", "BR02"]])
    result = import_file(rmbot.engine, KINDS["org"], path)
    assert (result.inserted, result.updated) == (1, 1)
    with rmbot.engine.connect() as conn:
        paths = dict(conn.execute(text("SELECT id, path FROM org WHERE id IN ('SB02', 'OU021', 'SB01')")).all())
    assert paths == {"SB02": "/BR02/SB02/", "OU021": "/BR02/SB02/OU021/", "SB01": "/BR01/SB01/"}


def test_org_children_may_come_before_parents_and_cycles_are_refused(rmbot: Harness, tmp_path: Path) -> None:
    header = ["机构号", "机构名称", "机构层级", "上级机构号"]
    rows = [["OU991", "新网点", "网点", "SB99"], ["SB99", "新支行", "支行", "BR01"],
            ["SB01", "西湖支行", "支行", "OU011"]]  # SB01 under its own outlet: a cycle (and a level error)
    result = import_file(rmbot.engine, KINDS["org"], write_csv(tmp_path / "机构.csv", header, rows))
    assert (result.inserted, result.rejected) == (2, 1)
    assert result.errors[0].row == 4 and result.errors[0].column == "parent_id"
    with rmbot.engine.connect() as conn:
        assert conn.execute(text("SELECT path FROM org WHERE id = 'OU991'")).scalar_one() == "/BR01/SB99/OU991/"


def test_contacts_match_on_customer_staff_time_and_channel(rmbot: Harness, tmp_path: Path) -> None:
    at = datetime(2026, 11, 15, 10, 30, tzinfo=SHANGHAI)
    with Session(rmbot.engine) as s:  # one written by the bot itself (the ORM's time format)
        s.add(Contact(customer_id="C0000004", staff_id="RM001", at=at, outcome="contacted", channel="chat"))
        s.commit()
    header = ["customer_id", "staff_id", "at", "outcome", "channel", "note"]
    rows = [["C0000004", "RM001", "2026-11-15 10:30:00", "contacted", "chat", "电话未接通"],
            ["C0000004", "RM001", "2026-11-15 10:30:00", "contacted", "phone", ""]]
    first = import_file(rmbot.engine, KINDS["contacts"], write_csv(tmp_path / "c.csv", header, rows))
    assert (first.inserted, first.updated) == (1, 1)
    again = import_file(rmbot.engine, KINDS["contacts"], write_csv(tmp_path / "c.csv", header, rows))
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    with Session(rmbot.engine) as s:
        mine = s.exec(select(Contact.channel, Contact.note).where(Contact.customer_id == "C0000004",
                                                                  Contact.at == at)).all()
    assert sorted(mine) == [("chat", "电话未接通"), ("phone", None)]


def test_holdings_keep_their_ids_and_the_sequence_moves_past_them(empty_db: Engine) -> None:
    import_samples(empty_db)
    with Session(empty_db) as s:
        s.add(Holding(customer_id="C0000004", kind="基金", product_name="新基金", amount_fen=100, start_date=date(2026, 1, 1)))
        s.commit()
        ids = sorted(r[0] for r in s.execute(select(Holding.id)))
    assert ids[:10] == list(range(100001, 100011)) and ids[-1] > 100010


def test_directory_of_one_kind_in_name_order(tmp_path: Path) -> None:
    for name in ("balances_20261121.csv", "balances_20261120.csv", "staff.csv", "~$balances.xlsx", "notes.txt"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    assert [p.name for _, p in files_of("balances", tmp_path)] == ["balances_20261120.csv", "balances_20261121.csv"]
    assert [p.name for _, p in files_of("all", tmp_path)] == ["staff.csv", "balances_20261120.csv", "balances_20261121.csv"]
    assert len(files_of("all", SAMPLES)) == 8


def test_a_new_day_goes_straight_in_and_a_resent_day_takes_the_careful_path(
        empty_db: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import_samples(empty_db)
    rows = [["C0000001", "2026-11-21", "1.00", "0", "0"], ["C0000002", "2026-11-21", "2.00", "0", "0"],
            ["C0000003", "2026-11-21", "-3.00", "0", "0"]]  # a parse error does not leave the direct path
    path = write_csv(tmp_path / "balances.csv", BALANCE_HEADER, rows)

    def no_staging(*args: object) -> None:
        raise AssertionError("the staged path ran")

    monkeypatch.setattr(importer, "_staged", no_staging)
    first = import_file(empty_db, KINDS["balances"], path)
    assert (first.inserted, first.rejected, first.data_date) == (2, 1, date(2026, 11, 21))
    monkeypatch.undo()
    again = import_file(empty_db, KINDS["balances"], path)  # conflicts: the staged upsert
    assert (again.inserted, again.updated, again.unchanged, again.rejected) == (0, 0, 2, 1)
    unknown = write_csv(tmp_path / "b2.csv", BALANCE_HEADER, [["C0000001", "2026-11-22", "1.00", "0", "0"],
                                                              ["C0000099", "2026-11-22", "1.00", "0", "0"]])
    third = import_file(empty_db, KINDS["balances"], unknown)
    assert (third.inserted, third.rejected) == (1, 1) and third.errors[0].reason == "客户号不存在"
    assert len(dump(empty_db)["balance"]) == 5 + 2 + 1
