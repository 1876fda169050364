"""`rmbot push deliver` killed with SIGKILL at random moments: every message arrives exactly once.

Real processes, a real SQLite file, and the fake Slack Web API (the outside world) counting
what it receives. The suite runs RMBOT_KILL_ROUNDS rounds (default 5); `make soak` runs 20.
"""

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import date, datetime, time as dtime
from pathlib import Path

from sqlalchemy import select
from sqlmodel import Session

from bot.calendar_data import load_calendar
from bot.clock import SHANGHAI
from bot.config import Settings
from bot.push.service import PushService
from bot.push.wiring import configured_renderers
from bot.store.models import Org, Outbox, PushDestination
from bot.testing import seeded_sqlite
from rules.policy import default_policy
from tests.fakes.slack_api import FakeSlackAPI

ROUNDS = int(os.environ.get("RMBOT_KILL_ROUNDS", "5"))
MONDAY = date(2026, 11, 23)


def _deliver_process(db: Path, fake: FakeSlackAPI) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "SLACK_BOT_TOKEN": "xoxb-test-token",
           "SLACK_SIGNING_SECRET": "soak-secret", "SLACK_API_URL": fake.base_url, "RMBOT_LOG_LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "push", "deliver", "--lease-seconds", "1"],
                            env=env, cwd=db.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _progress(engine) -> tuple[int, int]:  # noqa: ANN001
    """(rows sent, rows claimed or sent): moves as soon as a delivering process claims."""
    with Session(engine) as s:
        states = Counter(r.status for r in s.execute(select(Outbox)).scalars())
    return states["sent"], states["sent"] + states["sending"] + states["verifying"]


def test_sigkill_during_delivery_never_loses_or_duplicates(tmp_path: Path) -> None:
    db = tmp_path / "bank.db"
    engine = seeded_sqlite(db, customers=1500)
    with Session(engine) as s:
        for sb in s.execute(select(Org.id).where(Org.level == "sub_branch")).scalars():
            s.merge(PushDestination(org_id=sb, platform="slack", target=f"C0{sb}"))
        s.commit()
    fake = FakeSlackAPI().start()
    fake.set_clock(time.time)
    now = datetime.now(SHANGHAI).replace(microsecond=0)
    settings = Settings(_env_file=None, SLACK_BOT_TOKEN="xoxb-test-token",  # type: ignore[call-arg]
                        SLACK_SIGNING_SECRET="soak-secret", SLACK_API_URL=fake.base_url)
    # as `rmbot push run` builds them: rendered for Slack, so the kills land on the direct post
    service = PushService(engine, default_policy(), load_calendar(), configured_renderers(settings, engine))
    for kind in ("maturing", "churn", "downgrade"):
        service.build(kind, MONDAY, now=now)
    with Session(engine) as s:
        built = list(s.execute(select(Outbox)).scalars())
    keys = [r.key for r in built]
    assert len(keys) >= 15 and all(r.rendered for r in built)

    rng = random.Random(20261123)
    mid_delivery = 0
    try:
        for _ in range(ROUNDS):
            before = _progress(engine)
            proc = _deliver_process(db, fake)
            # start-up takes 1–6 s on a loaded machine: wait for this process's first claim or send,
            # then kill at a random moment, so kills land during and between sends whatever the load
            deadline = time.monotonic() + 60
            while _progress(engine) == before and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 1.5))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            with Session(engine) as s:
                states = Counter(r.status for r in s.execute(select(Outbox)).scalars())
            mid_delivery += bool(states["sending"] or states["verifying"]) and bool(states["pending"] or states["sent"])
            # no wait for the lease: the next process finds this one dead (same host) and takes over
        final = _deliver_process(db, fake)
        assert final.wait(timeout=120) == 0
        delivered = Counter()
        for channel in {f"C0{k.split(':')[1]}" for k in keys}:
            for message in fake.messages(channel):
                payload = (message.get("metadata") or {}).get("event_payload") or {}
                if "key" in payload:
                    delivered[(payload["key"], payload.get("part", 1))] += 1
    finally:
        fake.stop()
    assert mid_delivery >= 1, "no kill landed while messages were in flight"
    assert {k for k, _ in delivered} == set(keys), "every message delivered"
    assert all(n == 1 for n in delivered.values()), [k for k, n in delivered.items() if n > 1]
    with Session(engine) as s:
        assert {r.status for r in s.execute(select(Outbox)).scalars()} == {"sent"}
