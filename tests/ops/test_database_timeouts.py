"""A stalled database (the link open, nothing answering) or a locked one: every command answers
暂时不可用 within 5 s, the console shows one warning line (no traceback), and service resumes."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine, make_url

from bot.config import Settings
from bot.store.db import make_engine
from bot.testing import PG_URL, Harness
from tests.fakes.tcp_proxy import CuttableProxy
from tests.ops.conftest import RMBOT, environment

BOUND = 5.0
SETTINGS = Settings(_env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def stallable(rmbot_pg: Harness, pg_schema: str) -> Iterator[tuple[Harness, CuttableProxy, str]]:
    proxy = CuttableProxy()
    url = PG_URL.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    engine = make_engine(url, timeouts=SETTINGS.db_timeouts(interactive=True),
                         connect_args={"options": f"-csearch_path={pg_schema}"})
    yield Harness(engine), proxy, url
    proxy.restore()
    engine.dispose()
    proxy.close()


def _timed(bot: Harness) -> tuple[float, str]:
    start = time.monotonic()
    answer = bot.ask("RM001", "/tier C0000001")
    return time.monotonic() - start, answer.text


def test_postgres_stalled_answers_within_5_s_and_recovers(stallable: tuple[Harness, CuttableProxy, str]) -> None:
    bot, proxy, _ = stallable
    assert "C0000001" in bot.ask("RM001", "/tier C0000001").text
    proxy.stall()
    for _ in range(2):  # the pooled connection's ping, then a fresh connection that cannot open
        took, text = _timed(bot)
        assert "暂时不可用" in text and took < BOUND, (took, text)
    proxy.restore()
    took, text = _timed(bot)
    assert "C0000001" in text and "暂时不可用" not in text and took < BOUND, (took, text)


def test_postgres_stalled_mid_command_is_bounded_too(stallable: tuple[Harness, CuttableProxy, str],
                                                     rmbot_pg: Harness) -> None:
    """A connection that stalls after its ping (inside the command's statements)."""
    bot, proxy, _ = stallable
    from sqlalchemy import event

    def stall_now(*_: object) -> None:
        proxy.stall()

    event.listen(bot.engine, "before_cursor_execute", stall_now)
    try:
        took, text = _timed(bot)
    finally:
        event.remove(bot.engine, "before_cursor_execute", stall_now)
    assert "暂时不可用" in text and took < BOUND, (took, text)


def test_sqlite_locked_by_another_writer_answers_within_5_s(tmp_path: Path, rmbot: Harness) -> None:
    path = make_url(str(rmbot.engine.url)).database
    engine = make_engine(f"sqlite:///{path}", timeouts=SETTINGS.db_timeouts(interactive=True))
    bot = Harness(engine)
    assert "C0000001" in bot.ask("RM001", "/tier C0000001").text
    holder = sqlite3.connect(str(path), timeout=1)
    holder.execute("BEGIN EXCLUSIVE")  # an import's long write transaction
    try:
        took, text = _timed(bot)
    finally:
        holder.rollback()
        holder.close()
    assert "暂时不可用" in text and took < BOUND, (took, text)
    assert "C0000001" in bot.ask("RM001", "/tier C0000001").text
    engine.dispose()


def test_console_chat_shows_one_line_per_failed_command_no_traceback(
        stallable: tuple[Harness, CuttableProxy, str], pg_schema: str, tmp_path: Path) -> None:
    _, proxy, url = stallable
    env = environment(f"{url}?options=-csearch_path%3D{pg_schema}")
    proc = subprocess.Popen(RMBOT + ["chat", "--as", "RM001"], cwd=tmp_path, env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    seen = ""
    while "输入命令" not in seen:  # the /whoami greeting answered: connected
        line = proc.stdout.readline()
        assert line, proc.communicate(timeout=10)[1]
        seen += line
    proxy.stall()
    start = time.monotonic()
    proc.stdin.write("/tier C0000001\n/tier C0000001\nexit\n")
    proc.stdin.flush()
    out, err = proc.communicate(timeout=60)
    took = time.monotonic() - start
    assert proc.returncode == 0
    assert out.count("暂时不可用") == 2 and took < 2 * BOUND + 1, (took, out)
    assert "Traceback" not in err, err
    warnings = [line for line in err.splitlines() if "store unavailable" in line]
    assert len(warnings) == 2 and len([ln for ln in err.splitlines() if ln.strip()]) <= 3, err
