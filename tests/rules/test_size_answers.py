"""/size answers every figure it is given (issue 15): an indicator the industry does not use is
shown as given and marked unused, never a crash; the basis cites the public standard only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session

from bot.core.app import Rmbot
from bot.core.request import Request
from rules.policy import default_policy


@pytest.fixture()
def bot(tmp_path: Path) -> Iterator[Rmbot]:
    from bot.store.db import make_engine
    from bot.store.migrate import upgrade
    from bot.store.models import Org, Staff

    engine = make_engine(f"sqlite:///{tmp_path / 'size.db'}")
    upgrade(engine)
    with Session(engine) as session:
        session.add(Org(id="BR01", name="测试分行", level="branch", path="/BR01/"))
        session.commit()
        session.add(Staff(id="RM001", name="王芳", role="rm", org_id="BR01"))
        session.commit()
    yield Rmbot(engine, default_policy())
    engine.dispose()


@pytest.mark.parametrize(("text", "summary", "unused"), [
    ("/size 建筑业 120 6000 4999", "小型企业（建筑业）", "从业人员(X)"),
    ("/size 房地产开发 8 1000 5000", "中型企业（房地产开发经营）", "从业人员(X)"),
    ("/size 农林牧渔 30 600", "中型企业（农、林、牧、渔业）", "从业人员(X)"),
    ("/size 农林牧渔 30 600 100", "中型企业（农、林、牧、渔业）", "资产总额(Z)"),
])
def test_employees_for_a_revenue_and_assets_industry_is_shown_unused(
        bot: Rmbot, text: str, summary: str, unused: str) -> None:
    reply = bot.handle(Request(text, "console", "RM001"))
    assert reply.kind == "info", reply.summary
    assert reply.summary == summary
    value = {f.label: f.value for f in reply.fields}[unused]
    assert value.endswith("（不参与本行业划型）")


def test_size_basis_cites_the_public_standard_not_an_internal_file(bot: Rmbot) -> None:
    reply = bot.handle(Request("/size 工业 250 3000", "console", "RM001"))
    basis = [n for n in reply.notes if n.startswith("依据")]
    assert basis and "统计上大中小微型企业划分办法" in basis[0] and "国统字〔2017〕213号" in basis[0]
    assert "seed" not in " ".join(reply.notes).lower()
