"""Property (issue 13 item 1): whatever the org codes, every scoped path shows a manager exactly
the customers under their org. Trees are generated with hostile codes (`_`, `%`, `\\`, full-width
letters, mixed case, a code that is another with a wildcard replaced, changed case or a suffix)
and written straight into the store, past the import's checks, on SQLite and PostgreSQL.

What is checked, per manager: /maturing, /churn, /summary (its figures and its charts' labels),
/campaign's draft audience, `rmbot campaign export`, /tier, and the store functions behind the
pushes (maturing, churn, downgrade lists, churn counts, summary) and the draft lists. The
expected set comes from walking parent ids, never from paths or bot/store/scope.py.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from io import BytesIO
from pathlib import Path

import pytest
import typer
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image as PILImage
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from bot.campaigns.catalogue import load_catalogue
from bot.cli_campaign import campaign_app
from bot.clock import SHANGHAI
from bot.config import get_settings
from bot.store import campaigns as camp_store
from bot.store.db import make_engine
from bot.store.migrate import upgrade
from bot.store.models import (AumMonthly, Balance, CampaignDraft, CampaignEvent, Contact, Customer, DataLoad, Holding,
                              Org, Outbox, PushDestination, Staff)
from bot.store.push_lists import Scope, churn_counts, churn_rows, downgrade_rows, maturing_rows
from bot.store.summary import build_summary, parse_period
from bot.testing import DEMO_DATA_DATE, Harness
from rules.policy import default_policy
from tests.security.conftest import url_of

POLICY = default_policy()
CATALOGUE = load_catalogue()
CLI = typer.Typer()
CLI.add_typer(campaign_app, name="campaign")
IDS = re.compile(r"C\d{7}")
D = DEMO_DATA_DATE

# ---- the generated bank ----------------------------------------------------------------------

CHARS = ["A", "B", "b", "1", "_", "%", "\\", "-", "Ａ", "ｂ", "１"]
code = st.text(alphabet=st.sampled_from(CHARS), min_size=1, max_size=4)
VARIANTS = {
    "wild": lambda c: c.replace("_", "Z").replace("%", "ZZ").replace("\\", ""),  # what LIKE would match
    "case": lambda c: c.swapcase(),
    "longer": lambda c: c + "1",
    "shorter": lambda c: c[:-1],
    "ascii": lambda c: c.replace("Ａ", "A").replace("ｂ", "b").replace("１", "1"),
}


@dataclass
class Tree:
    """org id → (level, parent); the generation order is the insertion order."""

    orgs: dict[str, tuple[str, str | None]] = field(default_factory=dict)

    def add(self, org_id: str, level: str, parent: str | None) -> None:
        if org_id and len(org_id) <= 16 and org_id not in self.orgs:
            self.orgs[org_id] = (level, parent)

    def of(self, level: str) -> list[str]:
        return [o for o, (lv, _) in self.orgs.items() if lv == level]

    def ancestors(self, org_id: str) -> set[str]:
        out: set[str] = set()
        node: str | None = org_id
        while node is not None:
            out.add(node)
            node = self.orgs[node][1]
        return out

    def branch_of(self, org_id: str) -> str:
        """The 支行 an org counts under: itself, or a 网点's parent."""
        level, parent = self.orgs[org_id]
        return parent if level == "outlet" and parent else org_id

    def path(self, org_id: str) -> str:
        parent = self.orgs[org_id][1]
        return (self.path(parent) if parent else "/") + f"{org_id}/"


@st.composite
def trees(draw: st.DrawFn) -> Tree:
    tree = Tree()
    for b in draw(st.lists(code, min_size=1, max_size=2, unique=True)):
        tree.add(b, "branch", None)
    branches = tree.of("branch")
    subs = draw(st.lists(code, min_size=1, max_size=4, unique=True))
    subs += [VARIANTS[v](subs[i % len(subs)]) for i, v in
             draw(st.lists(st.tuples(st.integers(0, 9), st.sampled_from(sorted(VARIANTS))), min_size=1, max_size=4))]
    for s in subs:
        tree.add(s, "sub_branch", draw(st.sampled_from(branches)))
    if not tree.of("sub_branch"):  # every code was a 分行's already
        tree.add(branches[0] + "-1", "sub_branch", branches[0])
    for sb in tree.of("sub_branch"):
        if draw(st.booleans()):
            tree.add(draw(st.sampled_from([f"{sb}1", f"{sb}_", sb.lower(), f"O{sb}", *subs])), "outlet", sb)
    return tree


@dataclass
class Bank:
    tree: Tree
    customers: dict[str, str]  # customer id → org id
    managers: dict[str, str]  # staff id → org id
    rm_of: dict[str, str]  # sub_branch → its RM's id


def reset(engine: Engine) -> None:
    """Empty the business tables (the audit log is append-only and stays)."""
    with Session(engine) as s:
        for model in (CampaignEvent, CampaignDraft, Outbox, PushDestination, Contact, Holding, Balance, AumMonthly,
                      Customer, Staff, Org, DataLoad):
            s.execute(delete(model))
        s.commit()


def insert(engine: Engine, tree: Tree) -> Bank:
    """Straight into the store: one RM and one manager per 支行, a regional manager per 分行, and
    one 贵宾 customer per 支行 and 网点 who is on every list (maturing, churn, downgrade, audience)."""
    bank = Bank(tree, {}, {}, {})
    with Session(engine) as s:
        for org_id in tree.orgs:  # parents come first
            level, parent = tree.orgs[org_id]
            s.add(Org(id=org_id, name=f"机构{len(bank.managers)}-{org_id}", level=level, parent_id=parent,
                      path=tree.path(org_id)))
            s.flush()
            n = len(bank.managers) + 1
            if level == "branch":
                bank.managers[f"RG{n:03d}"] = org_id
                s.add(Staff(id=f"RG{n:03d}", name=f"分行{n}", role="regional_manager", org_id=org_id))
            elif level == "sub_branch":
                bank.managers[f"BM{n:03d}"] = org_id
                bank.rm_of[org_id] = f"RM{n:03d}"
                s.add(Staff(id=f"BM{n:03d}", name=f"支行长{n}", role="branch_manager", org_id=org_id))
                s.add(Staff(id=f"RM{n:03d}", name=f"经理{n}", role="rm", org_id=org_id))
        s.flush()
        for org_id, (level, parent) in tree.orgs.items():
            if level == "branch":
                continue
            cid = f"C{len(bank.customers) + 1:07d}"
            bank.customers[cid] = org_id
            rm = bank.rm_of[org_id if level == "sub_branch" else parent]  # type: ignore[index]
            s.add(Customer(id=cid, kind="individual", name=f"客户{cid[-3:]}", rm_id=rm, org_id=org_id,
                           opened_on=date(2020, 1, 1), tier="贵宾客户"))
            s.flush()
            s.add(Holding(customer_id=cid, kind="定期存款", product_name="定期存款12个月", amount_fen=50_000_00,
                          start_date=D - timedelta(days=360), maturity_date=D + timedelta(days=5), term_months=12))
            s.add(Balance(customer_id=cid, as_of=D, aum_fen=200_000_00, deposit_fen=200_000_00))
            for back in (1, 2, 3):
                month = date(D.year, D.month - back, 1)
                s.add(AumMonthly(customer_id=cid, month=month, avg_daily_fen=100_000_00, month_end_fen=600_000_00))
        s.add(DataLoad(kind="seed", data_date=D, loaded_at=datetime.combine(D, time(22), SHANGHAI), source="property"))
        s.commit()
    return bank


# ---- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    """An empty migrated store, with the in-process CLI pointed at it."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'scope.db'}")
        upgrade(engine)
    else:
        engine = request.getfixturevalue("pg_engine")
    monkeypatch.setenv("DATABASE_URL", url_of(engine))
    monkeypatch.delenv("RMBOT_CAMPAIGNS_FILE", raising=False)
    get_settings.cache_clear()
    yield Harness(engine)
    get_settings.cache_clear()
    if request.param == "sqlite":
        engine.dispose()


# ---- the property ------------------------------------------------------------------------------


def shown(text: str) -> set[str]:
    return set(IDS.findall(text))


def chart_labels(png: bytes) -> str:
    return PILImage.open(BytesIO(png)).text.get("Description", "")  # type: ignore[attr-defined]


def check_manager(h: Harness, bank: Bank, staff_id: str, tmp_path: Path, full: bool) -> None:
    """Every path for one manager; `full` adds the slow ones (/summary draws its charts with
    matplotlib, the export runs the CLI), done for one manager per example."""
    org_id = bank.managers[staff_id]
    path = bank.tree.path(org_id)
    mine = {c for c, o in bank.customers.items() if org_id in bank.tree.ancestors(o)}
    subs = {o for o in bank.tree.of("sub_branch") if org_id in bank.tree.ancestors(o)}
    rms = {bank.rm_of[sb] for sb in subs}
    where = (staff_id, org_id, path)

    # chat commands
    assert shown(h.ask(staff_id, "/maturing 30").text) == mine, where
    assert shown(h.ask(staff_id, "/churn").text) == mine, where
    if full:
        summary = h.ask(staff_id, "/summary")
        if mine:
            assert f"，{len(mine)} 户）" in summary.text, (where, summary.text)
        assert summary.reply.images or not mine, where
        for image in summary.reply.images:  # the charts name RMs (follow-up completion)
            labels = chart_labels(image.data)
            assert not set(re.findall(r"RM\d{3}", labels)) - rms, (where, labels)

    # the store behind pushes, summaries and drafts
    scope = Scope(org_path=path)
    with Session(h.engine) as s:
        assert {r.customer_id for r in maturing_rows(s, POLICY, D, D + timedelta(days=30), scope)} == mine, where
        assert {r.customer_id for r in churn_rows(s, POLICY, D, scope)} == mine, where
        assert {r.customer_id for r in downgrade_rows(s, POLICY, D, scope)} == mine, where
        assert set(churn_counts(s, POLICY, D, scope)) == {bank.tree.branch_of(bank.customers[c]) for c in mine}, where
        figures = build_summary(s, POLICY, scope, parse_period("本月", D + timedelta(days=1)), D + timedelta(days=1))
        assert figures.aum.customers == len(mine) and figures.aum.closing_fen == len(mine) * 200_000_00, where
        assert {b.branch_id for b in figures.branches} <= subs, where
        assert {f.rm_id for f in figures.followups} <= rms, where
        assert {o.id for o in camp_store.sub_branches_under(s, path, limit=100)} == subs, where
        assert {d.branch_id for d, _o, _n in camp_store.drafts_under(s, path, limit=100)} <= subs, where
        spec = CATALOGUE.kinds["vip"].audience
        if org_id in subs:
            audience = camp_store.audience_select(spec, POLICY, path, D + timedelta(days=1), D)
            assert {r.customer_id for r in camp_store.audience_rows(s, audience)} == mine, where

    if org_id not in subs:
        return
    draft = h.ask(staff_id, "/campaign 贵宾联谊 日期=2026-12-05 地点=支行三楼")
    assert f"受众规模：{len(mine)} 位客户" in draft.text, (where, draft.text)
    if full:
        out = tmp_path / "audience.csv"
        result = CliRunner().invoke(CLI, ["campaign", "export", "贵宾联谊", "--as", staff_id, "--out", str(out)])
        assert result.exit_code == 0, (where, result.output)
        assert {r[0] for r in list(csv.reader(out.open(encoding="utf-8-sig")))[1:]} == mine, where


@settings(max_examples=5, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(tree=trees(), data=st.data())
def test_every_scoped_path_shows_only_the_callers_customers(store: Harness, tmp_path: Path, tree: Tree,
                                                             data: st.DataObject) -> None:
    reset(store.engine)
    bank = insert(store.engine, tree)
    store = Harness(store.engine)  # a new bot each time: it caches who staff are for 30 s
    chosen = data.draw(st.sampled_from(sorted(bank.managers)), label="full check for")
    for staff_id in sorted(bank.managers):
        check_manager(store, bank, staff_id, tmp_path, full=staff_id == chosen)
    # /tier checks in Python: a sample of manager × customer pairs
    pairs = data.draw(st.lists(st.tuples(st.sampled_from(sorted(bank.managers)), st.sampled_from(sorted(bank.customers))),
                               max_size=3), label="/tier pairs")
    for staff_id, cid in pairs:
        allowed = bank.managers[staff_id] in tree.ancestors(bank.customers[cid])
        assert (store.ask(staff_id, f"/tier {cid}").reply.kind == "info") == allowed, (staff_id, cid)
