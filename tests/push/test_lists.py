"""The SQL lists agree with the pure rules, on SQLite and PostgreSQL."""

from datetime import date

from sqlalchemy import select
from sqlmodel import Session

from bot.calendar_data import load_calendar
from bot.clock import month_start
from bot.store.models import AumMonthly, Balance
from bot.store.push_lists import churn_rows, downgrade_rows, maturing_rows
from bot.testing import DEMO_DATA_DATE, Harness
from rules.churn import churn_level
from rules.maturity import maturity_window
from rules.policy import default_policy
from rules.tiering import MonthAum, TierInput, classify_tier

P = default_policy()
CAL = load_calendar()


def test_window_covers_weekends_and_holiday_breaks() -> None:
    assert maturity_window(date(2026, 11, 23), CAL, 7).end == date(2026, 11, 30)  # Monday: plain 7 days
    assert maturity_window(date(2026, 11, 27), CAL, 7).end == date(2026, 12, 6)  # Friday: next push is Monday
    # last push before the National Day break covers the whole break
    assert maturity_window(date(2026, 9, 30), CAL, 7).end == date(2026, 10, 14)
    # Saturday 2026-10-10 is a 调休 working day: the Friday before looks only to Saturday + 6
    assert maturity_window(date(2026, 10, 9), CAL, 7).end == date(2026, 10, 16)


def _expected_churn(session: Session) -> dict[str, str]:
    current = month_start(DEMO_DATA_DATE)
    months: dict[str, list[tuple[date, int]]] = {}
    for cid, month, end in session.execute(select(AumMonthly.customer_id, AumMonthly.month, AumMonthly.month_end_fen)
                                           .where(AumMonthly.month < current)):
        months.setdefault(cid, []).append((month, end))
    out = {}
    for cid, aum in session.execute(select(Balance.customer_id, Balance.aum_fen).where(Balance.as_of == DEMO_DATA_DATE)):
        ends = [e for _, e in sorted(months.get(cid, []), reverse=True)]
        level = churn_level(aum, ends, P.churn).level
        if level != "none":
            out[cid] = level
    return out


def _check_churn_matches_rule(h: Harness) -> None:
    with Session(h.engine) as s:
        sql = {r.customer_id: r.level for r in churn_rows(s, P, DEMO_DATA_DATE, exclude_handled=False)}
        assert sql == _expected_churn(s)
        assert {"C0000003": "warning", "C0000004": "watch"}.items() <= sql.items()


def test_churn_sql_equals_rule_on_sqlite(rmbot: Harness) -> None:
    _check_churn_matches_rule(rmbot)


def test_churn_sql_equals_rule_on_postgres(rmbot_pg: Harness) -> None:
    _check_churn_matches_rule(rmbot_pg)


def test_downgrade_sql_equals_rule(rmbot: Harness, rmbot_pg: Harness) -> None:
    for h in (rmbot, rmbot_pg):
        with Session(h.engine) as s:
            sql = {r.customer_id: r.months_below for r in downgrade_rows(s, P, DEMO_DATA_DATE)}
            from bot.store.models import Customer

            expected = {}
            current = month_start(DEMO_DATA_DATE)
            for c in s.execute(select(Customer).where(Customer.kind == "individual")).scalars():
                ms = s.execute(select(AumMonthly).where(AumMonthly.customer_id == c.id, AumMonthly.month < current)
                               .order_by(AumMonthly.month.desc())).scalars().all()
                res = classify_tier(TierInput(c.tier, None, None, [MonthAum(m.month, m.avg_daily_fen, m.month_end_fen) for m in ms]), P.tiers)
                row = P.tiers.row(c.tier or "")
                if row and ms and ms[0].avg_daily_fen < row.min_fen:
                    expected[c.id] = res.downgrade_risk.months_below if res.downgrade_risk else P.tiers.downgrade_months
            assert sql == expected
            assert sql["C0000006"] == 2


def test_maturing_rows_are_ordered_and_identical_on_both_databases(rmbot: Harness, rmbot_pg: Harness) -> None:
    start, end = date(2026, 11, 23), date(2026, 12, 23)
    lists = []
    for h in (rmbot, rmbot_pg):
        with Session(h.engine) as s:
            rows = list(maturing_rows(s, P, start, end))
        lists.append([(r.branch_id, r.rm_id, r.customer_id, r.amount_fen, r.maturity_date) for r in rows])
        assert rows and all(start <= r.maturity_date <= end and r.kind in P.maturity.kinds for r in rows)
        # Per RM, what matures today (the window's first day) first, then largest first (issue 15).
        keys = [(r.branch_id, r.rm_id, r.maturity_date > start, -r.amount_fen) for r in rows]
        assert keys == sorted(keys)
    assert lists[0] == lists[1]


def test_handled_check_searches_the_ref_index_at_bank_scale(rmbot: Harness) -> None:
    """Most contacts are visit notes without a ref. With statistics like a 1M-customer bank's
    (836,652 contacts, none with a ref), SQLite must still answer "already handled?" from the ref
    index: with a full index its statistics said one ref matched every contact, the planner scanned
    contact once per maturing holding and the list never finished (migration 0007)."""
    import sqlite3

    from sqlalchemy import event, text

    with rmbot.engine.begin() as conn:
        conn.execute(text("UPDATE contact SET ref = NULL"))
        conn.execute(text("ANALYZE"))
        conn.execute(text("UPDATE sqlite_stat1 SET stat = '836652' || substr(stat, instr(stat || ' ', ' ')) "
                          "WHERE tbl = 'contact'"))
        conn.execute(text("UPDATE sqlite_stat1 SET stat = '836652 836652' WHERE idx = 'ix_contact_ref'"))
    seen: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if "contact" in statement and "holding" in statement:
            seen.append((statement, parameters))

    policy = default_policy()
    w = maturity_window(date(2026, 11, 23), load_calendar(), policy.maturity.window_days)
    event.listen(rmbot.engine, "before_cursor_execute", capture)
    try:
        with Session(rmbot.engine) as s:
            list(maturing_rows(s, policy, w.start, w.end))
    finally:
        event.remove(rmbot.engine, "before_cursor_execute", capture)
    statement, parameters = seen[0]
    fresh = sqlite3.connect(str(rmbot.engine.url.database))  # loads the edited statistics
    try:
        plan = " | ".join(str(row[-1]) for row in fresh.execute("EXPLAIN QUERY PLAN " + statement, parameters))
    finally:
        fresh.close()
    assert "SEARCH contact USING" in plan and "ix_contact_ref" in plan, plan
    assert "SCAN contact" not in plan, plan
