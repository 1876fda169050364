"""The durable inbox for Slack (issue 14): DMs accepted by a real `rmbot serve slack` are
answered exactly once, in order, across a SIGKILL and a SIGTERM with replies in flight, and
Slack's retries of accepted events after the restart are not answered again. A slow slash
command stored at its ack deadline is answered through its response_url by the next start."""

from __future__ import annotations

import json
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from bot.config import load_policy
from bot.core.app import Rmbot
from bot.core.inbox import InboxService
from bot.server import build_app
from bot.store.db import make_engine
from bot.store.inbox import accept, open_count
from bot import clock
from bot.store.staff import link_identity
from tests.fakes.slack_api import FakeSlackAPI
from tests.ops.conftest import Served, environment, wait_until
from tests.slack.support import SECRET, SlackSim, serve, slack_settings

USER = "UWANGFANG"
DM = "D0RMBOT01"
ANSWER = re.compile(r"nosuch(\d+)")


@pytest.fixture
def slack() -> Iterator[FakeSlackAPI]:
    fake = FakeSlackAPI().start()
    yield fake
    fake.stop()


def _env(bank: Path, fake: FakeSlackAPI) -> dict[str, str]:
    return environment(f"sqlite:///{bank}", SLACK_BOT_TOKEN="xoxb-test-token", SLACK_SIGNING_SECRET=SECRET,
                       SLACK_API_URL=fake.base_url)


def _link(bank: Path) -> None:
    engine = make_engine(f"sqlite:///{bank}")
    with Session(engine) as s:
        link_identity(s, "slack", USER, "RM001")
        s.commit()
    engine.dispose()


def _answers(fake: FakeSlackAPI) -> list[int]:
    out = []
    for message in fake.messages(DM):
        found = ANSWER.search(json.dumps(message, ensure_ascii=False))
        if found:
            out.append(int(found.group(1)))
    return out


def _dm(sim: SlackSim, n: int, event_id: str) -> int:
    event = {"type": "message", "channel": DM, "channel_type": "im", "user": USER, "text": f"/nosuch{n:02d}",
             "ts": f"{time.time():.6f}"}
    try:
        return sim.event(event, event_id=event_id)[0].status_code
    except httpx.HTTPError:
        return 0


def test_dms_survive_sigkill_and_sigterm_and_slack_retries(bank: Path, slack: FakeSlackAPI, tmp_path: Path) -> None:
    _link(bank)
    slack.delay = 0.08  # each Web API call takes 80 ms: replies are still going out at the kill
    env = _env(bank, slack)
    served = Served(["serve", "slack", "--no-scheduler"], env, tmp_path)
    sent: list[int] = []
    n = 0
    try:
        for how in (signal.SIGKILL, signal.SIGTERM):
            served.wait_healthy()
            sim = SlackSim(served.url, slack)
            for _ in range(5):
                assert _dm(sim, n, f"Ev{n:04d}") == 200
                sent.append(n)
                n += 1
            time.sleep(0.05)
            served.proc.send_signal(how)
            served.proc.wait(timeout=30)
            sim.close()
            served = Served(["serve", "slack", "--no-scheduler"], env, tmp_path)
            served.wait_healthy()
            sim = SlackSim(served.url, slack)
            for retry in sent[-3:]:  # Slack retries the last events with the same event ids
                assert _dm(sim, retry, f"Ev{retry:04d}") == 200
            sim.close()
        wait_until(lambda: len(_answers(slack)) >= len(sent), 60, "every reply")
        time.sleep(0.5)
        assert served.terminate() == 0
    finally:
        served.kill()
    got = _answers(slack)
    collapsed = [x for i, x in enumerate(got) if i == 0 or got[i - 1] != x]
    assert collapsed == sent, got
    assert len(got) - len(collapsed) <= 1, got  # the SIGKILL's one in-flight reply at most (no read-back)


def test_a_slow_command_stored_at_its_deadline_is_answered_by_the_next_start(
        bank: Path, slack: FakeSlackAPI) -> None:
    """The row a stopped process left (stored before the empty ack): the next start's inbox
    computes the answer and sends it through the response_url, once."""
    _link(bank)
    engine = make_engine(f"sqlite:///{bank}")
    settings = slack_settings(slack, DATABASE_URL=f"sqlite:///{bank}")
    response_url = slack.response_url("slow-1")
    body = {"command": "/whoami", "text": "", "user_id": USER, "channel_id": DM, "channel_name": "directmessage",
            "response_url": response_url, "trigger_id": "9.9.9", "team_id": "T00000001"}
    assert accept(engine, "cmd:9.9.9", "slack", USER, json.dumps({"slash": body}), clock.now()) is not None
    bot = Rmbot(engine, load_policy(settings))
    app = build_app(bot, settings, ["slack"])
    inbox: InboxService = app.state.inbox
    inbox.start()
    try:
        assert inbox.drain(10)
    finally:
        inbox.stop(5)
    answers = [c for c in slack.calls("response_url") if c.path.endswith("/slow-1")]
    assert len(answers) == 1, [c.method for c in slack.calls()]
    assert "RM001" in json.dumps(answers[0].params, ensure_ascii=False)
    assert open_count(engine) == 0
    engine.dispose()


def test_a_slow_command_is_stored_before_its_empty_ack(bank: Path, slack: FakeSlackAPI) -> None:
    """Over HTTP: the core outlasts the ack deadline; the row exists when the ack arrives, and
    the answer follows via response_url once."""
    from bot.core.registry import REGISTRY, CommandSpec
    from bot.core.reply import Reply

    _link(bank)
    engine = make_engine(f"sqlite:///{bank}")
    settings = slack_settings(slack, DATABASE_URL=f"sqlite:///{bank}")

    def slow(ctx: object, args: list[str]) -> Reply:
        time.sleep(0.6)
        return Reply(title="慢命令", summary="slow answer 42")

    from starlette.applications import Starlette

    from bot.adapters.slack import routes
    from bot.adapters.slack.app import build_app as build_bolt
    from bot.core.registry import Registry

    registry = Registry()
    for spec in REGISTRY.commands():
        registry.add_command(spec)
    registry.add_command(CommandSpec(name="slowinbox", summary="test", usage="/slowinbox", handler=slow))
    bot = Rmbot(engine, load_policy(settings), registry=registry)
    inbox = InboxService(engine)
    bolt = build_bolt(bot, settings, answer_within=0.2, inbox=inbox)
    with serve(Starlette(routes=routes(bot, settings, app=bolt))) as url:
        sim = SlackSim(url, slack)
        resp, response_url = sim.command("slowinbox", user=USER)
        assert resp.status_code == 200 and not resp.text
        with engine.connect() as conn:
            from sqlalchemy import text

            assert conn.execute(text("SELECT count(*) FROM inbox WHERE key LIKE 'cmd:%'")).scalar() == 1
        assert inbox.drain(10)
        # the simulator sends one trigger_id for every command: a repeat is answered directly, not dropped
        again_resp, again_url = sim.command("slowinbox", user=USER)
        assert again_resp.status_code == 200
        again = again_url.rsplit("/", 1)[1]
        wait_until(lambda: slack.calls("response_url", where=lambda c: c.path.endswith("/" + again)), 10,
                   "the repeated trigger's answer")
        sim.close()
    inbox.stop(2)
    name = response_url.rsplit("/", 1)[1]
    answers = [c for c in slack.calls("response_url") if c.path.endswith("/" + name)]
    assert len(answers) == 1 and "slow answer 42" in json.dumps(answers[0].params, ensure_ascii=False)
    engine.dispose()
