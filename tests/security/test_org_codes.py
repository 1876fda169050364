"""Org codes are checked at import (issue 13 item 1): a 机构号 is upper-case ASCII letters, digits
and `-`, so `SB_1` (a LIKE wildcard), `%`, `\\`, `/` (the path separator) and spaces are refused
row by row with a Chinese reason, in the org file and wherever a file names an org. Full-width
and lower-case spellings still fold to the valid code, as before."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import Session

from bot.imports import KINDS, ErrorReport, import_file, read_report
from bot.imports.fields import FieldError, org_code
from bot.store.models import Org, Staff
from bot.store.seed import _Generator
from bot.testing import DEMO_DATA_DATE, Harness
from rules.policy import default_policy
from tests.imports.helpers import SAMPLES, write_csv

ORG_HEADER = ["id", "name", "level", "parent_id"]
STAFF_HEADER = ["id", "name", "role", "org_id", "active"]
REASON = "机构号只能包含大写英文字母、数字和 -"


def imported(h: Harness, tmp_path: Path, kind: str, header: list[str], rows: list[list[str]]):
    path = write_csv(tmp_path / f"{kind}.csv", header, rows)
    report = ErrorReport(tmp_path / f"{kind}_errors.csv")
    result = import_file(h.engine, KINDS[kind], path, report=report)
    report.close()
    return result, (read_report(report.path) if report.path.exists() else [])


def test_the_issues_org_and_staff_are_refused_with_a_reason_per_row(bank: Harness, tmp_path: Path) -> None:
    result, errors = imported(bank, tmp_path, "org", ORG_HEADER, [
        ["SB_1", "新区支行", "sub_branch", "BR01"],
        ["SB%1", "百分支行", "sub_branch", "BR01"],
        ["SB\\1", "斜杠支行", "sub_branch", "BR01"],
        ["SB01/X", "路径支行", "sub_branch", "BR01"],
        ["SB 9", "空格支行", "sub_branch", "BR01"],
        ["ｓｂ９０", "全角支行", "sub_branch", "BR01"],  # folds to SB90: valid
        ["sb91", "小写支行", "sub_branch", "br01"],  # folds to SB91 under BR01: valid
        ["OU_1", "网点", "outlet", "SB_1"],
    ])
    by_row = {e.row: e for e in errors}
    assert set(by_row) == {2, 3, 4, 5, 6, 9}, errors
    for row in (2, 3, 4, 5, 6):
        assert by_row[row].column == "id" and REASON in by_row[row].reason, by_row[row]
    assert by_row[2].value == "SB_1"
    assert result.rejected == 6 and result.inserted == 2
    _, staff_errors = imported(bank, tmp_path, "staff", STAFF_HEADER, [["BM_X", "赵新", "branch_manager", "SB_1", "是"]])
    assert [(e.row, e.column, e.value) for e in staff_errors] == [(2, "org_id", "SB_1")]
    assert REASON in staff_errors[0].reason
    with Session(bank.engine) as s:
        ids = set(s.execute(select(Org.id)).scalars())
        assert {"SB90", "SB91"} <= ids and not {i for i in ids if not i.replace("-", "").isalnum()}
        assert s.get(Org, "SB91").path == "/BR01/SB91/"  # type: ignore[union-attr]
        assert s.get(Staff, "BM_X") is None


@pytest.mark.parametrize("raw", ["SB_1", "SB%", "A\\B", "A/B", "Ａ＿Ｂ", "É1", "-", "_"])
def test_org_code_parser_refuses(raw: str) -> None:
    with pytest.raises(FieldError, match=REASON):
        org_code()(raw)


def test_demo_seed_and_samples_use_valid_codes() -> None:
    parse = org_code()
    # at bank scale too (a million customers: 55 支行)
    seeded = [str(row[0]) for n in (400, 1_000_000)
              for row in _Generator(default_policy(), n, 7, DEMO_DATA_DATE).orgs()]
    sample = [line.split(",")[0] for line in (SAMPLES / "org_20261120.csv").read_text("utf-8").splitlines()[1:]]
    for code in seeded + sample:
        assert parse(code) == code
