"""Fixtures for the WeCom adapter: a real SQLite store, the fake WeCom API, our callback server
on uvicorn, and a `WeComSender` that plays WeCom's side of the callback (sign + encrypt)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `tests.fakes` lives beside the packages, not inside them
    sys.path.insert(0, str(ROOT))

import commands  # noqa: E402,F401  (registers the shipped commands)
from bot.adapters.wecom.callback import WeComAdapter  # noqa: E402
from bot.adapters.wecom.client import Pacer, TokenCache, WeComClient  # noqa: E402
from bot.adapters.wecom.crypto import WeComCrypto  # noqa: E402
from bot.core.app import Rmbot  # noqa: E402
from bot.core.context import Context  # noqa: E402
from bot.core.followup import followup_buttons  # noqa: E402
from bot.core.registry import REGISTRY, CommandSpec, Registry  # noqa: E402
from bot.core.reply import Item, Reply, Section  # noqa: E402
from bot.store.db import make_engine  # noqa: E402
from bot.store.migrate import upgrade  # noqa: E402
from bot.store.models import Customer, Org, Staff  # noqa: E402
from bot.store.staff import link_identity  # noqa: E402
from rules.policy import default_policy  # noqa: E402
from tests.fakes.wecom_api import (  # noqa: E402
    AES_KEY,
    AGENT_ID,
    CORP_ID,
    HTTP_TIMEOUT,
    LONG_TEXT,
    OTHER_RM_USER,
    RM_USER,
    SECRET,
    TOKEN,
    FakeWeCom,
    LiveServer,
    Sleeps,
    WeComSender,
)

# -- store ----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _wecom_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrated and seeded once; each test gets its own copy (migrating costs ~0.15 s)."""
    path = tmp_path_factory.mktemp("wecom-db") / "template.db"
    eng = make_engine(f"sqlite:///{path}")
    upgrade(eng)
    with Session(eng) as s:
        s.add(Org(id="BR01", name="测试分行", level="branch", path="/BR01/"))
        s.flush()
        s.add(Org(id="SB01", name="城东支行", level="sub_branch", parent_id="BR01", path="/BR01/SB01/"))
        s.flush()
        s.add(Staff(id="RM001", name="王芳", role="rm", org_id="SB01"))
        s.add(Staff(id="RM002", name="李强", role="rm", org_id="SB01"))
        s.flush()
        s.add(Customer(id="C0000001", kind="individual", name="张三", phone="13800001234", rm_id="RM001",
                       org_id="SB01", opened_on=date(2020, 1, 1), tier="金卡"))
        link_identity(s, "wecom", RM_USER, "RM001")
        link_identity(s, "wecom", OTHER_RM_USER, "RM002")
        s.commit()
    eng.dispose()  # the last connection closing folds the WAL back into the file
    return path


@pytest.fixture
def engine(_wecom_db_template: Path, tmp_path: Path) -> Iterator[Engine]:
    path = tmp_path / "rmbot.db"
    shutil.copyfile(_wecom_db_template, path)
    eng = make_engine(f"sqlite:///{path}")
    yield eng
    eng.dispose()


def _long(ctx: Context, args: list[str]) -> Reply:
    return Reply(title="长回复测试", sections=[Section(title="正文", text=LONG_TEXT)])


def _cards(ctx: Context, args: list[str]) -> Reply:
    return Reply(title="到期提醒", summary="1 位客户的产品即将到期",
                 items=[Item(text="C0000001 张* 大额存单 50万 12-01 到期", ref="tier:C0000001",
                             buttons=followup_buttons("C0000001", "tier:C0000001"))])


@pytest.fixture
def registry() -> Registry:
    """The shipped commands plus two test commands (a 5,000-character answer, a card answer)."""
    reg = Registry()
    for spec in REGISTRY.commands():
        reg.add_command(spec)
    followup = REGISTRY.action("followup")
    assert followup is not None
    reg.add_action(followup)
    reg.add_command(CommandSpec(name="longtest", summary="test", usage="/longtest", handler=_long))
    reg.add_command(CommandSpec(name="cardtest", summary="test", usage="/cardtest", handler=_cards))
    return reg


@pytest.fixture
def core_bot(engine: Engine, registry: Registry) -> Rmbot:
    return Rmbot(engine, default_policy(), registry=registry)


# -- fake WeCom API ----------------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeWeCom]:
    server = FakeWeCom().start()
    yield server
    server.stop()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(fake: FakeWeCom, sleeps: Sleeps) -> Iterator[WeComClient]:
    c = WeComClient(CORP_ID, SECRET, AGENT_ID, fake.url, timeout=HTTP_TIMEOUT, tokens=TokenCache(),
                    pacer=Pacer(), sleep=sleeps)
    yield c
    c.close()


# -- our callback server on uvicorn ----------------------------------------------------------------------


@pytest.fixture
def crypto() -> WeComCrypto:
    return WeComCrypto(TOKEN, AES_KEY, CORP_ID)


@pytest.fixture
def adapter(core_bot: Rmbot, crypto: WeComCrypto, client: WeComClient) -> Iterator[WeComAdapter]:
    a = WeComAdapter(core_bot, crypto, client)
    yield a
    a.drain(HTTP_TIMEOUT)
    a._pool.shutdown(wait=True)


class Switch:
    """An ASGI app that forwards to the current test's app: one uvicorn for the whole session
    (starting and stopping uvicorn costs ~0.2 s a test)."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "no test app mounted"
        await self.app(scope, receive, send)


@pytest.fixture(scope="session")
def _wecom_live() -> Iterator[tuple[LiveServer, Switch]]:
    switch = Switch()
    with LiveServer(switch) as server:
        yield server, switch


@pytest.fixture
def live(_wecom_live: tuple[LiveServer, Switch], adapter: WeComAdapter) -> Iterator[LiveServer]:
    server, switch = _wecom_live
    switch.app = Starlette(routes=adapter.routes())
    yield server
    switch.app = None


@pytest.fixture
def wecom(live: LiveServer, crypto: WeComCrypto) -> Iterator[WeComSender]:
    sender = WeComSender(live.url, crypto)
    yield sender
    sender.close()
