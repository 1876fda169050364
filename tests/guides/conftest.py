"""The setup guides (docs/slack.md, docs/wecom.md) step by step, as an operator types them: the
real `rmbot` command in a subprocess, on a seeded SQLite file, against the fake Slack and WeCom
servers. Every command a test runs must appear verbatim in its guide (`Guide.run`)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.wecom_api import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, FakeWeCom

ROOT = Path(__file__).resolve().parents[2]


class Guide:
    def __init__(self, name: str, db: Path, env: dict[str, str]) -> None:
        self.text = (ROOT / "docs" / name).read_text(encoding="utf-8")
        self.db = db
        self.env = env

    def run(self, command: str, **extra: str) -> subprocess.CompletedProcess[str]:
        """`command` exactly as the guide prints it (a `$ rmbot …` line)."""
        assert f"$ {command}\n" in self.text, f"the guide does not show: {command}"
        args = shlex.split(command)
        assert args[0] == "rmbot"
        env = {**self.env, **extra}
        return subprocess.run([sys.executable, "-m", "bot.cli", *args[1:]], capture_output=True, text=True,
                              env=env, timeout=120, cwd=self.db.parent)


def base_env(db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WECOM_", "RMBOT_"))}
    env.update({"PYTHONPATH": str(ROOT), "DATABASE_URL": f"sqlite:///{db}", "RMBOT_LOG_LEVEL": "WARNING"})
    return env


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("guide") / "bank.db"
    done = subprocess.run([sys.executable, "-m", "bot.cli", "seed", "--customers", "60", "--seed", "3",
                           "--data-date", "2026-11-20"], capture_output=True, text=True, env=base_env(db),
                          timeout=120, cwd=db.parent)
    assert done.returncode == 0, done.stderr
    return db


@pytest.fixture
def seeded(seeded_template: Path, tmp_path: Path) -> Path:
    """A fresh copy per test (seeding takes seconds)."""
    db = tmp_path / "bank.db"
    shutil.copyfile(seeded_template, db)
    return db


@pytest.fixture
def fake_slack() -> Iterator[FakeSlackAPI]:
    fake = FakeSlackAPI().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_wecom() -> Iterator[FakeWeCom]:
    fake = FakeWeCom().start()
    yield fake
    fake.stop()


@pytest.fixture
def slack_guide(seeded: Path, fake_slack: FakeSlackAPI) -> Guide:
    env = base_env(seeded) | {"SLACK_BOT_TOKEN": "xoxb-guide-test", "SLACK_SIGNING_SECRET": "guide-secret",
                              "SLACK_API_URL": fake_slack.base_url}
    return Guide("slack.md", seeded, env)


@pytest.fixture
def wecom_guide(seeded: Path, fake_wecom: FakeWeCom) -> Guide:
    env = base_env(seeded) | {"WECOM_CORP_ID": CORP_ID, "WECOM_AGENT_ID": str(AGENT_ID), "WECOM_SECRET": SECRET,
                              "WECOM_TOKEN": TOKEN, "WECOM_ENCODING_AES_KEY": AES_KEY, "WECOM_API_URL": fake_wecom.url}
    return Guide("wecom.md", seeded, env)


@pytest.fixture(params=["sqlite", "postgresql"])
def slack_guide_any(request: pytest.FixtureRequest, fake_slack: FakeSlackAPI) -> Guide:
    """The Slack guide on the seeded SQLite file, or on a seeded PostgreSQL schema of its own."""
    if request.param == "sqlite":
        return request.getfixturevalue("slack_guide")
    from bot.testing import PG_URL

    request.getfixturevalue("rmbot_pg")  # seeds the schema
    schema = request.getfixturevalue("pg_schema")
    workdir = request.getfixturevalue("tmp_path")
    env = base_env(workdir / "unused.db") | {
        "DATABASE_URL": f"{PG_URL}?options=-csearch_path%3D{schema}", "SLACK_BOT_TOKEN": "xoxb-guide-test",
        "SLACK_SIGNING_SECRET": "guide-secret", "SLACK_API_URL": fake_slack.base_url}
    return Guide("slack.md", workdir / "unused.db", env)
