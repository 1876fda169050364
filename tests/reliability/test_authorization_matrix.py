"""Every staff member × every showcase customer × every channel: no leak, masking in groups."""

import re

import pytest
from sqlalchemy import select
from sqlmodel import Session

from bot.store.models import Customer, Org, Staff
from bot.store.seed import SHOWCASES
from bot.testing import Harness

CUSTOMERS = [f"C{n:07d}" for n in range(1, len(SHOWCASES) + 1)]


def expected_visible(h: Harness) -> dict[tuple[str, str], bool]:
    """Computed independently of bot.core.access: from the org tree as the bank defines it."""
    with Session(h.engine) as s:
        staff = {st.id: st for st in s.execute(select(Staff)).scalars()}
        orgs = {o.id: o for o in s.execute(select(Org)).scalars()}
        customers = {c.id: c for c in s.execute(select(Customer).where(Customer.id.in_(CUSTOMERS))).scalars()}

    def ancestors(org_id: str | None) -> set[str]:
        out = set()
        while org_id:
            out.add(org_id)
            org_id = orgs[org_id].parent_id
        return out

    result = {}
    for sid in ["RM001", "RM002", "BM01", "BM02", "REG01"]:
        for cid, c in customers.items():
            member = staff[sid]
            if member.role == "rm":
                ok = c.rm_id == sid
            else:
                ok = member.org_id in ancestors(c.org_id)
            result[(sid, cid)] = ok
    return result


def test_tier_visibility_matrix(rmbot: Harness) -> None:
    expected = expected_visible(rmbot)
    assert any(expected.values()) and not all(expected.values())
    for (sid, cid), ok in expected.items():
        for channel in ("dm", "group"):
            reply = rmbot.ask(sid, f"/tier {cid}", channel=channel).reply  # type: ignore[arg-type]
            assert (reply.kind == "info") == ok, (sid, cid, channel)
            if not ok:
                assert "无权查看" in (reply.summary or "") and cid in (reply.summary or "")


def test_buttons_recheck_visibility(rmbot: Harness) -> None:
    expected = expected_visible(rmbot)
    for (sid, cid), ok in expected.items():
        reply = rmbot.click(sid, "followup", f"contacted|{cid}|tier:{cid}").reply
        assert (reply.kind == "info") == ok, (sid, cid)


@pytest.mark.parametrize("command", ["/tier C0000001", "/tier C0000003", "/maturing 30", "/churn"])
@pytest.mark.parametrize("staff", ["RM001", "BM01", "REG01"])
def test_group_replies_never_show_names_phones_or_exact_balances(rmbot: Harness, command: str, staff: str) -> None:
    dm = rmbot.ask(staff, command)
    group = rmbot.ask(staff, command, channel="group")
    assert group.reply.masked
    with Session(rmbot.engine) as s:
        people = {c.id: c for c in s.execute(select(Customer)).scalars()}
    shown = set(re.findall(r"C\d{7}", group.text))
    assert shown, group.text
    for cid in shown:
        c = people[cid]
        if len(c.name) > 1:
            assert c.name not in group.text, (cid, c.name)
        if c.phone:
            assert c.phone not in group.text
        if c.id_no:
            assert c.id_no not in group.text
    # exact balances like 32.36万 appear only in private replies
    exact = set(re.findall(r"\d+\.\d{2}万", dm.text))
    assert not exact & set(re.findall(r"\d+\.\d{2}万", group.text))


def test_list_commands_stay_in_scope(rmbot: Harness) -> None:
    with Session(rmbot.engine) as s:
        owner = dict(s.execute(select(Customer.id, Customer.rm_id)).all())
        branch_of = {c.id: c.org_id for c in s.execute(select(Customer)).scalars()}
        orgs = {o.id: o for o in s.execute(select(Org)).scalars()}
    for cmd in ["/maturing 90", "/churn"]:
        rm = rmbot.ask("RM001", cmd).text
        assert all(owner[cid] == "RM001" for cid in re.findall(r"C\d{7}", rm)), cmd
        bm = rmbot.ask("BM02", cmd).text
        assert all(orgs[branch_of[cid]].path.startswith("/BR01/SB02/") for cid in re.findall(r"C\d{7}", bm)), cmd
