"""Every row check and every whole-file check, one at a time, against the seeded demo bank."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.imports import KINDS, ErrorReport, FileProblem, import_file, read_report
from bot.testing import Harness
from tests.imports.helpers import BALANCE_HEADER, dump, loads, write_csv

GOOD_BALANCE = ["C0000001", "2026-10-01", "1000.00", "500.00", "0"]


def one_bad_row(rmbot: Harness, tmp_path: Path, kind: str, header: list[str], good: list[str],
                bad: list[str]) -> tuple[str, str, str]:
    """Import a good row and a bad one; returns the bad row's (column, value, reason)."""
    path = write_csv(tmp_path / f"{kind}.csv", header, [good, bad])
    report = ErrorReport(tmp_path / "errors.csv")
    result = import_file(rmbot.engine, KINDS[kind], path, report=report)
    report.close()
    assert result.rows == 2 and result.rejected == 1 and result.inserted + result.updated + result.unchanged == 1
    errors = read_report(report.path)
    assert {e.row for e in errors} == {3}
    assert errors[0].file == path.name
    return errors[0].column, errors[0].value, errors[0].reason


@pytest.mark.parametrize(("bad", "column", "reason"), [
    (["", "2026-10-01", "1.00", "0", "0"], "customer_id", "必填"),
    (["C0000001", "2026-10-01", "", "0", "0"], "aum", "必填"),
    (["C0000001", "2026-10-01", "-5.00", "0", "0"], "aum", "不能为负"),
    (["C0000001", "2026-10-01", "12.345", "0", "0"], "aum", "两位小数"),
    (["C0000001", "2026-10-01", "十二元", "0", "0"], "aum", "应为数字"),
    (["C0000001", "2026-10-01", "1e20", "0", "0"], "aum", "超出合理范围"),
    (["C0000001", "2026-13-45", "1.00", "0", "0"], "as_of", "日期"),
    (["C0000001", "2099-01-01", "1.00", "0", "0"], "as_of", "晚于今天"),
    (["C0000001", "1850-01-01", "1.00", "0", "0"], "as_of", "合理范围"),
    (["C9999999", "2026-10-01", "1.00", "0", "0"], "customer_id", "客户号不存在"),
    (["C 1", "2026-10-01", "1.00", "0", "0"], "customer_id", "编号只能包含"),
    (["C0000001", "2026-10-02", "100.00", "200.00", "0"], "deposit", "存款余额大于金融资产"),
    (["C0000001", "2026-10-01", "9.00", "0", "0"], "customer_id", "与第 2 行重复"),
    (["C0000001", "2026-10-02", "1.00", "0", "0", "extra"], "*", "列数不符"),
    (["C0000001", "2026-10-02"], "aum", "缺少此列"),
])
def test_balance_row_errors(rmbot: Harness, tmp_path: Path, bad: list[str], column: str, reason: str) -> None:
    before = dump(rmbot.engine)["balance"]
    got = one_bad_row(rmbot, tmp_path, "balances", BALANCE_HEADER, GOOD_BALANCE, bad)
    assert got[0] == column and reason in got[2], got
    after = dump(rmbot.engine)["balance"]
    assert len(after) == len(before) + 1  # the good row went in, the bad one did not


@pytest.mark.parametrize(("kind", "header", "good", "bad", "column", "reason"), [
    ("org", ["id", "name", "level", "parent_id"], ["SB90", "新支行", "支行", "BR01"],
     ["SB91", "另一支行", "sub_branch", "BR99"], "parent_id", "上级机构不存在"),
    ("org", ["id", "name", "level", "parent_id"], ["SB90", "新支行", "支行", "BR01"],
     ["OU901", "网点", "outlet", "BR01"], "parent_id", "网点的上级应为支行"),
    ("org", ["id", "name", "level", "parent_id"], ["SB90", "新支行", "支行", "BR01"],
     ["SB92", "支行", "branch", "BR01"], "parent_id", "分行不应有上级机构"),
    ("org", ["id", "name", "level", "parent_id"], ["SB90", "新支行", "支行", "BR01"],
     ["SB93", "支行", "大区", "BR01"], "level", "应为"),
    ("staff", ["id", "name", "role", "org_id"], ["RM900", "新经理", "客户经理", "SB01"],
     ["RM901", "某人", "rm", "SB99"], "org_id", "所属机构不存在"),
    ("staff", ["id", "name", "role", "org_id", "active"], ["RM900", "新经理", "rm", "SB01", "是"],
     ["RM901", "某人", "rm", "SB01", "也许"], "active", "是/否"),
    ("customers", ["id", "kind", "name", "rm_id", "org_id", "opened_on"],
     ["C0900001", "个人", "新客户", "RM001", "SB01", "2020-01-01"],
     ["C0900002", "个人", "新客户", "RM999", "SB01", "2020-01-01"], "rm_id", "客户经理不存在"),
    ("customers", ["id", "kind", "name", "rm_id", "org_id", "opened_on", "tier"],
     ["C0900001", "个人", "新客户", "RM001", "SB01", "2020-01-01", "贵宾客户"],
     ["C0900002", "个人", "新客户", "RM001", "SB01", "2020-01-01", "钻石客户"], "tier", "客户等级应为"),
    ("customers", ["id", "kind", "name", "rm_id", "org_id", "opened_on"],
     ["C0900001", "个人", "新客户", "RM001", "SB01", "2020-01-01"],
     ["C0900002", "个人", "名" * 65, "RM001", "SB01", "2020-01-01"], "name", "超过 64 个字符"),
    ("holdings", ["holding_id", "customer_id", "kind", "product_name", "amount", "start_date", "maturity_date"],
     ["900001", "C0000001", "定期存款", "定期一年", "1000", "2026-01-01", "2027-01-01"],
     ["900002", "C0000001", "定期存款", "定期一年", "1000", "2026-01-01", "2025-01-01"], "maturity_date", "到期日早于起始日"),
    ("holdings", ["holding_id", "customer_id", "kind", "product_name", "amount", "start_date"],
     ["900001", "C0000001", "基金", "某基金", "1000", "2026-01-01"],
     ["abc", "C0000001", "基金", "某基金", "1000", "2026-01-01"], "holding_id", "应为整数"),
    ("holdings", ["holding_id", "customer_id", "kind", "product_name", "amount", "start_date", "term_months"],
     ["900001", "C0000001", "定期存款", "定期", "1000", "2026-01-01", "12"],
     ["900002", "C0000001", "定期存款", "定期", "1000", "2026-01-01", "0"], "term_months", "应在 1–600 之间"),
    ("aum_monthly", ["customer_id", "month", "avg_daily", "month_end"], ["C0000001", "2025-01", "1.00", "1.00"],
     ["C0000001", "2099-01", "1.00", "1.00"], "month", "晚于本月"),
    ("corporate_monthly", ["customer_id", "month", "avg_deposit"], ["C0000010", "2025-01", "1.00"],
     ["C0000001", "2025-01", "1.00"], "customer_id", "不是对公客户"),
    ("contacts", ["customer_id", "staff_id", "at", "outcome"], ["C0000001", "RM001", "2026-01-01 10:00", "已联系"],
     ["C0000001", "RM999", "2026-01-01 11:00", "contacted"], "staff_id", "员工号不存在"),
    ("contacts", ["customer_id", "staff_id", "at", "outcome"], ["C0000001", "RM001", "2026-01-01 10:00", "已联系"],
     ["C0000001", "RM001", "昨天下午", "contacted"], "at", "时间格式"),
])
def test_other_kinds_row_errors(rmbot: Harness, tmp_path: Path, kind: str, header: list[str], good: list[str],
                                bad: list[str], column: str, reason: str) -> None:
    got = one_bad_row(rmbot, tmp_path, kind, header, good, bad)
    assert got[0] == column and reason in got[2], got


@pytest.mark.parametrize(("content", "message"), [
    (b"", "文件为空"),
    (b"   \n\n", "文件为空"),
    (b"customer_id,as_of,aum\n", "没有数据行"),
    (b"C0000001,2026-10-01,1.00\n", "表头不是时点余额文件的表头"),
    (b"customer_id,as_of,aum,deposti\nC0000001,2026-10-01,1.00,1.00\n", "未知列 deposti"),
    (b"customer_id,as_of\nC0000001,2026-10-01\n", "缺少必填列 金融资产"),
    (b"customer_id,as_of,aum,aum\nC0000001,2026-10-01,1.00,1.00\n", "出现了两次"),
    ("\ufeffcustomer_id,as_of,aum\n".encode("utf-16"), "UTF-16"),
    (b"customer_id,as_of,aum\x00\x01\n", "不是文本"),
    (b"\x80\x80\x80,\xff\xfe\xfd\n", "编码无法识别"),
    (b"PK\x03\x04 not really a zip", "不是有效的 XLSX"),
])
def test_whole_file_problems_change_nothing(rmbot: Harness, tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "balances.csv"
    path.write_bytes(content)
    before, count = dump(rmbot.engine), loads(rmbot.engine)
    with pytest.raises(FileProblem, match=message):
        import_file(rmbot.engine, KINDS["balances"], path)
    assert dump(rmbot.engine) == before and loads(rmbot.engine) == count


def test_undecodable_byte_late_in_the_file_changes_nothing(rmbot: Harness, tmp_path: Path) -> None:
    rows = [[f"C{n:07d}", "2026-10-01", "1.00", "0", "0"] for n in range(1, 301)]
    path = write_csv(tmp_path / "balances.csv", BALANCE_HEADER, rows)
    path.write_bytes(path.read_bytes() + "C0000301,2026-10-01,1.00,0,0,备注\n".encode("gbk"))
    before = dump(rmbot.engine)
    with pytest.raises(FileProblem, match="无法按 utf-8 解码"):
        import_file(rmbot.engine, KINDS["balances"], path, encoding="utf-8")
    assert dump(rmbot.engine) == before


def test_declared_encoding_must_be_known(rmbot: Harness, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "balances.csv", BALANCE_HEADER, [GOOD_BALANCE])
    with pytest.raises(FileProblem, match="不支持的编码"):
        import_file(rmbot.engine, KINDS["balances"], path, encoding="latin-9")
