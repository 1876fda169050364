"""Issue 13 item 2: group-visible messages never show a customer's name, phone, ID or amount.

Every chat command (the registry's list is checked, so a new command must be added here) and
every daily push is asked for a group and rendered by every platform's renderer (console text,
Slack Block Kit, WeCom app markdown with its button cards, WeCom group-robot markdown). The output
is compared with the *database's* raw values of the customers involved: their names, phones, ID
numbers and every amount stored for them (balances, month figures, holdings, corporate figures),
as 万 to two and one decimals and as 元. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import select
from sqlmodel import Session

import commands  # noqa: F401  (registers the shipped commands)
from bot.calendar_data import load_calendar
from bot.core.registry import REGISTRY
from bot.core.reply import Reply
from bot.push.kinds import KIND_ZH
from bot.push.service import PushService
from bot.render import blockkit, wecom_markdown
from bot.render.text import render_text
from bot.store.models import AumMonthly, Balance, CorporateMonthly, Customer, Holding, Org, Staff
from bot.testing import Harness, add_file_destinations
from rules.money import fmt_wan, fmt_yuan
from rules.policy import default_policy

MONDAY = date(2026, 11, 23)
DATA_DATE = date(2026, 11, 20)

RENDERERS: dict[str, Callable[[Reply], str]] = {
    "console": render_text,
    "slack": lambda r: json.dumps(blockkit.render_messages(r), ensure_ascii=False),
    "wecom": lambda r: json.dumps([m.body for m in wecom_markdown.render_messages(r, cards=True)], ensure_ascii=False),
    "wecom_cards": lambda r: json.dumps(wecom_markdown.render_cards(r), ensure_ascii=False),
    "wecom_robot": lambda r: "\n".join(wecom_markdown.render_robot_markdown(r)),
}

# Every command, as each role would use it in a group. Keys must cover the registry.
ASKS: dict[str, list[tuple[str, str]]] = {
    "tier": [("RM001", "/tier C0000001"), ("RM001", "/tier C0000003"), ("BM01", "/tier C0000002")],
    "maturing": [("RM001", "/maturing 90"), ("BM01", "/maturing 30"), ("REG01", "/maturing 7")],
    "churn": [("RM001", "/churn"), ("BM01", "/churn"), ("REG01", "/churn")],
    "summary": [("RM001", "/summary"), ("BM01", "/summary"), ("BM01", "/summary SB01 本周"),
                ("REG01", "/summary all 本月"), ("RM001", "/summary 今日")],
    "campaign": [("RM001", "/campaign"), ("RM001", "/campaign 沉睡激活 日期=2026-12-05 地点=西湖支行三楼")],
    "approve": [("BM01", "/approve")],
    "reject": [("BM01", "/reject 1 活动时间需与网点排班核对")],
    "size": [("RM001", "/size 工业 250 3000")],
    "lint": [("RM001", "/lint 保底收益，无风险")],
    "help": [("RM001", "/help"), ("BM01", "/help")],
    "whoami": [("RM001", "/whoami")],
}
CUSTOMER_ID = re.compile(r"C\d{7}")


def test_every_registered_command_is_covered() -> None:
    assert {spec.name for spec in REGISTRY.commands()} <= set(ASKS)


class RawValues:
    """The database's raw values per customer, and the staff/org names they must not be confused with."""

    def __init__(self, h: Harness) -> None:
        self.by_customer: dict[str, set[str]] = {}
        self.amounts: dict[str, set[int]] = {}
        with Session(h.engine) as s:
            public = {n for (n,) in s.execute(select(Staff.name))} | {n for (n,) in s.execute(select(Org.name))}
            for c in s.execute(select(Customer)).scalars():
                words = {w for w in (c.name.strip(), c.phone, c.id_no) if w and len(w) >= 2 and w not in public}
                self.by_customer[c.id] = words
                self.amounts[c.id] = {v for v in (c.revenue_fen, c.assets_fen) if v}
            for table, cols in ((Balance, ("aum_fen", "deposit_fen", "outflow_other_bank_fen")),
                                (AumMonthly, ("avg_daily_fen", "month_end_fen")),
                                (Holding, ("amount_fen",)),
                                (CorporateMonthly, ("avg_deposit_fen", "point_deposit_fen", "pos_settlement_fen",
                                                    "payroll_fen", "loan_balance_fen"))):
                for row in s.execute(select(table)).scalars():
                    self.amounts[row.customer_id].update(getattr(row, col) for col in cols)
            # A summary shows sums; the sums that can be one customer's money are the maturing ones
            # (1 笔 5.22万): each holding maturing around the data date is looked for.
            self.holdings: dict[str, set[int]] = {}
            for row in s.execute(select(Holding).where(Holding.maturity_date.is_not(None))).scalars():
                if abs((row.maturity_date - DATA_DATE).days) <= 45:
                    self.holdings.setdefault(row.customer_id, set()).add(row.amount_fen)
            self.scope: dict[str, set[str]] = {}
            paths = {oid: path for oid, path in s.execute(select(Org.id, Org.path)).all()}
            staff = {st_.id: st_ for st_ in s.execute(select(Staff)).scalars()}
            owner = {c.id: (c.rm_id, paths[c.org_id]) for c in s.execute(select(Customer)).scalars()}
            for sid, member in staff.items():
                if member.role == "rm":
                    self.scope[sid] = {cid for cid, (rm, _) in owner.items() if rm == sid}
                else:
                    root = paths[member.org_id]
                    self.scope[sid] = {cid for cid, (_, p) in owner.items() if p.startswith(root)}

    def leaks(self, text: str, customers: Iterable[str], amounts: dict[str, set[int]] | None = None) -> list[str]:
        """`amounts`: the amounts to look for (default: every amount stored for the customers)."""
        text = text.replace("\u200b", "")
        found: list[str] = []
        for cid in customers:
            found += [f"{cid}: {w}" for w in self.by_customer.get(cid, ()) if w in text]
            for fen in (amounts if amounts is not None else self.amounts).get(cid, ()):
                if fen is None or abs(fen) < 1_000_000:  # under 1万: bare figures collide with lines
                    continue
                for form in (fmt_wan(abs(fen)), fmt_wan(abs(fen), 1), fmt_yuan(abs(fen))):
                    if re.search(r"(?<![\d.,])" + re.escape(form), text):
                        found.append(f"{cid}: {form}")
        return found


def _check(raw: RawValues, reply: Reply, involved: Callable[[str], Iterable[str]], where: str,
           sums: bool = False) -> None:
    """`sums`: the reply shows sums (a summary): look for names and maturing holdings only, as a
    sum over many customers may equal some customer's balance by chance."""
    assert reply.masked, where
    for name, render in RENDERERS.items():
        out = render(reply)
        leaks = raw.leaks(out, involved(out), raw.holdings if sums else None)
        assert not leaks, f"{where} on {name}: {leaks[:5]}"


def _commands_in_groups(h: Harness) -> None:
    raw = RawValues(h)
    h.ask("RM001", "/campaign 沉睡激活 日期=2026-12-05 地点=西湖支行三楼")  # a draft for /approve to show
    for name, asks in ASKS.items():
        for who, text in asks:
            reply = h.ask(who, text, channel="group").reply
            # named customers, or for a summary every customer the figures are made of
            involved = (lambda out, who=who: raw.scope[who]) if name == "summary" else \
                (lambda out: set(CUSTOMER_ID.findall(out)))
            _check(raw, reply, involved, f"{who} {text}", sums=name == "summary")
    click = h.click("RM001", "followup", "contacted|C0000001|tier:C0000001", channel="group").reply
    _check(raw, click, lambda out: {"C0000001"}, "click in a group")


def _pushes(h: Harness, tmp_path) -> None:  # type: ignore[no-untyped-def]
    raw = RawValues(h)
    add_file_destinations(h.engine, tmp_path)
    service = PushService(h.engine, default_policy(), load_calendar())
    seen = 0
    for kind in KIND_ZH:  # every push kind there is
        result = service.build(kind, MONDAY, dry_run=True)
        for push in result.previews:
            for part in push.parts:
                seen += 1
                scope = {cid for cid in raw.scope.get(next(
                    (s.mention for s in part.sections if s.mention), ""), set())}
                involved = (lambda out, scope=scope: scope | set(CUSTOMER_ID.findall(out)))
                _check(raw, part, involved, f"push {kind} {push.branch_id}", sums=kind == "summary")
    assert seen >= 6


def test_commands_in_groups_show_no_raw_customer_value(rmbot: Harness) -> None:
    _commands_in_groups(rmbot)


def test_commands_in_groups_show_no_raw_customer_value_on_postgres(rmbot_pg: Harness) -> None:
    _commands_in_groups(rmbot_pg)


def test_daily_and_weekly_pushes_show_no_raw_customer_value(rmbot: Harness, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _pushes(rmbot, tmp_path)


def test_daily_and_weekly_pushes_show_no_raw_customer_value_on_postgres(rmbot_pg: Harness, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _pushes(rmbot_pg, tmp_path)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(min_value=1, max_value=400))
def test_tier_of_any_customer_in_a_group_shows_no_raw_value(rmbot: Harness, n: int) -> None:
    raw = _raw(rmbot)
    cid = f"C{n:07d}"
    reply = rmbot.ask("REG01", f"/tier {cid}", channel="group").reply
    _check(raw, reply, lambda out: {cid}, f"/tier {cid}")


_RAW: dict[str, RawValues] = {}


def _raw(h: Harness) -> RawValues:
    """One read of the database per test (hypothesis runs the examples on the same fixture)."""
    key = str(h.engine.url)
    if key not in _RAW:
        _RAW.clear()
        _RAW[key] = RawValues(h)
    return _RAW[key]


def test_the_dm_is_not_masked(rmbot: Harness) -> None:
    """The check itself finds raw values: a DM to the RM shows them."""
    raw = RawValues(rmbot)
    for text in ("/tier C0000001", "/maturing 90", "/churn"):
        reply = rmbot.ask("RM001", text).reply
        out = render_text(reply)
        assert raw.leaks(out, set(CUSTOMER_ID.findall(out))), text
