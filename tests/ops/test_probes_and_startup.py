"""/healthz and /readyz, and start-up checks that name every bad setting (exit code 2)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from bot.config import Settings
from bot.core.app import Rmbot
from bot.server import build_app
from bot.startup import check
from bot.store.db import make_engine
from bot.testing import Harness
from rules.policy import default_policy
from tests.fakes.wecom_api import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, FakeWeCom
from tests.ops.conftest import RMBOT, Served, environment

WECOM = {"WECOM_CORP_ID": CORP_ID, "WECOM_AGENT_ID": str(AGENT_ID), "WECOM_SECRET": SECRET, "WECOM_TOKEN": TOKEN,
         "WECOM_ENCODING_AES_KEY": AES_KEY}


def _ready(h: Harness, settings: Settings, platforms: list[str]) -> httpx.Response:
    from starlette.testclient import TestClient

    app = build_app(Rmbot(h.engine, default_policy()), settings, platforms)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        return client.get("/readyz")


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_readyz_is_503_with_the_reason_when_the_schema_is_behind_head(db: str, request: pytest.FixtureRequest) -> None:
    h: Harness = request.getfixturevalue("rmbot" if db == "sqlite" else "rmbot_pg")
    settings = Settings(_env_file=None, **WECOM)  # type: ignore[arg-type]
    assert _ready(h, settings, ["wecom"]).status_code == 200
    with h.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0007'"))
    resp = _ready(h, settings, ["wecom"])
    assert resp.status_code == 503
    assert any("schema at revision 0007" in r and "rmbot db upgrade" in r for r in resp.json()["reasons"]), resp.json()


def test_readyz_is_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    gone = Harness(make_engine(f"sqlite:///{tmp_path}/missing/dir/x.db"))
    resp = _ready(gone, Settings(_env_file=None), [])  # type: ignore[call-arg]
    assert resp.status_code == 503 and "database unreachable" in resp.json()["reasons"][0], resp.json()


def test_every_bad_setting_is_named_at_once() -> None:
    settings = Settings(_env_file=None, WECOM_CORP_ID=CORP_ID, WECOM_SECRET=SECRET,  # type: ignore[call-arg]
                        WECOM_TOKEN="bad token!", WECOM_ENCODING_AES_KEY=AES_KEY[:42])
    problems = check(settings, ["wecom"])
    assert [p.split()[1] for p in problems] == ["WECOM_AGENT_ID", "WECOM_TOKEN", "WECOM_ENCODING_AES_KEY"], problems
    slack = Settings(_env_file=None, SLACK_BOT_TOKEN="xoxp-user-token")  # type: ignore[call-arg]
    assert [p.split()[1] for p in check(slack, ["slack"])] == ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"]
    assert [p.split()[1] for p in check(slack, ["slack"], socket_mode=True)] == ["SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"]


def _serve(args: list[str], bank: Path, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(RMBOT + ["serve", *args, "--no-scheduler"], cwd=tmp_path, capture_output=True, text=True,
                          env=environment(f"sqlite:///{bank}", **env), timeout=120)


def test_serve_wecom_without_agent_id_and_a_short_key_exits_2_naming_both(bank: Path, tmp_path: Path) -> None:
    env = {**WECOM, "WECOM_ENCODING_AES_KEY": AES_KEY[:42]}
    del env["WECOM_AGENT_ID"]
    result = _serve(["wecom"], bank, tmp_path, **env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "WECOM_AGENT_ID" in result.stderr and "WECOM_ENCODING_AES_KEY" in result.stderr
    assert "43" in result.stderr and "Traceback" not in result.stderr + result.stdout


def test_serve_with_an_agent_id_that_is_not_a_number_exits_2(bank: Path, tmp_path: Path) -> None:
    result = _serve(["wecom"], bank, tmp_path, **{**WECOM, "WECOM_AGENT_ID": "abc"})
    assert result.returncode == 2 and "WECOM_AGENT_ID" in result.stderr and "Traceback" not in result.stderr


def test_socket_mode_with_slack_unreachable_retries_with_backoff(bank: Path, wecom: FakeWeCom, tmp_path: Path) -> None:
    env = environment(f"sqlite:///{bank}", wecom, SLACK_BOT_TOKEN="xoxb-test", SLACK_APP_TOKEN="xapp-1-test",
                      SLACK_API_URL="http://127.0.0.1:9/api/")  # nothing listens on the discard port
    served = Served(["serve", "--socket-mode", "--no-scheduler"], env, tmp_path)
    try:
        served.wait_healthy()  # WeCom over HTTP is served meanwhile
        import time

        deadline = time.monotonic() + 30
        while served.output().count("Socket Mode cannot connect") < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        code = served.terminate()
    finally:
        served.kill()
    output = served.output()
    assert output.count("Socket Mode cannot connect") >= 2 and "retrying in 2 s" in output, output[-3000:]
    assert "Traceback" not in output and code == 0, output[-3000:]
