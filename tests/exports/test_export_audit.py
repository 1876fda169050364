"""Issue 13 item 4: every disclosure of customer data is audited — who, what, where and exactly
which customers, in full — before the data leaves; identity changes and refused campaign steps
leave a row too. Each reproduction on SQLite and PostgreSQL.

Reproductions: `rmbot export customers` wrote no audit row; `rmbot campaign export … --out - |
head` delivered rows with no audit row (it was written after the file, so never); `rmbot staff
link slack U0ATTACKER REG01` was not audited; refused submit/edit steps left no row; a list's
detail was cut at 500 characters (those two: test_identity_and_list_audit.py).
"""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlmodel import Session

from bot.exports.cells import TRIGGERS
from bot.imports import KINDS, export_kind
from bot.store.models import AuditLog
from bot.testing import Harness
from tests.exports.conftest import ROOT, url_of

DORMANT = "/campaign 沉睡激活 日期=2026-12-05 地点=西湖支行三楼 时间=14:00"


def _rows(h: Harness, action: str) -> list[AuditLog]:
    with Session(h.engine) as s:
        return list(s.execute(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)).scalars())


def _ids(detail: str | None) -> list[str]:
    """The customer numbers an entry names (bot.exports.audit.customer_list)."""
    assert detail is not None
    m = re.search(r"(\d+) customers: (.*)$", detail)
    assert m, detail
    ids = m.group(2).split(",") if m.group(2) else []
    assert len(ids) == int(m.group(1))
    return ids


def _env(h: Harness) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": url_of(h.engine), "RMBOT_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}


def _rmbot(h: Harness, *args: str) -> list[str]:
    return [sys.executable, "-m", "bot.cli", *args]


def test_export_is_audited_with_every_customer_before_the_first_byte(bank: Harness, tmp_path: Path) -> None:
    with bank.engine.connect() as conn:
        everyone = [r[0] for r in conn.execute(text("SELECT id FROM customer ORDER BY id"))]
    proc = subprocess.Popen(_rmbot(bank, "export", "customers", "--out", "-"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=_env(bank), cwd=tmp_path)
    assert proc.stdout is not None
    first = proc.stdout.readline()  # the header: nothing has left before it
    entries = _rows(bank, "export")  # read while the export may still be writing
    rest = proc.stdout.read()
    assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    assert first.startswith(b"id,kind,name")
    assert len(entries) == 1, "the audit row is committed before the first byte is written"
    entry = entries[0]
    assert (entry.outcome, entry.target, entry.platform, entry.channel_kind) == ("allowed", "export:customers:csv",
                                                                                 "cli", "cli")
    assert entry.user_ref and entry.detail and entry.detail.startswith("to=stdout; columns=id,kind,name,phone,id_no")
    assert _ids(entry.detail) == everyone  # all 400, in full (the old cut was 500 characters)
    written = [r[0] for r in csv.reader(io.StringIO((first + rest).decode("utf-8")))][1:]
    assert written == everyone


def test_a_dated_file_export_names_exactly_its_customers(bank: Harness, tmp_path: Path) -> None:
    with bank.engine.connect() as conn:
        day = conn.execute(text("SELECT max(as_of) FROM balance")).scalar_one()
    out = tmp_path / "b.xlsx"
    from datetime import date
    day = day if isinstance(day, date) else date.fromisoformat(str(day))
    count = export_kind(bank.engine, KINDS["balances"], out, day=day)
    entry = _rows(bank, "export")[-1]
    with bank.engine.connect() as conn:
        expected = [r[0] for r in conn.execute(text("SELECT DISTINCT customer_id FROM balance WHERE as_of = :d "
                                                    "ORDER BY customer_id"), {"d": day})]
    assert _ids(entry.detail) == expected and count == len(expected) > 0
    assert entry.target == "export:balances:xlsx" and f"to={out.resolve()};" in (entry.detail or "")
    staff = export_kind(bank.engine, KINDS["staff"], tmp_path / "s.csv")
    last = _rows(bank, "export")[-1]
    assert staff > 0 and last.target == "export:staff:csv" and (last.detail or "").endswith("no customer data")


def test_campaign_export_piped_to_head_was_audited_first(bank: Harness, tmp_path: Path) -> None:
    with bank.engine.begin() as conn:  # hostile text reaches the audience columns (RM name, masked name)
        conn.execute(text("UPDATE staff SET name = '=1+2' WHERE id = 'RM001'"))
        conn.execute(text("UPDATE customer SET name = '=HYPERLINK(\"http://evil.example/\",\"x\")' "
                          "WHERE rm_id = 'RM001'"))
    cmd = " ".join(_rmbot(bank, "campaign", "export", "沉睡激活", "--as", "BM01", "--out", "-")) + " | head -n 2"
    piped = subprocess.run(["sh", "-c", cmd], capture_output=True, env=_env(bank), cwd=tmp_path, timeout=60)
    assert len(piped.stdout.decode("utf-8").splitlines()) == 2
    assert b"Traceback" not in piped.stderr  # a closed pipe is a message (exit 1), never a traceback
    out = tmp_path / "full.csv"
    full = subprocess.run(_rmbot(bank, "campaign", "export", "沉睡激活", "--as", "BM01", "--out", str(out)),
                          capture_output=True, env=_env(bank), cwd=tmp_path, timeout=60)
    assert full.returncode == 0, full.stderr.decode()
    rows = list(csv.reader(out.open(encoding="utf-8-sig")))
    written = [r[0] for r in rows[1:]]
    allowed = [e for e in _rows(bank, "campaign_export") if e.outcome == "allowed"]
    assert len(allowed) == 2 and all(e.staff_id == "BM01" and e.target == "audience:dormant:SB01" for e in allowed)
    assert _ids(allowed[0].detail) == _ids(allowed[1].detail) == written and len(written) > 1
    assert allowed[0].detail.startswith("to=stdout;") and f"to={out.resolve()};" in (allowed[1].detail or "")
    assert not [c for r in rows for c in r if c[:1] in TRIGGERS]
    assert any(r[3] == "'=1+2" for r in rows[1:]) and any(r[1].startswith("'=") for r in rows[1:])


def _draft(h: Harness) -> int:
    answer = h.ask("RM001", DORMANT)
    assert answer.reply.kind != "error", answer.text
    return int(next(f.value for f in answer.reply.fields if f.label == "草稿号"))


def test_refused_campaign_steps_leave_a_row(bank: Harness) -> None:
    draft_id = _draft(bank)
    assert "只有起草人" in bank.ask("RM006", f"/campaign submit {draft_id}")
    assert "只有起草人" in bank.ask("RM006", f"/campaign edit {draft_id} 短信 你好")
    assert "已提交审批" in bank.ask("RM001", f"/campaign submit {draft_id}")
    assert "不能修改" in bank.ask("RM001", f"/campaign edit {draft_id} 短信 你好")
    assert "无需再次提交" in bank.ask("RM001", f"/campaign submit {draft_id}")
    assert "只能为本支行" in bank.ask("RM001", "/campaign 银发 日期=12月5日 地点=三楼 支行=SB02")
    with Session(bank.engine) as s:
        denied = [(a.staff_id, a.target, a.detail) for a in s.execute(
            select(AuditLog).where(AuditLog.outcome == "denied").order_by(AuditLog.id)).scalars()]
    target = f"campaign:{draft_id}"
    assert denied == [
        ("RM006", target, "submit refused: author is RM001"),
        ("RM006", target, "edit refused: author is RM001"),
        ("RM001", target, "edit refused: status pending"),
        ("RM001", target, "submit refused: status pending"),
        ("RM001", "branch:SB02", "draft refused: not the caller's branch SB01"),
    ]
