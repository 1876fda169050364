"""The `rmbot` command as an operator runs it: real subprocesses on a real SQLite file."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.adapters.console import repl
from bot.testing import Harness

RMBOT = [sys.executable, "-m", "bot.cli"]


def run(args: list[str], db: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "RMBOT_LOG_LEVEL": "WARNING", **env}
    return subprocess.run(RMBOT + args, capture_output=True, text=True, env=environ, timeout=120, cwd=db.parent)


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("cli") / "bank.db"
    result = run(["seed", "--customers", "300", "--seed", "3", "--data-date", "2026-11-20"], db)
    assert result.returncode == 0, result.stderr
    assert "C0000001" in result.stdout and "RM001" in result.stdout and "数据日期 2026-11-20" in result.stdout
    return db


def test_seed_refuses_to_overwrite_and_if_empty_skips(seeded_db: Path) -> None:
    again = run(["seed", "--customers", "300"], seeded_db)
    assert again.returncode == 2 and "--reset" in again.stderr
    skip = run(["seed", "--if-empty"], seeded_db)
    assert skip.returncode == 0 and "跳过" in skip.stdout


def test_seed_reset_rebuilds(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    assert run(["seed", "--customers", "100", "--data-date", "2026-11-20"], db).returncode == 0
    run(["ask", "--as", "RM001", "/tier C0000001"], db)  # leaves an audit entry
    refused = run(["seed", "--customers", "120", "--reset", "--data-date", "2026-11-20"], db)
    assert refused.returncode == 2 and "审计日志" in refused.stderr and "--yes" in refused.stderr
    assert "Traceback" not in refused.stderr
    kept = run(["audit", "--last", "5"], db)
    assert "C0000001" in kept.stdout  # nothing was dropped
    rebuilt = run(["seed", "--customers", "120", "--reset", "--yes", "--data-date", "2026-11-20"], db)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "120 位客户" in rebuilt.stdout


def test_ask_text_json_and_exit_codes(seeded_db: Path) -> None:
    ok = run(["ask", "--as", "RM001", "/tier C0000001"], seeded_db)
    assert ok.returncode == 0 and "贵宾客户" in ok.stdout
    as_json = run(["ask", "--as", "RM001", "--json", "/tier C0000001"], seeded_db)
    assert json.loads(as_json.stdout)["summary"] == "贵宾客户"
    group = run(["ask", "--as", "RM001", "--channel", "group", "/tier C0000001"], seeded_db)
    assert "脱敏" in group.stdout
    bad = run(["ask", "--as", "RM001", "/tier"], seeded_db)
    assert bad.returncode == 1 and "用法" in bad.stdout and "Traceback" not in bad.stdout + bad.stderr
    wrong_channel = run(["ask", "--as", "RM001", "--channel", "party", "/help"], seeded_db)
    assert wrong_channel.returncode == 2


def test_ask_on_missing_database_gives_hint(tmp_path: Path) -> None:
    result = run(["ask", "--as", "RM001", "/tier C0000001"], tmp_path / "none.db")
    assert result.returncode == 1 and "rmbot db upgrade" in result.stdout


def test_staff_link_and_audit(seeded_db: Path) -> None:
    linked = run(["staff", "link", "slack", "U0TEST", "rm001"], seeded_db)
    assert linked.returncode == 0 and "RM001" in linked.stdout
    unknown = run(["staff", "link", "slack", "U0TEST", "NOPE"], seeded_db)
    assert unknown.returncode == 2 and "unknown staff" in unknown.stderr
    platform = run(["staff", "link", "teams", "x", "RM001"], seeded_db)
    assert platform.returncode == 2
    run(["ask", "--as", "RM001", "/tier C0000014"], seeded_db)
    audit = run(["audit", "--last", "5"], seeded_db)
    assert "C0000014" in audit.stdout and "denied" in audit.stdout


def test_db_upgrade_on_unreachable_database(tmp_path: Path) -> None:
    result = run(["db", "upgrade"], tmp_path / "x.db", DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")
    assert result.returncode == 2 and "不可用" in result.stderr


def test_serve_without_platforms_is_a_clear_error(seeded_db: Path) -> None:
    result = run(["serve"], seeded_db, SLACK_BOT_TOKEN="", WECOM_CORP_ID="")
    assert result.returncode == 2 and "没有配置" in result.stderr


def test_console_chat_loop_runs_commands_and_buttons(rmbot: Harness) -> None:
    lines = iter(["/tier C0000001", "!1", "!9", "", "exit"])
    output: list[str] = []
    repl(rmbot.bot, "RM001", "dm", lambda _prompt: next(lines), output.append)
    text = "".join(output)
    assert "贵宾客户" in text and "已记录跟进" in text and "没有这个按钮" in text


def test_commands_on_a_missing_database_give_a_message_not_a_traceback(tmp_path: Path) -> None:
    for args in (["audit"], ["staff", "unlink", "slack", "U1"], ["push", "status"]):
        result = run(args, tmp_path / "none.db")
        assert result.returncode == 2, args
        assert "Traceback" not in result.stdout + result.stderr and "rmbot db upgrade" in result.stderr, args


def test_an_invalid_setting_is_named_not_a_traceback(seeded_db: Path) -> None:
    result = run(["ask", "--as", "RM001", "/help"], seeded_db, RMBOT_PORT="abc")
    assert result.returncode == 2 and "RMBOT_PORT" in result.stderr and "Traceback" not in result.stderr
