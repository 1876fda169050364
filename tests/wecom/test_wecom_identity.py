"""WeCom identity (issue 13 item 10), on SQLite and PostgreSQL with the fake WeCom server:
userids are case-insensitive, so a link is found whatever case WeCom sends and `staff link`
refuses a second link that differs only by case; a callback for another app (inner AgentID)
is refused and logged, never answered."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from bot.adapters.wecom.callback import WeComAdapter
from bot.cli import app
from bot.config import get_settings
from bot.core.access import load_staff
from bot.store.db import make_engine
from bot.store.models import ChatIdentity, Customer, Org, Staff
from bot.store.staff import link_identity, unlink_identity
from bot.testing import PG_URL
from tests.fakes.wecom_api import AES_KEY, AGENT_ID, HTTP_TIMEOUT, SECRET, TOKEN, FakeWeCom, WeComSender

SEND = "/cgi-bin/message/send"


def _seed(engine: Engine) -> None:
    """The same small bank as the SQLite template in conftest.py."""
    with Session(engine) as s:
        s.add(Org(id="BR01", name="测试分行", level="branch", path="/BR01/"))
        s.flush()
        s.add(Org(id="SB01", name="城东支行", level="sub_branch", parent_id="BR01", path="/BR01/SB01/"))
        s.flush()
        s.add(Staff(id="RM001", name="王芳", role="rm", org_id="SB01"))
        s.add(Staff(id="RM002", name="李强", role="rm", org_id="SB01"))
        s.flush()
        s.add(Customer(id="C0000001", kind="individual", name="张三", phone="13800001234", rm_id="RM001",
                       org_id="SB01", opened_on=date(2020, 1, 1), tier="金卡"))
        link_identity(s, "wecom", "wangfang", "RM001")
        link_identity(s, "wecom", "liqiang", "RM002")
        s.commit()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, _wecom_db_template: Path, tmp_path: Path) -> Iterator[Engine]:
    """Overrides conftest's SQLite-only store: every test here runs on both databases."""
    if request.param == "postgresql":
        pg: Engine = request.getfixturevalue("pg_engine")
        _seed(pg)
        yield pg
        return
    path = tmp_path / "rmbot.db"
    shutil.copyfile(_wecom_db_template, path)
    eng = make_engine(f"sqlite:///{path}")
    yield eng
    eng.dispose()


def markdowns(fake: FakeWeCom) -> list[str]:
    return [c.body["markdown"]["content"] for c in fake.delivered(SEND) if c.body["msgtype"] == "markdown"]


def whoami(engine: Engine, user: str) -> str | None:
    with Session(engine) as s:
        staff = load_staff(s, "wecom", user)
    return staff.id if staff else None


@pytest.mark.parametrize("sent_as", ["WangFang", "WANGFANG", "wangfang"])
def test_a_callback_finds_the_link_whatever_case_wecom_sends(wecom: WeComSender, fake: FakeWeCom,
                                                            adapter: WeComAdapter, sent_as: str) -> None:
    assert wecom.text(sent_as, "/whoami").status_code == 200
    assert adapter.drain(HTTP_TIMEOUT)
    [reply] = markdowns(fake)
    assert "王芳" in reply and "RM001" in reply


def test_links_are_stored_lowercase_and_a_case_variant_is_refused(engine: Engine) -> None:
    with Session(engine) as s:
        assert link_identity(s, "wecom", " LiBM ", "RM002").external_id == "libm"
        link_identity(s, "wecom", "LIBM", "RM002")  # the same link again: fine
        with pytest.raises(ValueError, match="不区分大小写"):
            link_identity(s, "wecom", "LiBM", "RM001")  # one member cannot become a second staff member
        link_identity(s, "wecom", "libm", "RM001")  # the exact id moves it, as re-linking always did
        s.commit()
        ids = s.execute(select(ChatIdentity.external_id, ChatIdentity.staff_id)
                        .where(ChatIdentity.external_id.ilike("libm"))).all()
    assert ids == [("libm", "RM001")]
    assert whoami(engine, "LiBM") == "RM001" and whoami(engine, "libm") == "RM001"
    with Session(engine) as s:
        assert unlink_identity(s, "wecom", "LIBM")
        s.commit()
    assert whoami(engine, "libm") is None


def test_slack_ids_stay_case_sensitive(engine: Engine) -> None:
    with Session(engine) as s:
        assert link_identity(s, "slack", "U0ABCDEF", "RM001").external_id == "U0ABCDEF"
        s.commit()
        assert load_staff(s, "slack", "U0ABCDEF") is not None
        assert load_staff(s, "slack", "u0abcdef") is None


def test_rows_linked_before_normalising(engine: Engine) -> None:
    """Legacy rows (no data migration): found as WeCom spells them; two spellings linked to two
    staff members are nobody until an operator removes one; a re-link normalises the row."""
    with Session(engine) as s:
        s.add(ChatIdentity(platform="wecom", external_id="ZhaoMin", staff_id="RM001"))
        s.add(ChatIdentity(platform="wecom", external_id="LiBM", staff_id="RM001"))
        s.add(ChatIdentity(platform="wecom", external_id="libm", staff_id="RM002"))
        s.commit()
    assert whoami(engine, "ZhaoMin") == "RM001" and whoami(engine, "zhaomin") is None  # documented limit
    assert whoami(engine, "LiBM") is None  # ambiguous: no guessing whose customers it sees
    with Session(engine) as s:
        with pytest.raises(ValueError, match="不区分大小写"):
            link_identity(s, "wecom", "libm", "RM002")
        with pytest.raises(ValueError, match="大小写不同"):
            unlink_identity(s, "wecom", "LIBM")
        assert unlink_identity(s, "wecom", "libm")
        link_identity(s, "wecom", "ZhaoMin", "RM001")
        s.commit()
    assert whoami(engine, "LiBM") == "RM001"
    assert whoami(engine, "zhaomin") == "RM001" and whoami(engine, "ZHAOMIN") == "RM001"
    with Session(engine) as s:
        stored = set(s.execute(select(ChatIdentity.external_id).where(ChatIdentity.platform == "wecom")).scalars())
    assert "zhaomin" in stored and "ZhaoMin" not in stored


def test_staff_link_command_refuses_the_second_spelling(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    url = engine.url.render_as_string(hide_password=False)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            schema = conn.exec_driver_sql("select current_schema()").scalar()
        url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        first = runner.invoke(app, ["staff", "link", "wecom", "LiBM", "RM001"])
        assert first.exit_code == 0 and "wecom:libm" in first.stdout, first.output
        second = runner.invoke(app, ["staff", "link", "wecom", "libm ", "rm002"])
        assert second.exit_code == 0, second.output  # the exact id: a move
        third = runner.invoke(app, ["staff", "link", "wecom", "LIBM", "RM001"])
        assert third.exit_code == 2 and "不区分大小写" in third.stderr and "Traceback" not in third.output
    finally:
        get_settings.cache_clear()
    assert whoami(engine, "LiBM") == "RM002"


@pytest.mark.parametrize("agent", ["1000099", "", "1000002 1"])
def test_a_callback_for_another_agent_is_refused_and_logged(wecom: WeComSender, fake: FakeWeCom,
                                                            adapter: WeComAdapter, agent: str,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    xml = wecom.text_xml("wangfang", "/whoami", wecom.next_msgid())
    xml = xml.replace(f"<AgentID>{AGENT_ID}</AgentID>", f"<AgentID>{agent}</AgentID>" if agent else "")
    with caplog.at_level(logging.WARNING, logger="rmbot.wecom"):
        assert wecom.post(xml).status_code == 403
    assert adapter.drain(HTTP_TIMEOUT)
    assert fake.calls_to(SEND) == []
    [line] = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert "AgentID" in line
    assert all(secret not in line for secret in (SECRET, TOKEN, AES_KEY))
    assert wecom.text("wangfang", "/whoami").status_code == 200  # this app's own still answered
    assert adapter.drain(HTTP_TIMEOUT) and len(markdowns(fake)) == 1
