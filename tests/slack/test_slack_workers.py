"""`rmbot serve --workers 2`: two HTTP processes behind one port, sharing the store.

The real command in a subprocess, the fake Slack for the Web API, signed requests over real
HTTP. Each request opens a new connection, so the kernel spreads them over both workers: a
replay or a retried event must be refused by whichever worker it reaches.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.slack_api import FakeSlackAPI
from tests.slack.support import SECRET, U_WANG, SlackSim, all_text, build_store

ROOT = Path(__file__).resolve().parents[2]

REPLAYS = 12
"""All landing on the worker that saw the original has probability 2^-11."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory, fake_api: FakeSlackAPI) -> Iterator[str]:
    home = tmp_path_factory.mktemp("serve")
    build_store(home / "rmbot.db").dispose()
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{home / 'rmbot.db'}",
           "SLACK_BOT_TOKEN": "xoxb-test-token", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake_api.base_url,
           "RMBOT_HOST": "127.0.0.1", "RMBOT_PORT": str(port), "RMBOT_LOG_LEVEL": "WARNING"}
    server = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--workers", "2", "--no-scheduler"],
                              cwd=home, env=env, stdout=subprocess.DEVNULL, stderr=(home / "serve.log").open("wb"))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_both_workers(url, server, home / "serve.log")
        yield url
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def wait_for_both_workers(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    """Until two sockets listen on the port (spawned workers start one after the other)."""
    port = int(url.rsplit(":", 1)[1])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text(errors="replace")
        if listening(port) == 2:
            assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
            return
        time.sleep(0.2)
    raise AssertionError("workers did not start: " + log.read_text(errors="replace"))


def listening(port: int) -> int:
    """Listening sockets on 127.0.0.1:`port` (one per worker, SO_REUSEPORT)."""
    local = f"0100007F:{port:04X}"
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for row in rows if row.split()[1] == local and row.split()[3] == "0A")


def fresh(sim_url: str, fake: FakeSlackAPI) -> SlackSim:
    """A simulator whose every request opens a new connection (so any worker may take it)."""
    sim = SlackSim(sim_url, fake)
    sim.http = httpx.Client(timeout=10, limits=httpx.Limits(max_keepalive_connections=0))
    return sim


def test_two_workers_answer_and_refuse_replays_whichever_gets_them(workers: str, fake: FakeSlackAPI) -> None:
    sim = fresh(workers, fake)
    resp, _ = sim.command("whoami", user=U_WANG)
    assert "王芳" in all_text(resp.json())
    body = resp.request.content
    headers = {k: v for k, v in resp.request.headers.items() if k.lower().startswith(("x-slack", "content-type"))}
    replays = [sim.http.post(sim.url, content=body, headers=headers) for _ in range(REPLAYS)]
    assert [r.status_code for r in replays] == [401] * REPLAYS
    sim.close()


def test_a_retried_event_is_answered_once_across_workers(workers: str, fake: FakeSlackAPI) -> None:
    sim = fresh(workers, fake)
    event = {"type": "message", "channel_type": "im", "channel": "D0RMBOT01", "user": U_WANG, "text": "/whoami",
             "ts": f"{time.time():.6f}"}
    _, event_id = sim.event(event)
    for n in range(1, REPLAYS):
        body = {"token": "deprecated", "team_id": "T00000001", "api_app_id": "A0RMBOT01", "type": "event_callback",
                "event_id": event_id, "event_time": int(time.time()), "event": event}
        sim.post(json.dumps(body), content_type="application/json", headers={"X-Slack-Retry-Num": str(n)})
    [posted] = fake.wait_for("chat.postMessage", timeout=10)
    assert "王芳" in all_text(posted.params)
    time.sleep(1.0)
    assert len(fake.calls("chat.postMessage")) == 1
    sim.close()
