"""Reading files: encodings (detected and declared), delimiters, XLSX cells, directories, docs."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import text

from bot.imports import KINDS, files_of, import_file, kind_of_file
from bot.imports.docs import render
from bot.imports.readers import open_table
from bot.testing import Harness
from tests.imports.helpers import BALANCE_HEADER, ROOT, SAMPLES, write_csv

CUSTOMER_HEADER_ZH = ["客户号", "客户类型", "客户名称", "客户经理", "所属机构", "开户日期", "客户等级"]


def customer(engine, cid: str) -> tuple:
    with engine.connect() as conn:
        return tuple(conn.execute(text("SELECT name, kind, rm_id, tier FROM customer WHERE id = :c"), {"c": cid}).one())


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8", "utf-8-sig"])
def test_chinese_csv_in_every_encoding_is_detected(rmbot: Harness, tmp_path: Path, encoding: str) -> None:
    rows = [["C0900001", "个人", "欧阳娜", "RM001", "SB01", "2020-01-01", "贵宾客户"],
            ["C0900002", "对公", "杭州恒信贸易有限公司", "RM001", "SB01", "20190315", ""]]
    path = write_csv(tmp_path / "客户.csv", CUSTOMER_HEADER_ZH, rows, encoding)
    assert open_table(path).encoding == {"gbk": "gb18030"}.get(encoding, encoding)
    result = import_file(rmbot.engine, KINDS["customers"], path)
    assert (result.inserted, result.rejected) == (2, 0), result.errors
    assert customer(rmbot.engine, "C0900001") == ("欧阳娜", "individual", "RM001", "贵宾客户")
    assert customer(rmbot.engine, "C0900002")[:2] == ("杭州恒信贸易有限公司", "corporate")


def test_gb18030_only_characters_and_declared_gbk(rmbot: Harness, tmp_path: Path) -> None:
    """䶮 (a name character outside GBK) is 4 bytes in GB18030; `--encoding gbk` still reads it."""
    rows = [["C0900003", "个人", "王䶮", "RM001", "SB01", "2020-01-01", ""]]
    path = write_csv(tmp_path / "客户.csv", CUSTOMER_HEADER_ZH, rows, "gb18030")
    result = import_file(rmbot.engine, KINDS["customers"], path, encoding="gbk")
    assert result.inserted == 1 and customer(rmbot.engine, "C0900003")[0] == "王䶮"


def test_gbk_file_read_as_utf8_is_a_whole_file_error(rmbot: Harness, tmp_path: Path) -> None:
    from bot.imports import FileProblem

    rows = [["C0900001", "个人", "张伟", "RM001", "SB01", "2020-01-01", ""]]
    path = write_csv(tmp_path / "客户.csv", CUSTOMER_HEADER_ZH, rows, "gbk")
    with pytest.raises(FileProblem, match="解码"):
        import_file(rmbot.engine, KINDS["customers"], path, encoding="utf-8")


@pytest.mark.parametrize("delimiter", ["\t", "|", ";"])
def test_other_delimiters(rmbot: Harness, tmp_path: Path, delimiter: str) -> None:
    path = tmp_path / "balances.txt"
    lines = [delimiter.join(BALANCE_HEADER), delimiter.join(["C0000001", "2026-10-01", "1,234.50", "1000", "0"])]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = import_file(rmbot.engine, KINDS["balances"], path)
    assert result.inserted == 1, result.errors


def test_xlsx_native_cells_blank_rows_and_aliases(rmbot: Harness, tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["客户号", "数据日期", "金融资产（元）", "存款余额", None])
    sheet.append(["C0000001", datetime(2026, 10, 1), 323600.5, 123600, None])  # float, int and datetime cells
    sheet.append(["C0000002", date(2026, 10, 1), "1,000.00", None, None])
    sheet.append(["C0000003", "2026/10/01", -1, 0, None])  # negative: rejected
    sheet.append([None, None, None, None, None])  # blank rows Excel leaves behind
    sheet.append([])
    path = tmp_path / "余额.xlsx"
    book.save(path)
    result = import_file(rmbot.engine, KINDS["balances"], path)
    assert (result.rows, result.inserted, result.rejected) == (3, 2, 1)
    assert result.errors[0].row == 4 and result.errors[0].column == "aum"
    with rmbot.engine.connect() as conn:
        got = dict(conn.execute(text("SELECT customer_id, aum_fen FROM balance WHERE as_of = '2026-10-01'")).all())
    assert got == {"C0000001": 32_360_050, "C0000002": 100_000}


def test_sample_files_cover_every_kind_with_one_gbk_and_one_xlsx() -> None:
    jobs = files_of("all", SAMPLES)
    assert [k.name for k, _ in jobs] == list(KINDS)
    assert any(p.suffix == ".xlsx" for _, p in jobs)
    assert open_table(SAMPLES / "客户信息_20261120.csv").encoding == "gb18030"


def test_file_names_pick_the_kind() -> None:
    assert kind_of_file("客户联系记录_20261120.csv") is KINDS["contacts"]
    assert kind_of_file("客户信息_20261120.csv") is KINDS["customers"]
    assert kind_of_file("BALANCE_20261120.CSV") is KINDS["balances"]
    assert kind_of_file("corporate_monthly_202610.csv") is KINDS["corporate_monthly"]
    assert kind_of_file("readme.txt") is None


def test_docs_match_the_specs() -> None:
    assert (ROOT / "docs" / "IMPORT.md").read_text(encoding="utf-8") == render(), \
        "regenerate: python -m bot.imports.docs > docs/IMPORT.md"


def test_every_alias_is_unambiguous_within_its_kind() -> None:
    from bot.imports.specs import norm_header

    for kind in KINDS.values():
        seen: dict[str, str] = {}
        for col in kind.columns:
            for alias in col.headers():
                key = norm_header(alias)
                assert seen.setdefault(key, col.name) == col.name, (kind.name, alias)
