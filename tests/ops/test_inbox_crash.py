"""The durable inbox (issue 14): a real `rmbot serve wecom` is stopped (SIGTERM) and killed
(SIGKILL) at random points while replies are in flight, WeCom retries what went unanswered and
re-sends accepted messages after the restart; every accepted message is answered, once, in the
order each user sent them. Then two replicas on PostgreSQL share one inbox, one of them killed.

Each message is an unknown command `/nosuchNN`: its reply names it, so the fake WeCom's record
says which message each reply answers.
"""

from __future__ import annotations

import random
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.adapters.wecom.crypto import WeComCrypto
from bot.store.staff import link_identity
from bot.testing import PG_URL, postgres_schema_engine, seed_bank
from rules.policy import default_policy
from tests.fakes.wecom_api import AES_KEY, CORP_ID, TOKEN, FakeWeCom, WeComSender
from tests.ops.conftest import USER, Served, environment, wait_until

OTHER = "liqiang"
ANSWER = re.compile(r"nosuch(\d+)")


def _link_other(url: str, engine: Engine | None = None) -> None:
    from bot.store.db import make_engine

    eng = engine or make_engine(url)
    with Session(eng) as s:
        link_identity(s, "wecom", OTHER, "RM002")
        s.commit()
    if engine is None:
        eng.dispose()


class WeCom:
    """WeCom's side of the callback: a message is re-posted until a server answers 200 (WeCom
    retries an unanswered callback), and accepted ones can be posted again (a retry after a
    restart)."""

    def __init__(self) -> None:
        self.crypto = WeComCrypto(TOKEN, AES_KEY, CORP_ID)
        self.accepted: list[tuple[str, int, str]] = []  # (user, n, msgid)

    def post(self, url: str, user: str, n: int, msgid: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            sender = WeComSender(url, self.crypto)
            try:
                if sender.text(user, f"/nosuch{n:02d}", msgid=msgid).status_code == 200:
                    if (user, n, msgid) not in self.accepted:
                        self.accepted.append((user, n, msgid))
                    return
            except httpx.HTTPError:
                pass
            finally:
                sender.close()
            assert time.monotonic() < deadline, f"message {n} never accepted"
            time.sleep(0.05)


def _answers(wecom: FakeWeCom, user: str) -> list[int]:
    """The message numbers the replies to `user` answer, in the order they arrived."""
    out = []
    for call in wecom.delivered():
        if call.body.get("touser") == user:
            found = ANSWER.search(str(call.body.get("markdown", {}).get("content", "")))
            if found:
                out.append(int(found.group(1)))
    return out


def _check(wecom: FakeWeCom, sent: dict[str, list[int]], repeats_allowed: int) -> None:
    """Each user's replies: every message once, in the order sent. A SIGKILL in the milliseconds
    between WeCom's answer and our commit may repeat the reply in flight to each user (WeCom has
    no read-back API): at most one per user per kill, right after the original."""
    repeats = 0
    for user, numbers in sent.items():
        got = _answers(wecom, user)
        collapsed = [n for i, n in enumerate(got) if i == 0 or got[i - 1] != n]
        repeats += len(got) - len(collapsed)
        assert collapsed == numbers, (user, got, numbers)
    assert repeats <= repeats_allowed, repeats


@pytest.mark.parametrize("seed", [14, 2026])
def test_kill_and_restart_at_random_points_answers_every_accepted_message_once_in_order(
        bank: Path, wecom: FakeWeCom, tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    wecom.delay = 0.08  # each WeCom API call takes 80 ms: a burst's replies are still going out at the kill
    url = f"sqlite:///{bank}"
    _link_other(url)
    env = environment(url, wecom, RMBOT_SHUTDOWN_TIMEOUT="5")
    client = WeCom()
    sent: dict[str, list[int]] = {USER: [], OTHER: []}
    kills = 0
    served = Served(["serve", "wecom", "--no-scheduler"], env, tmp_path)
    n = 0
    try:
        for kind in rng.sample((0, 1, 1), 3):  # one SIGTERM, two SIGKILLs, in a random order
            served.wait_healthy()
            for _ in range(rng.randint(4, 7)):  # a burst, both users interleaved
                user = rng.choice((USER, OTHER))
                client.post(served.url, user, n, f"m{seed}-{n}")
                sent[user].append(n)
                n += 1
            time.sleep(rng.uniform(0.0, 0.3))  # replies in flight
            how = (signal.SIGTERM, signal.SIGKILL)[kind]
            kills += how == signal.SIGKILL
            served.proc.send_signal(how)
            code = served.proc.wait(timeout=30)
            assert code == (0 if how == signal.SIGTERM else -signal.SIGKILL), served.output()[-3000:]
            served = Served(["serve", "wecom", "--no-scheduler"], env, tmp_path)
            served.wait_healthy()
            for user, number, msgid in client.accepted[-3:]:  # WeCom's retries after the restart
                client.post(served.url, user, number, msgid)
        total = sum(len(v) for v in sent.values())
        wait_until(lambda: sum(len(_answers(wecom, u)) for u in sent) >= total, 60, "every reply")
        time.sleep(0.5)  # a repeat would arrive now
        assert served.terminate() == 0
    finally:
        served.kill()
    _check(wecom, sent, repeats_allowed=kills * len(sent))


@pytest.fixture
def pg_bank(pg_schema: str) -> Iterator[str]:
    from bot.store.migrate import upgrade

    engine = postgres_schema_engine(pg_schema)
    upgrade(engine)
    seed_bank(engine, default_policy(), customers=60, seed=7)
    with Session(engine) as s:
        link_identity(s, "wecom", USER, "RM001")
        s.commit()
    _link_other("", engine)
    engine.dispose()
    yield f"{PG_URL}?options=-csearch_path%3D{pg_schema}"


def test_two_replicas_on_postgresql_share_the_inbox(pg_bank: str, pg_schema: str, wecom: FakeWeCom,
                                                    tmp_path: Path) -> None:
    """Callbacks land on either replica (WeCom's load balancer); one is killed mid-way and its
    accepted rows are answered by the other, each user's still in order, none twice."""
    env = environment(pg_bank, wecom, RMBOT_AUDIT_KEY="inbox-test-audit-key-0123456789")
    a = Served(["serve", "wecom", "--no-scheduler"], env, tmp_path)
    b = Served(["serve", "wecom", "--no-scheduler"], env, tmp_path)
    client = WeCom()
    sent: dict[str, list[int]] = {USER: [], OTHER: []}
    try:
        a.wait_healthy()
        b.wait_healthy()
        for n in range(16):
            user = (USER, OTHER)[n % 3 == 0]
            client.post((a, b)[n % 2].url, user, n, f"pg-{n}")
            sent[user].append(n)
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait(timeout=10)
        for n in range(16, 22):
            user = (USER, OTHER)[n % 3 == 0]
            client.post(b.url, user, n, f"pg-{n}")
            sent[user].append(n)
        total = sum(len(v) for v in sent.values())
        wait_until(lambda: sum(len(_answers(wecom, u)) for u in sent) >= total, 60, "every reply")
        time.sleep(0.5)
        assert b.terminate() == 0
    finally:
        a.kill()
        b.kill()
    _check(wecom, sent, repeats_allowed=len(sent))
    engine = postgres_schema_engine(pg_schema)
    with engine.connect() as conn:
        states = dict(conn.execute(text("SELECT state, count(*) FROM inbox GROUP BY state")).all())
        replicas = conn.execute(text("SELECT count(DISTINCT split_part(claimed_by, ':', 2)) FROM inbox")).scalar()
    engine.dispose()
    assert states == {"done": 22}, states
    assert replicas == 2  # both replicas took rows from the one inbox
