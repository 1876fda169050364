"""Operability tests (issue 14): real `rmbot` processes against a seeded SQLite bank (or
PostgreSQL) and the fake WeCom server."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.store.db import make_engine  # noqa: E402
from bot.store.staff import link_identity  # noqa: E402
from tests.fakes.wecom_api import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, FakeWeCom  # noqa: E402

RMBOT = [sys.executable, "-m", "bot.cli"]
USER = "wangfang"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(database_url: str, wecom: FakeWeCom | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "WECOM_", "RMBOT_"))}
    env.update({"PYTHONPATH": str(ROOT), "DATABASE_URL": database_url, "RMBOT_LOG_LEVEL": "INFO"})
    if wecom is not None:
        env.update({"WECOM_CORP_ID": CORP_ID, "WECOM_AGENT_ID": str(AGENT_ID), "WECOM_SECRET": SECRET,
                    "WECOM_TOKEN": TOKEN, "WECOM_ENCODING_AES_KEY": AES_KEY, "WECOM_API_URL": wecom.url})
    env.update(extra)
    return env


def wait_until(check: Callable[[], object], timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


class Served:
    """`rmbot serve …` in a subprocess, its output in a file."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = cwd / f"serve-{self.port}.log"
        env = {**env, "RMBOT_HOST": "127.0.0.1", "RMBOT_PORT": str(self.port)}
        with self.log.open("wb") as sink:
            self.proc = subprocess.Popen(RMBOT + args, cwd=cwd, env=env, stdout=sink, stderr=sink)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_healthy(self) -> None:
        def up() -> bool:
            assert self.proc.poll() is None, self.output()
            try:
                return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, 90, "rmbot serve to answer /healthz")

    def terminate(self, timeout: float = 60) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def wecom() -> Iterator[FakeWeCom]:
    server = FakeWeCom().start()
    yield server
    server.stop()


@pytest.fixture
def bank(_seeded_template: Path, tmp_path: Path) -> Path:
    """A copy of the seeded demo bank, 王芳 (RM001) linked on WeCom."""
    path = tmp_path / "bank.db"
    shutil.copy(_seeded_template, path)
    engine = make_engine(f"sqlite:///{path}")
    with Session(engine) as s:
        link_identity(s, "wecom", USER, "RM001")
        s.commit()
    engine.dispose()
    return path
