"""Delivery after a crash resumes within seconds: leases are short and renewed while sending
(the heartbeat), a dead process's rows on this host are taken over at once, and
`rmbot push deliver` says what waits and why, with an exit code a script can act on."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections import Counter
from datetime import date, datetime, time as dtime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlmodel import Session

from bot.calendar_data import load_calendar
from bot.clock import SHANGHAI
from bot.config import Settings
from bot.core.reply import Reply
from bot.push.delivery import DeliveryWorker
from bot.push.service import PushService
from bot.push.wiring import configured_renderers
from bot.store import outbox
from bot.store.models import Org, Outbox, PushDestination
from bot.testing import Harness, seeded_sqlite
from rules.policy import default_policy
from tests.fakes.slack_api import FakeSlackAPI
from tests.ops.conftest import RMBOT, environment, wait_until

MONDAY = date(2026, 11, 23)
NOW = datetime.combine(MONDAY, dtime(8, 30), SHANGHAI)


def _states(engine) -> Counter[str]:  # noqa: ANN001
    with Session(engine) as s:
        return Counter(r.status for r in s.execute(select(Outbox)).scalars())


def test_kill_9_then_rerun_delivers_the_rest_at_once(tmp_path: Path) -> None:
    db = tmp_path / "bank.db"
    engine = seeded_sqlite(db, customers=1500)
    with Session(engine) as s:
        for sb in s.execute(select(Org.id).where(Org.level == "sub_branch")).scalars():
            s.merge(PushDestination(org_id=sb, platform="slack", target=f"C0{sb}"))
        s.commit()
    fake = FakeSlackAPI().start()
    fake.set_clock(time.time)
    settings = Settings(_env_file=None, SLACK_BOT_TOKEN="xoxb-test-token",  # type: ignore[call-arg]
                        SLACK_SIGNING_SECRET="soak-secret", SLACK_API_URL=fake.base_url)
    service = PushService(engine, default_policy(), load_calendar(), configured_renderers(settings, engine))
    now = datetime.now(SHANGHAI).replace(microsecond=0)
    for kind in ("maturing", "churn", "downgrade"):
        service.build(kind, MONDAY, now=now)
    keys = {r.key for r in Session(engine).execute(select(Outbox)).scalars()}
    env = environment(f"sqlite:///{db}", SLACK_BOT_TOKEN="xoxb-test-token", SLACK_SIGNING_SECRET="soak-secret",
                      SLACK_API_URL=fake.base_url, RMBOT_LOG_LEVEL="WARNING")
    try:
        first = subprocess.Popen(RMBOT + ["push", "deliver"], cwd=tmp_path, env=env,  # the default (short) lease
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: _states(engine)["sent"] >= 2, 90, "the first sends")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        left = _states(engine)
        assert left["pending"] + left["sending"] + left["verifying"] > 0, left
        started = time.monotonic()
        rerun = subprocess.run(RMBOT + ["push", "deliver"], cwd=tmp_path, env=env, capture_output=True, text=True,
                               timeout=120)
        took = time.monotonic() - started
        delivered = Counter()
        for channel in {f"C0{k.split(':')[1]}" for k in keys}:
            for message in fake.messages(channel):
                payload = (message.get("metadata") or {}).get("event_payload") or {}
                if "key" in payload:
                    delivered[payload["key"]] += 1
    finally:
        fake.stop()
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "已发送 sent 0，核实已送达 verified 0" not in rerun.stdout, rerun.stdout
    assert set(delivered) == keys and all(n == 1 for n in delivered.values()), delivered
    assert _states(engine) == Counter({"sent": len(keys)})
    assert took < 60, took  # not the old 300 s lease


class SlowPlatform:
    """The outside world: each send takes `seconds`; counts what arrives."""

    platform = "file"
    min_interval = 0.0

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.arrived: Counter[str] = Counter()
        self.lock = threading.Lock()

    def send(self, target: str, reply: Reply, key: str) -> str:
        time.sleep(self.seconds)
        with self.lock:
            self.arrived[key] += 1
        return key

    def find_sent(self, target: str, key: str, since: datetime) -> str | None:
        with self.lock:
            return key if self.arrived[key] else None


def _enqueue(h: Harness, n: int = 2) -> None:
    outbox.enqueue(h.engine, [outbox.NewMessage(f"t:{i}", "churn", "SB01", MONDAY, "file", f"chan{i}",
                                                Reply(title=f"m{i}", masked=True).model_dump_json())
                              for i in range(n)], NOW)


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_the_heartbeat_keeps_a_slow_send_from_being_taken_over(db: str, request: pytest.FixtureRequest) -> None:
    h: Harness = request.getfixturevalue("rmbot" if db == "sqlite" else "rmbot_pg")
    _enqueue(h)
    platform = SlowPlatform(2.5)
    clock = lambda: datetime.now(SHANGHAI)  # noqa: E731  (leases against the real clock)
    slow = DeliveryWorker(h.engine, {"file": platform}, worker_id="hostA:1", lease=timedelta(seconds=1), now=clock)
    other = DeliveryWorker(h.engine, {"file": platform}, worker_id="hostB:2", lease=timedelta(seconds=1), now=clock)
    thread = threading.Thread(target=slow.drain)
    thread.start()
    time.sleep(0.3)
    took_over = []
    while thread.is_alive():  # another replica keeps looking for expired leases meanwhile
        took_over.append(other.run_once().claimed)
        time.sleep(0.3)
    thread.join()
    assert sum(took_over) == 0, took_over
    assert platform.arrived == Counter({"t:0": 1, "t:1": 1})
    assert _states(h.engine) == Counter({"sent": 2})


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_a_dead_local_holder_is_taken_over_at_once(db: str, request: pytest.FixtureRequest) -> None:
    import socket

    h: Harness = request.getfixturevalue("rmbot" if db == "sqlite" else "rmbot_pg")
    _enqueue(h, 1)
    dead = subprocess.Popen(["true"])
    dead.wait()
    with h.engine.begin() as conn:  # as a killed `rmbot push deliver` (pid gone) leaves it
        conn.execute(update(Outbox).values(status="sending", claimed_by=f"{socket.gethostname()}:{dead.pid}:abcd",
                                           lease_until=datetime.now(SHANGHAI) + timedelta(minutes=5)))
    platform = SlowPlatform(0.0)
    stats = DeliveryWorker(h.engine, {"file": platform}, now=lambda: datetime.now(SHANGHAI)).drain()
    assert stats.sent == 1 and platform.arrived == Counter({"t:0": 1})


def _deliver(h: Harness, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    url = h.engine.url.render_as_string(hide_password=False)
    return subprocess.run(RMBOT + ["push", "deliver"], cwd=tmp_path, env=environment(url), capture_output=True,
                          text=True, timeout=120)


def test_deliver_says_what_waits_and_exits_with_its_code(rmbot: Harness, tmp_path: Path) -> None:
    _enqueue(rmbot, 2)
    later = datetime.now(SHANGHAI) + timedelta(hours=1)
    with rmbot.engine.begin() as conn:
        conn.execute(update(Outbox).where(Outbox.key == "t:0").values(
            status="sending", claimed_by="another-host:4242:beef", lease_until=later))
        conn.execute(update(Outbox).where(Outbox.key == "t:1").values(next_attempt_at=later))
    held = _deliver(rmbot, tmp_path)
    assert held.returncode == 3, held.stdout + held.stderr
    assert "another-host:4242" in held.stdout and "等待中" in held.stdout and "scheduled retry" in held.stdout
    with rmbot.engine.begin() as conn:
        conn.execute(update(Outbox).where(Outbox.key == "t:0").values(status="sent", claimed_by=None,
                                                                      lease_until=None))
    retry = _deliver(rmbot, tmp_path)
    assert retry.returncode == 4 and "重试" in retry.stdout, retry.stdout + retry.stderr
    with rmbot.engine.begin() as conn:
        conn.execute(update(Outbox).where(Outbox.key == "t:1").values(status="sent"))
    done = _deliver(rmbot, tmp_path)
    assert done.returncode == 0 and "等待中" not in done.stdout, done.stdout + done.stderr
