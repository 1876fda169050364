"""Issue 13 item 1: scope was `Org.path LIKE '/BR01/SB_1/%'`, where `_` matches any character, so
a branch manager of 支行 SB_1 saw SB01's customers in every SQL-scoped path. Reproduced here with
the issue's org and staff inserted straight into the store (the import now refuses the code)."""

from __future__ import annotations

import csv
import re
from datetime import date, timedelta
from pathlib import Path

import typer
from sqlalchemy import select
from sqlmodel import Session
from typer.testing import CliRunner

from bot.cli_campaign import campaign_app
from bot.store.models import Balance, Customer, Holding, Org, Staff
from bot.testing import DEMO_DATA_DATE, Harness

app = typer.Typer()
app.add_typer(campaign_app, name="campaign")
OWN = "C9000001"


def add_sb_1(h: Harness) -> set[str]:
    """Org `SB_1,新区支行,sub_branch,BR01`, staff `BM_X,赵新,branch_manager,SB_1,是`, and one VIP
    customer of its own with a holding maturing within 30 days; returns SB01's customer ids."""
    with Session(h.engine) as s:
        s.add(Org(id="SB_1", name="新区支行", level="sub_branch", parent_id="BR01", path="/BR01/SB_1/"))
        s.flush()
        s.add(Staff(id="BM_X", name="赵新", role="branch_manager", org_id="SB_1"))
        s.flush()
        s.add(Customer(id=OWN, kind="individual", name="钱多多", rm_id="BM_X", org_id="SB_1",
                       opened_on=date(2020, 1, 1), tier="贵宾客户"))
        s.flush()
        s.add(Holding(customer_id=OWN, kind="定期存款", product_name="定期存款12个月", amount_fen=50_000_00,
                      start_date=date(2025, 11, 25), maturity_date=DEMO_DATA_DATE + timedelta(days=5), term_months=12))
        s.add(Balance(customer_id=OWN, as_of=DEMO_DATA_DATE, aum_fen=600_000_00, deposit_fen=600_000_00))
        s.commit()
        sb01 = set(s.execute(select(Customer.id).join(Org, Org.id == Customer.org_id)
                             .where(Org.id.in_(("SB01", "OU011")))).scalars())
    assert sb01
    return sb01


def leaked(text: str, others: set[str]) -> set[str]:
    return {c for c in others if c in text}


def test_lists_summary_and_campaign_stay_in_sb_1(bank: Harness) -> None:
    sb01 = add_sb_1(bank)
    maturing = bank.ask("BM_X", "/maturing 30")
    assert not leaked(maturing.text, sb01), maturing.text
    assert OWN in maturing.text and "1 笔" in maturing.text
    churn = bank.ask("BM_X", "/churn")
    assert not leaked(churn.text, sb01), churn.text
    summary = bank.ask("BM_X", "/summary")
    assert "（2026-11-20 时点，1 户）" in summary.text, summary.text
    draft = bank.ask("BM_X", "/campaign 贵宾联谊 日期=2026-12-05 地点=新区支行")
    assert "受众规模：1 位客户" in draft.text, draft.text
    # Python-side checks were right all along and stay so
    assert "无权查看" in bank.ask("BM_X", "/tier C0000001").text


def test_campaign_export_stays_in_sb_1(cli_bank: Harness, tmp_path: Path) -> None:
    sb01 = add_sb_1(cli_bank)
    out = tmp_path / "名单.csv"
    result = CliRunner().invoke(app, ["campaign", "export", "贵宾联谊", "--as", "BM_X", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(out.open(encoding="utf-8-sig")))[1:]
    assert [r[0] for r in rows] == [OWN]
    assert not {r[0] for r in rows} & sb01


def test_no_scope_by_hand() -> None:
    """Org paths are compared only in bot/store/scope.py: no `startswith`/`like` on a path elsewhere."""
    root = Path(__file__).resolve().parents[2]
    by_hand = re.compile(r"(path|org_path)\s*\)?\s*\.\s*(startswith|endswith|like|ilike|contains)\s*\(")
    found = [f"{p.relative_to(root)}:{n}: {line.strip()}"
             for folder in ("bot", "commands", "rules") for p in sorted((root / folder).rglob("*.py"))
             if p.name != "scope.py" or p.parent.name != "store"
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if by_hand.search(line)]
    assert found == [], "scope by hand (use bot.store.scope.under / is_under):\n" + "\n".join(found)
