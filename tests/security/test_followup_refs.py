"""Issue 13 item 8: a follow-up click names a customer and an item (ref); the item must be that
customer's and the customer in the clicker's scope, else nothing is recorded, the clicker gets a
Chinese answer and the refusal is audited. `retained|C0000001|maturing:35` by RM001 used to mark
C0000015's maturity (another branch) 已承接, dropping it from pushes and inflating 承接率."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from bot.store.models import AuditLog, Contact, Holding
from bot.store.push_lists import maturing_rows
from bot.testing import DEMO_DATA_DATE, Harness
from rules.policy import default_policy


def contacts(h: Harness) -> int:
    with Session(h.engine) as s:
        return int(s.execute(select(func.count()).select_from(Contact).where(Contact.channel == "chat")).scalar_one())


def holding_of(h: Harness, customer_id: str) -> int:
    with Session(h.engine) as s:
        return int(s.execute(select(func.min(Holding.id)).where(Holding.customer_id == customer_id)).scalar_one())


def test_the_issues_click_marks_nothing(bank: Harness) -> None:
    with Session(bank.engine) as s:
        assert s.get(Holding, 35).customer_id == "C0000015"  # type: ignore[union-attr]
    before = contacts(bank)
    answer = bank.click("RM001", "followup", "retained|C0000001|maturing:35")
    assert answer.reply.kind != "info" and "按钮数据与客户不符" in answer.text and "未记录" in answer.text
    assert contacts(bank) == before
    with Session(bank.engine) as s:
        entry = s.execute(select(AuditLog).where(AuditLog.action == "followup", AuditLog.outcome == "denied")
                          .order_by(AuditLog.id.desc())).scalars().first()
        assert entry is not None and (entry.staff_id, entry.target) == ("RM001", "C0000001")
        assert "maturing:35" in (entry.detail or "")
        # C0000015's maturity is still open for its own branch's push
        start = DEMO_DATA_DATE
        listed = {r.holding_id for r in maturing_rows(s, default_policy(), start, start.replace(year=start.year + 5))}
        assert 35 in listed


@pytest.mark.parametrize("ref", [
    "churn:C0000015:warning", "downgrade:C0000015:2", "tier:C0000015", "tier:C0000002",  # another customer's
    "x", "maturing:H1", "maturing:", "maturing:-1", "maturing:99999999", "tier:", "churn:C0000001:bogus",  # no such item
    "", "tier:C0000001:extra",
])
def test_refs_not_of_the_named_customer_are_refused(bank: Harness, ref: str) -> None:
    before = contacts(bank)
    answer = bank.click("RM001", "followup", f"contacted|C0000001|{ref}")
    assert "按钮数据与客户不符" in answer.text, (ref, answer.text)
    assert contacts(bank) == before


def test_own_items_are_recorded_and_out_of_scope_customers_refused(bank: Harness) -> None:
    own = holding_of(bank, "C0000001")
    for ref in (f"maturing:{own}", "churn:C0000001:warning", "downgrade:C0000001:1", "tier:C0000001"):
        before = contacts(bank)
        answer = bank.click("RM001", "followup", f"contacted|C0000001|{ref}")
        assert answer.reply.kind == "info" and "已记录跟进" in answer.text, (ref, answer.text)
        assert contacts(bank) == before + 1
    with Session(bank.engine) as s:
        refs = set(s.execute(select(Contact.ref).where(Contact.staff_id == "RM001", Contact.channel == "chat")).scalars())
        assert f"maturing:{own}" in refs
    # the customer's own ref, but the customer is another branch's: refused as before, nothing written
    before = contacts(bank)
    other = bank.click("RM001", "followup", "retained|C0000015|maturing:35")
    assert "无权查看" in other.text and contacts(bank) == before
    # the branch manager above C0000015 may record it
    assert bank.click("BM02", "followup", "retained|C0000015|maturing:35").reply.kind == "info"
    assert contacts(bank) == before + 1
