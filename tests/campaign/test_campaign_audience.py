"""Audiences on the seeded bank equal what the rules say, computed here customer by customer.

The expected sets are built in Python from plain reads and the pure rules (`classify_behaviour`
for 沉睡, a birthday from the ID number for ages), independently of the SQL under test.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import select
from sqlmodel import Session

from bot.campaigns.catalogue import AudienceSpec, load_catalogue
from bot.clock import add_months, month_start
from bot.store.campaigns import audience_counts, audience_rows, audience_select
from bot.store.models import (
    AumMonthly,
    Balance,
    Contact,
    CorporateMonthly,
    Customer,
    Org,
)
from bot.testing import DEMO_DATA_DATE, DEMO_NOW, Harness
from rules.behaviour import DORMANT, BehaviourInput, classify_behaviour
from rules.policy import default_policy

P = default_policy()
CATALOGUE = load_catalogue()
TODAY = DEMO_NOW.date()
SB01 = "/BR01/SB01/"


def _branch_customers(s: Session, path: str = SB01) -> dict[str, Customer]:
    rows = s.execute(select(Customer).join(Org, Org.id == Customer.org_id).where(Org.path.startswith(path))).scalars()
    return {c.id: c for c in rows}


def _expected_dormant(s: Session, customers: dict[str, Customer]) -> set[str]:
    """What /tier would say, customer by customer (same inputs as commands/tier.py)."""
    current = month_start(DEMO_DATA_DATE)
    back = max(1, round(P.behaviour.dormant_outflow_days / 30))
    ends: dict[str, dict[date, int]] = {}
    for cid, month, end in s.execute(select(AumMonthly.customer_id, AumMonthly.month, AumMonthly.month_end_fen)):
        ends.setdefault(cid, {})[month] = end
    points = dict(s.execute(select(Balance.customer_id, Balance.aum_fen).where(Balance.as_of == DEMO_DATA_DATE)).all())
    last: dict[str, date] = {}
    for cid, at in s.execute(select(Contact.customer_id, Contact.at)):
        last[cid] = max(last.get(cid, at.date()), at.date())
    out = set()
    for cid, c in customers.items():
        if c.kind != "individual" or cid not in points:
            continue
        before = ends.get(cid, {}).get(add_months(current, -back))
        result = classify_behaviour(BehaviourInput(TODAY, points[cid], before, last.get(cid), 0, 1), P.behaviour)
        if result.status == DORMANT:
            out.add(cid)
    return out


def _age(id_no: str) -> int:
    born = date(int(id_no[6:10]), int(id_no[10:12]), int(id_no[12:14]))
    return TODAY.year - born.year - ((TODAY.month, TODAY.day) < (born.month, born.day))


def _days_to_birthday(id_no: str) -> int:
    month, day = int(id_no[10:12]), int(id_no[12:14])
    nxt = date(TODAY.year, month, day)
    if nxt < TODAY:
        nxt = date(TODAY.year + 1, month, day)
    return (nxt - TODAY).days


def _sql(s: Session, spec: AudienceSpec, path: str = SB01) -> tuple[set[str], list[tuple[str, str, int]], int]:
    stmt = audience_select(spec, P, path, TODAY, DEMO_DATA_DATE)
    counts = audience_counts(s, stmt)
    rows = list(audience_rows(s, stmt))
    assert len(rows) == counts.total == len({r.customer_id for r in rows})
    return {r.customer_id for r in rows}, counts.per_rm, counts.total


def _per_rm(customers: dict[str, Customer], ids: set[str]) -> Counter[str]:
    return Counter(customers[c].rm_id for c in ids)


def _check_dormant(h: Harness) -> None:
    with Session(h.engine) as s:
        customers = _branch_customers(s)
        expected = _expected_dormant(s, customers)
        got, per_rm, total = _sql(s, CATALOGUE.kinds["dormant"].audience)
    assert got == expected and total == len(expected) > 0
    assert "C0000005" in got  # the showcase 沉睡客户 of RM001
    assert {rm: n for rm, _name, n in per_rm} == _per_rm(customers, expected)


def test_dormant_audience_is_exactly_the_behaviour_rule(rmbot: Harness) -> None:
    _check_dormant(rmbot)


def test_dormant_audience_on_postgres(rmbot_pg: Harness) -> None:
    _check_dormant(rmbot_pg)


def test_tier_age_birthday_corporate_and_inflow_audiences(rmbot: Harness) -> None:
    with Session(rmbot.engine) as s:
        customers = _branch_customers(s)
        people = {cid: c for cid, c in customers.items() if c.kind == "individual" and c.id_no and len(c.id_no) == 18}
        expected = {
            "vip": {cid for cid, c in people.items() if c.tier in ("私人银行客户", "贵宾客户")},
            "silver": {cid for cid, c in people.items() if _age(c.id_no or "") >= 60},
            "youth": {cid for cid, c in people.items() if 18 <= _age(c.id_no or "") <= 35},
            "care": {cid for cid, c in people.items() if _days_to_birthday(c.id_no or "") < 30},
        }
        latest: dict[str, CorporateMonthly] = {}
        for row in s.execute(select(CorporateMonthly)).scalars():
            if row.customer_id not in latest or row.month > latest[row.customer_id].month:
                latest[row.customer_id] = row
        corporate = {cid for cid, c in customers.items() if c.kind == "corporate"}
        expected["payroll"] = {cid for cid in corporate if cid in latest and latest[cid].payroll_headcount > 0}
        expected["merchant"] = {cid for cid in corporate if cid in latest and latest[cid].pos_settlement_fen > 0}
        last_end = dict(s.execute(select(AumMonthly.customer_id, AumMonthly.month_end_fen)
                                  .where(AumMonthly.month == add_months(month_start(DEMO_DATA_DATE), -1))).all())
        points = dict(s.execute(select(Balance.customer_id, Balance.aum_fen).where(Balance.as_of == DEMO_DATA_DATE)).all())
        expected["relocation"] = {cid for cid in people if cid in points and cid in last_end
                                  and points[cid] - last_end[cid] >= 10_000_000 and points[cid] * 10 >= last_end[cid] * 13}
        for kind_id, want in expected.items():
            got, per_rm, _total = _sql(s, CATALOGUE.kinds[kind_id].audience)
            assert got == want, kind_id
            assert {rm: n for rm, _name, n in per_rm} == _per_rm(customers, want), kind_id
        for kind_id in ("vip", "silver", "youth", "care", "payroll", "merchant"):
            assert expected[kind_id], f"the demo bank should show a {kind_id} audience"
        festival, _, _ = _sql(s, CATALOGUE.kinds["care"].audience_with_festival)  # type: ignore[arg-type]
        assert festival == {cid for cid, c in people.items() if c.tier in ("私人银行客户", "贵宾客户", "潜力客户")}


def test_audience_stays_in_the_branch_and_labels_say_why(rmbot: Harness) -> None:
    with Session(rmbot.engine) as s:
        sb02 = _branch_customers(s, "/BR01/SB02/")
        got, _, _ = _sql(s, CATALOGUE.kinds["vip"].audience, "/BR01/SB02/")
        assert got <= set(sb02) and "C0000015" in got  # the showcase VIP of another branch
        rows = list(audience_rows(s, audience_select(CATALOGUE.kinds["care"].audience, P, SB01, TODAY, DEMO_DATA_DATE)))
        assert rows and all(r.label.startswith("生日 ") and len(r.label) == 8 for r in rows)
        payroll = list(audience_rows(s, audience_select(CATALOGUE.kinds["payroll"].audience, P, SB01, TODAY, DEMO_DATA_DATE)))
        assert all(r.label.startswith("代发 ") and r.label.endswith(" 人") for r in payroll)


def test_draft_reply_shows_counts_per_rm_and_tier(rmbot: Harness) -> None:
    with Session(rmbot.engine) as s:
        customers = _branch_customers(s)
        expected = _expected_dormant(s, customers)
    answer = rmbot.ask("RM001", "/campaign 沉睡激活 日期=2026-12-05 地点=西湖支行三楼")
    assert f"受众规模：{len(expected)} 位客户" in answer
    tiers = Counter(customers[c].tier for c in expected)
    for tier, n in tiers.items():
        assert f"{tier} {n}" in answer.text
    table = next(t for t in answer.reply.tables if t.title == "按客户经理")
    assert {row[0].split("（")[1].rstrip("）"): int(row[1]) for row in table.rows} == _per_rm(customers, expected)
