"""PostgreSQL unreachable for a while: commands say so, nothing crashes, pushes resume afterwards.

The suite cuts the link for RMBOT_OUTAGE_SECONDS (default 2 s); `make soak` uses 30 s.
"""

import os
import time
from collections.abc import Iterator
from datetime import date, datetime, time as dtime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.calendar_data import load_calendar
from bot.clock import SHANGHAI
from bot.push.delivery import DeliveryWorker
from bot.push.senders import FileSender
from bot.push.service import PushService
from bot.store.db import make_engine
from bot.store.models import Outbox
from bot.testing import PG_URL, Harness, add_file_destinations
from rules.policy import default_policy
from tests.fakes.tcp_proxy import CuttableProxy

OUTAGE = float(os.environ.get("RMBOT_OUTAGE_SECONDS", "2"))
NOW = datetime.combine(date(2026, 11, 23), dtime(8, 30), SHANGHAI)


@pytest.fixture
def proxied(rmbot_pg: Harness, pg_schema: str) -> Iterator[tuple[Engine, CuttableProxy]]:
    proxy = CuttableProxy()
    url = PG_URL.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    engine = make_engine(url, connect_args={"options": f"-csearch_path={pg_schema}", "connect_timeout": 2})
    yield engine, proxy
    engine.dispose()
    proxy.close()


def test_outage_gives_clear_answers_and_pushes_resume(rmbot_pg: Harness, proxied: tuple[Engine, CuttableProxy],
                                                      tmp_path: Path) -> None:
    engine, proxy = proxied
    bot = Harness(engine)
    assert bot.ask("RM001", "/tier C0000001").reply.kind == "info"
    add_file_destinations(rmbot_pg.engine, tmp_path)
    PushService(rmbot_pg.engine, default_policy(), load_calendar()).build("churn", date(2026, 11, 23), now=NOW)
    worker = DeliveryWorker(engine, {"file": FileSender()}, now=lambda: NOW)

    proxy.cut()
    deadline = time.monotonic() + OUTAGE
    answers = 0
    while time.monotonic() < deadline:
        answer = bot.ask("RM001", "/tier C0000001")
        assert answer.reply.kind == "error" and "暂时不可用" in answer.text, answer.text
        with pytest.raises(Exception):
            worker.run_once()  # the scheduler logs this and tries again on its next tick
        answers += 1
    assert answers >= 1

    proxy.restore()
    assert bot.ask("RM001", "/tier C0000001").reply.kind == "info"
    stats = worker.drain()
    with Session(rmbot_pg.engine) as s:
        statuses = [r.status for r in s.execute(select(Outbox)).scalars()]
    assert statuses and set(statuses) == {"sent"} and stats.sent == len(statuses)
