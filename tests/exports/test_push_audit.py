"""Issue 13 item 4, pushes: a daily push discloses customers to a branch channel, so it is
audited like an export — which customers, to which destination — in the same transaction that
queues it, before any delivery can happen. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from pathlib import Path

from sqlalchemy import select
from sqlmodel import Session

from bot.calendar_data import load_calendar
from bot.clock import SHANGHAI
from bot.push.service import PushService
from bot.store.models import AuditLog, Outbox, PushDestination
from bot.testing import Harness, add_file_destinations
from rules.policy import default_policy
from tests.exports.test_export_audit import _ids

MONDAY = date(2026, 11, 23)


def test_a_push_is_audited_with_every_customer_it_names(bank: Harness, tmp_path: Path) -> None:
    add_file_destinations(bank.engine, tmp_path / "out")
    with Session(bank.engine) as s:  # a robot destination too: its webhook key is never logged
        s.add(PushDestination(org_id="SB01", platform="wecom_robot", target="secret-robot-key-123"))
        s.commit()
    service = PushService(bank.engine, default_policy(), load_calendar())
    now = datetime.combine(MONDAY, time(8, 30), SHANGHAI)
    result = service.build("maturing", MONDAY, now=now)
    assert sum(b.enqueued for b in result.branches) > 0
    with Session(bank.engine) as s:
        audits = list(s.execute(select(AuditLog).where(AuditLog.action == "push").order_by(AuditLog.id)).scalars())
        queued = list(s.execute(select(Outbox).where(Outbox.kind == "maturing")).scalars())
    by_dest: dict[tuple[str, str], set[str]] = {}
    for row in queued:
        by_dest.setdefault((row.org_id, row.platform), set()).update(re.findall(r"（(C\d{7})）", row.payload))
    assert {(a.target, a.platform) for a in audits} == {(f"push:maturing:{o}", p) for o, p in by_dest}
    for a in audits:
        org = (a.target or "").rsplit(":", 1)[1]
        named = _ids(a.detail)
        assert set(named) == by_dest[(org, a.platform)] and len(named) == len(set(named)) > 0
        assert a.channel_kind == "group" and (a.user_ref or "").startswith("push:")
    assert not any("secret-robot-key-123" in f"{a.detail}{a.channel_id}" for a in audits)
    again = service.build("maturing", MONDAY, now=now)
    assert sum(b.enqueued for b in again.branches) == 0
    with Session(bank.engine) as s:
        assert len(list(s.execute(select(AuditLog.id).where(AuditLog.action == "push")))) == len(audits)
