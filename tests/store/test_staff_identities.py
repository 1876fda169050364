"""Identities at scale (issue 16 item 4), on SQLite and PostgreSQL: a staff extract with chat
account columns links them on import, audited; WeCom userids may default to the 工号; a staff
member set inactive is refused at their very next message (before: up to 30 s per replica)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlmodel import Session

from bot.core.request import Request
from bot.imports import KINDS, import_file
from bot.render.text import render_text
from bot.store.models import AuditLog, ChatIdentity, Staff
from bot.store.staff import link_identity
from bot.testing import Harness
from tests.imports.helpers import write_csv

HEADER = ["员工号", "姓名", "角色", "所属机构", "在职", "邮箱", "Slack成员ID", "企业微信账号"]


@pytest.fixture(params=["sqlite", "postgresql"])
def bank(request: pytest.FixtureRequest) -> Harness:
    return request.getfixturevalue("rmbot" if request.param == "sqlite" else "rmbot_pg")


def links(h: Harness) -> dict[tuple[str, str], str]:
    with Session(h.engine) as s:
        return {(r.platform, r.external_id): r.staff_id for r in s.execute(select(ChatIdentity)).scalars()}


def audits(h: Harness, action: str) -> list[AuditLog]:
    with Session(h.engine) as s:
        return list(s.execute(select(AuditLog).where(AuditLog.action == action)).scalars())


def staff_row(h: Harness, staff_id: str) -> Staff:
    with Session(h.engine) as s:
        row = s.get(Staff, staff_id)
        assert row is not None
        return row


def test_staff_extract_links_its_chat_accounts_audited_once(bank: Harness, tmp_path: Path) -> None:
    rm1, rm2 = staff_row(bank, "RM001"), staff_row(bank, "RM002")
    path = write_csv(tmp_path / "staff.csv", HEADER, [
        ["RM001", rm1.name, "rm", rm1.org_id, "是", "WangFang@Bank.Example", "u04abcdef", "WangFang"],
        ["RM002", rm2.name, "rm", rm2.org_id, "是", "", "", ""],
        ["RM003", "坏数据", "rm", rm1.org_id, "是", "not-an-email", "X1", "a b"]])
    result = import_file(bank.engine, KINDS["staff"], path, wecom_userid_from_staff_id=False)
    assert result.rejected == 1 and result.links == 2, (result.errors, result.link_problems)
    assert {e.column for e in result.errors} >= {"email"}
    assert links(bank) == {("slack", "U04ABCDEF"): "RM001", ("wecom", "wangfang"): "RM001"}
    assert staff_row(bank, "RM001").email == "wangfang@bank.example"
    made = audits(bank, "staff_link")
    assert sorted(a.target or "" for a in made) == ["slack:U04ABCDEF", "wecom:wangfang"]
    again = import_file(bank.engine, KINDS["staff"], path, wecom_userid_from_staff_id=False)
    assert again.links == 0 and len(audits(bank, "staff_link")) == 2  # nightly reimport: no new rows


def test_wecom_userid_defaults_to_the_staff_id_by_setting(bank: Harness, tmp_path: Path) -> None:
    rm1 = staff_row(bank, "RM001")
    path = write_csv(tmp_path / "staff.csv", HEADER[:5], [["RM001", rm1.name, "rm", rm1.org_id, "是"]])
    assert import_file(bank.engine, KINDS["staff"], path, wecom_userid_from_staff_id=False).links == 0
    assert import_file(bank.engine, KINDS["staff"], path, wecom_userid_from_staff_id=True).links == 1
    assert links(bank) == {("wecom", "rm001"): "RM001"}
    assert [a.target for a in audits(bank, "staff_link")] == ["wecom:rm001"]


def ask_as_wecom(h: Harness, user: str, text: str) -> str:
    return render_text(h.bot.handle(Request(text=text, platform="wecom", user_id=user)))


def test_deactivated_staff_is_refused_at_the_next_message(bank: Harness, tmp_path: Path) -> None:
    with Session(bank.engine) as s:
        link_identity(s, "wecom", "wangfang", "RM001")
        s.commit()
    assert "C0000001" in ask_as_wecom(bank, "wangfang", "/tier C0000001")  # looked up (and, before, cached)
    rm1 = staff_row(bank, "RM001")
    path = write_csv(tmp_path / "staff.csv", HEADER[:5], [["RM001", rm1.name, "rm", rm1.org_id, "否"]])
    assert import_file(bank.engine, KINDS["staff"], path).accepted == 1
    refused = ask_as_wecom(bank, "wangfang", "/tier C0000001")
    assert "尚未关联员工信息" in refused and "C0000001" not in refused
    with bank.engine.begin() as conn:  # back in service: access again, at once
        conn.execute(update(Staff).where(Staff.id == "RM001").values(active=True))
    assert "尚未关联员工信息" not in ask_as_wecom(bank, "wangfang", "/tier C0000001")
