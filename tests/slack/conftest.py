"""Fixtures for the Slack adapter: a real SQLite store with hand-built staff and customers,
the fake Slack Web API, and our Starlette app served by uvicorn on a free port.

Nothing of ours is mocked: requests go over real HTTP, signed the way Slack signs them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `tests.fakes` lives beside the packages, not inside them
    sys.path.insert(0, str(ROOT))

from bot.config import Settings, load_policy
from bot.core.app import Rmbot
from bot.server import build_app as build_server
from tests.fakes.slack_api import FakeSlackAPI
from tests.slack.support import SlackSim, build_store, serve, slack_settings


@pytest.fixture(scope="session")
def fake_api() -> Iterator[FakeSlackAPI]:
    fake = FakeSlackAPI().start()
    yield fake
    fake.stop()


@pytest.fixture()
def fake(fake_api: FakeSlackAPI) -> FakeSlackAPI:
    fake_api.reset()
    return fake_api


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return build_store(tmp_path_factory.mktemp("slack-db") / "rmbot.db")


@pytest.fixture(scope="session")
def settings(fake_api: FakeSlackAPI) -> Settings:
    return slack_settings(fake_api)


@pytest.fixture(scope="session")
def core_bot(engine: Engine, settings: Settings) -> Rmbot:
    return Rmbot(engine, load_policy(settings))


@pytest.fixture(scope="session")
def base_url(core_bot: Rmbot, settings: Settings) -> Iterator[str]:
    with serve(build_server(core_bot, settings, ["slack"])) as url:
        yield url


@pytest.fixture()
def slack(base_url: str, fake: FakeSlackAPI) -> Iterator[SlackSim]:
    sim = SlackSim(base_url, fake)
    yield sim
    sim.close()


