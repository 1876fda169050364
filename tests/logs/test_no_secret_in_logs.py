"""`rmbot serve`, `rmbot push` and `rmbot scheduler` as an operator runs them, at DEBUG, with
known secrets, against the fake WeCom and Slack servers: no line they write, of any level or
stream, contains a secret. The lines that used to carry them (httpx's request log) are there,
redacted, so the test cannot pass by logging nothing."""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from bot.adapters.wecom.crypto import WeComCrypto
from bot.cli import app
from bot.config import Settings, get_settings
from bot.push.wiring import push_service
from bot.store.db import make_engine
from bot.store.models import PushDestination
from bot.store.staff import link_identity
from bot.testing import PG_URL, postgres_schema_engine, seed_bank, DEMO_DATA_DATE
from rules.policy import default_policy
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.wecom_api import CORP_ID, AGENT_ID, FakeWeCom, WeComSender
from tests.slack.support import SlackSim

ROOT = Path(__file__).resolve().parents[2]
RMBOT = [sys.executable, "-m", "bot.cli"]
PUSH_DAY = date(2026, 11, 23)

WECOM_SECRET = "wecom-corp-SECRET-7f3a9c1d"
WECOM_TOKEN = "cbTOKENsecret4242"
WECOM_AES = base64.b64encode(secrets.token_bytes(32)).decode()[:43]
ROBOT_KEY = "5e1d2c3b-robot-KEY-9a8b7c6d"
SLACK_SIGNING = "slack-signing-SECRET-0e9d8c7b"
SLACK_BOT = "xoxb-1111-2222-BotTokenSecret"
SLACK_APP = "xapp-1-A111-3333-AppTokenSecret"
AUDIT_KEY = "audit-hmac-KEY-6b5a4f3e2d"
PG_PASSWORD = "PgPassw0rd-SECRET-5150"
KNOWN = [WECOM_SECRET, WECOM_TOKEN, WECOM_AES, ROBOT_KEY, SLACK_SIGNING, SLACK_BOT, SLACK_APP, AUDIT_KEY, PG_PASSWORD,
         "BotTokenSecret", "AppTokenSecret"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(database_url: str, wecom: FakeWeCom, slack: FakeSlackAPI | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WECOM_", "RMBOT_"))}
    env.update({
        "PYTHONPATH": str(ROOT), "DATABASE_URL": database_url, "RMBOT_LOG_LEVEL": "DEBUG",
        "WECOM_CORP_ID": CORP_ID, "WECOM_AGENT_ID": str(AGENT_ID), "WECOM_SECRET": WECOM_SECRET,
        "WECOM_TOKEN": WECOM_TOKEN, "WECOM_ENCODING_AES_KEY": WECOM_AES, "WECOM_API_URL": wecom.url,
        "RMBOT_AUDIT_KEY": AUDIT_KEY,
    })
    if slack is not None:
        env.update({"SLACK_BOT_TOKEN": SLACK_BOT, "SLACK_SIGNING_SECRET": SLACK_SIGNING, "SLACK_APP_TOKEN": SLACK_APP,
                    "SLACK_API_URL": slack.base_url})
    env.update(extra)
    return env


def assert_no_secret(output: str, wecom: FakeWeCom) -> None:
    issued = [c.answer["access_token"] for c in wecom.calls_to("/cgi-bin/gettoken") if c.answer.get("access_token")]
    assert issued, "no access token was fetched: the test did not exercise WeCom"
    for line in output.splitlines():
        for secret in KNOWN + issued:
            assert secret not in line, f"secret {secret[:6]}… in: {line}"


@pytest.fixture
def wecom() -> Iterator[FakeWeCom]:
    server = FakeWeCom(secret=WECOM_SECRET, robot_keys=(ROBOT_KEY,)).start()
    yield server
    server.stop()


@pytest.fixture
def slack() -> Iterator[FakeSlackAPI]:
    fake = FakeSlackAPI().start()
    yield fake
    fake.stop()


@pytest.fixture
def bank(_seeded_template: Path, tmp_path: Path) -> Path:
    """A copy of the seeded demo bank: 王芳 (RM001) on both chats, SB01's pushes to the robot."""
    path = tmp_path / "bank.db"
    shutil.copy(_seeded_template, path)
    engine = make_engine(f"sqlite:///{path}")
    with Session(engine) as s:
        link_identity(s, "wecom", "wangfang", "RM001")
        link_identity(s, "slack", "UWANGFANG", "RM001")
        s.commit()
    engine.dispose()
    return path


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text(errors="replace")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("serve did not start: " + log.read_text(errors="replace"))


def wait_until(check, timeout: float = 20.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_serve_logs_no_secret_at_debug(bank: Path, wecom: FakeWeCom, slack: FakeSlackAPI, tmp_path: Path) -> None:
    port = free_port()
    env = environment(f"sqlite:///{bank}", wecom, slack, RMBOT_HOST="127.0.0.1", RMBOT_PORT=str(port))
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(RMBOT + ["serve", "--no-scheduler"], cwd=tmp_path, env=env, stdout=sink, stderr=sink)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, log)
        sender = WeComSender(url, WeComCrypto(WECOM_TOKEN, WECOM_AES, CORP_ID))
        assert sender.text("wangfang", "/whoami").status_code == 200
        assert sender.post(sender.text_xml("wangfang", "/help", "1"), signature="0" * 40).status_code == 403
        wait_until(lambda: len(wecom.delivered()) >= 1)
        sender.close()
        sim = SlackSim(url, slack, secret=SLACK_SIGNING)
        resp, _ = sim.command("whoami", user="UWANGFANG")
        assert resp.status_code == 200
        sim.event({"type": "message", "channel_type": "im", "channel": "D0RMBOT01", "user": "UWANGFANG",
                   "text": "/whoami", "ts": f"{time.time():.6f}"})
        slack.wait_for("chat.postMessage", timeout=10)
        sim.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    output = log.read_text(errors="replace")
    assert "corpsecret=***" in output and "access_token=***" in output, output[-3000:]
    assert "msg_signature=***" in output  # uvicorn's access log, through the same filter
    assert "+08:00 " in output.splitlines()[0] or any("+08:00 DEBUG" in line for line in output.splitlines())
    assert_no_secret(output, wecom)


def test_push_on_postgres_logs_json_and_no_secret(pg_schema: str, wecom: FakeWeCom, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    engine = postgres_schema_engine(pg_schema)
    from bot.store.migrate import upgrade

    upgrade(engine)
    seed_bank(engine, default_policy(), customers=400, seed=7, data_date=DEMO_DATA_DATE)
    engine.dispose()
    host = PG_URL.split("@", 1)[1]
    url = f"postgresql+psycopg://postgres:{PG_PASSWORD}@{host}?options=-csearch_path%3D{pg_schema}"
    env = environment(url, wecom, RMBOT_LOG_FORMAT="json")

    # the operator's commands, in-process (a subprocess costs seconds on a loaded machine)
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        set_ = CliRunner().invoke(app, ["push", "dest", "set", "SB01", "wecom_robot", ROBOT_KEY])
        listed = CliRunner().invoke(app, ["push", "dest", "list"])
    finally:
        get_settings.cache_clear()
    assert set_.exit_code == 0 and listed.exit_code == 0, set_.output + listed.output
    assert "wecom_robot    ***7c6d" in listed.stdout and "已设置 SB01 → wecom_robot:***7c6d" in set_.stdout
    assert ROBOT_KEY not in set_.output + listed.output
    # the push itself, as cron would run it
    ran = subprocess.run(RMBOT + ["push", "run", "--date", PUSH_DAY.isoformat(), "--kind", "maturing",
                                  "--branch", "SB01"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert wecom.delivered("/cgi-bin/webhook/send")
    assert_no_secret(ran.stdout + "\n" + ran.stderr, _fetch_token(wecom))
    entries = [json.loads(line) for line in ran.stderr.splitlines() if line.startswith("{")]
    assert any("key=***" in e["message"] for e in entries), ran.stderr[-2000:]
    assert all(e["time"].endswith("+08:00") and e["level"] and e["logger"] for e in entries)
    assert not [line for line in ran.stderr.splitlines() if line[:4].isdigit()]  # every log line is JSON


def _fetch_token(wecom: FakeWeCom) -> FakeWeCom:
    """A robot needs no access token; fetch one over the fake so `assert_no_secret` has tokens to look for."""
    httpx.get(wecom.url + "/cgi-bin/gettoken", params={"corpid": CORP_ID, "corpsecret": WECOM_SECRET}, timeout=5)
    return wecom


def test_scheduler_logs_no_secret_at_debug(bank: Path, wecom: FakeWeCom, tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{bank}")
    with Session(engine) as s:
        s.merge(PushDestination(org_id="SB01", platform="wecom_robot", target=ROBOT_KEY))
        s.merge(PushDestination(org_id="SB02", platform="wecom_appchat", target="chat-sb02"))
        s.commit()
    built = push_service(engine, default_policy(), Settings(_env_file=None)).build(
        "maturing", PUSH_DAY, branch_ids=["SB01", "SB02"], force=True)
    assert sum(b.enqueued for b in built.branches) >= 2
    engine.dispose()
    log = tmp_path / "scheduler.log"
    env = environment(f"sqlite:///{bank}", wecom)
    with log.open("wb") as sink:
        proc = subprocess.Popen(RMBOT + ["scheduler"], cwd=tmp_path, env=env, stdout=sink, stderr=sink)
    try:
        wait_until(lambda: wecom.delivered("/cgi-bin/webhook/send") and wecom.calls_to("/cgi-bin/appchat/send")
                   or proc.poll() is not None)
        time.sleep(0.3)  # the log lines of the last answers
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    output = log.read_text(errors="replace")
    assert wecom.delivered("/cgi-bin/webhook/send"), output[-3000:]
    assert "key=***" in output and "corpsecret=***" in output and "access_token=***" in output, output[-3000:]
    assert_no_secret(output, wecom)
