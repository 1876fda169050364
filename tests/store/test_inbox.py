"""The inbox protocol (bot/store/inbox.py) on SQLite and PostgreSQL: a key is accepted once,
each user's rows are claimed oldest first and one at a time, an expired lease hands a row to
the next worker and the late one's finish changes nothing, replies are queued exactly once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.clock import SHANGHAI
from bot.store import inbox
from bot.store.db import make_engine
from bot.store.migrate import upgrade
from bot.store.models import Org, Outbox
from bot.store.outbox import NewMessage
from bot.testing import postgres_schema_engine

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=SHANGHAI)
LEASE = timedelta(seconds=30)


def _with_org(engine: Engine) -> Engine:
    with Session(engine) as s:
        s.add(Org(id="HQ", name="总行", level="head", path="/HQ/"))
        s.commit()
    return engine


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'inbox.db'}")
        upgrade(eng)
    else:
        schema = request.getfixturevalue("pg_schema")
        eng = postgres_schema_engine(schema)
        upgrade(eng)
    yield _with_org(eng)
    eng.dispose()


def _reply(row: inbox.Claimed) -> list[NewMessage]:
    return [NewMessage(key=f"reply:{row.id}:0", kind="reply", org_id="HQ", push_date=date(2026, 12, 2),
                       platform="wecom_member", target=row.user_id, payload="{}")]


def _outbox_rows(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [(t, k) for t, k in conn.execute(select(Outbox.target, Outbox.key).order_by(Outbox.id))]


def test_a_key_is_accepted_once(engine: Engine) -> None:
    assert inbox.accept(engine, "msg:1", "wecom", "u1", "{}", T0) is not None
    assert inbox.accept(engine, "msg:1", "wecom", "u1", "{}", T0) is None  # WeCom's retry


def test_each_user_oldest_first_one_at_a_time(engine: Engine) -> None:
    a = inbox.accept(engine, "msg:a", "wecom", "u1", "{}", T0)
    b = inbox.accept(engine, "msg:b", "wecom", "u1", "{}", T0)
    c = inbox.accept(engine, "msg:c", "wecom", "u2", "{}", T0)
    first = inbox.claim(engine, "w1", T0, LEASE, ["wecom"], limit=10)
    assert [r.id for r in first] == [a, c]  # u1's second waits for its first
    assert inbox.claim(engine, "w2", T0, LEASE, ["wecom"], limit=10) == []
    assert inbox.finish(engine, first[0], _reply(first[0]), T0)
    nxt = inbox.claim(engine, "w2", T0, LEASE, ["wecom"], limit=10)
    assert [r.id for r in nxt] == [b]
    assert inbox.claim(engine, "w3", T0, LEASE, ["slack"], limit=10) == []  # other platforms' workers


def test_an_expired_lease_goes_to_the_next_worker_and_the_late_finish_is_refused(engine: Engine) -> None:
    inbox.accept(engine, "msg:a", "wecom", "u1", '{"x": 1}', T0)
    (late,) = inbox.claim(engine, "w1", T0, LEASE, ["wecom"])
    assert inbox.claim(engine, "w2", T0 + LEASE / 2, LEASE, ["wecom"]) == []  # still held
    (taken,) = inbox.claim(engine, "w2", T0 + LEASE * 2, LEASE, ["wecom"])
    assert taken.id == late.id and taken.attempts == 2
    assert not inbox.finish(engine, late, _reply(late), T0 + LEASE * 2)  # no longer its row
    assert _outbox_rows(engine) == []
    assert inbox.finish(engine, taken, _reply(taken), T0 + LEASE * 2)
    assert not inbox.finish(engine, taken, _reply(taken), T0 + LEASE * 2)  # once
    assert _outbox_rows(engine) == [("u1", f"reply:{taken.id}:0")]
    assert inbox.open_count(engine) == 0


def test_concurrent_workers_keep_each_users_order_and_finish_each_row_once(engine: Engine) -> None:
    users = ["u1", "u2", "u3"]
    ids = {u: [inbox.accept(engine, f"msg:{u}:{n}", "wecom", u, "{}", T0) for n in range(8)] for u in users}
    done: list[tuple[str, int]] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        idle = 0
        while idle < 20:
            rows = inbox.claim(engine, name, T0, LEASE, ["wecom"])
            if not rows:
                idle += 1
                continue
            idle = 0
            for row in rows:
                assert inbox.finish(engine, row, _reply(row), T0)
                with lock:
                    done.append((row.user_id, row.id))

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for u in users:
        assert [i for who, i in done if who == u] == ids[u]  # in order, each once
    replies = _outbox_rows(engine)
    assert len(replies) == 24 and len({k for _, k in replies}) == 24
    for u in users:  # queued in the outbox in the order sent, so delivered in it
        assert [k for t, k in replies if t == u] == [f"reply:{i}:0" for i in ids[u]]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Outbox)).scalar_one() == 24
