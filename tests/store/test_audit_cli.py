"""`rmbot audit verify` / `checkpoint` and the audit key settings, as an operator runs them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.store.audit_chain import KEYRING_INFO, Keyring
from bot.store.db import make_engine
from bot.store.models import AuditLog
from bot.testing import DEMO_NOW, PG_URL

RMBOT = [sys.executable, "-m", "bot.cli"]
KEY_A = "audit-key-A-5f1c0a8e9b7d4c3a2f1e0d9c8b7a6f5e"
KEY_B = "audit-key-B-0a1b2c3d4e5f60718293a4b5c6d7e8f9"


def run(args: list[str], url: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("RMBOT_AUDIT")}
    environ.update({"DATABASE_URL": url, "RMBOT_LOG_LEVEL": "WARNING", **env})
    return subprocess.run(RMBOT + args, capture_output=True, text=True, env=environ, timeout=120, cwd=cwd)


@pytest.fixture
def bank(_seeded_template: Path, tmp_path: Path) -> tuple[str, Path]:
    """A copy of the seeded demo bank (no audit rows yet) as a DATABASE_URL."""
    path = tmp_path / "bank.db"
    shutil.copy(_seeded_template, path)
    return f"sqlite:///{path}", tmp_path


def rows(url: str, keyring: Keyring, n: int) -> None:
    """Audit rows written the way every command writes them: AuditLog objects on a Session."""
    engine = make_engine(url)
    with Session(engine, info={KEYRING_INFO: keyring}) as s:
        for i in range(n):
            s.add(AuditLog(at=DEMO_NOW + timedelta(seconds=i), staff_id="RM001", platform="console",
                           user_ref="RM001", channel_kind="dm", action="tier", target=f"C{i + 1:07d}", outcome="allowed"))
        s.commit()
    engine.dispose()


def test_verify_passes_untouched_and_names_the_changed_row(bank: tuple[str, Path]) -> None:
    url, cwd = bank
    asked = run(["ask", "--as", "RM001", "/tier C0000014"], url, cwd, RMBOT_AUDIT_KEY=KEY_A)  # denied: audited
    assert "Traceback" not in asked.stderr
    rows(url, Keyring.from_secrets(KEY_A), 2)
    ok = run(["audit", "verify"], url, cwd, RMBOT_AUDIT_KEY=KEY_A)
    assert ok.returncode == 0 and "审计日志完整：3 行" in ok.stdout, ok.stderr
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_log_no_update"))
        conn.execute(text("UPDATE audit_log SET outcome = 'allowed' WHERE target = 'C0000014'"))
    engine.dispose()
    bad = run(["audit", "verify"], url, cwd, RMBOT_AUDIT_KEY=KEY_A)
    assert bad.returncode == 1 and "审计日志被篡改" in bad.stderr and "seq 1（id 1）的内容被修改" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_rotation_unknown_key_and_checkpoint(bank: tuple[str, Path]) -> None:
    url, cwd = bank
    rows(url, Keyring.from_secrets(KEY_A), 1)
    rows(url, Keyring.from_secrets(KEY_B, old=KEY_A), 1)
    both = {"RMBOT_AUDIT_KEY": KEY_B, "RMBOT_AUDIT_OLD_KEYS": KEY_A}
    rotated = run(["audit", "verify"], url, cwd, **both)
    assert rotated.returncode == 0, rotated.stderr
    forgotten = run(["audit", "verify"], url, cwd, RMBOT_AUDIT_KEY=KEY_B)
    assert forgotten.returncode == 1 and "RMBOT_AUDIT_OLD_KEYS" in forgotten.stderr and "seq 1" in forgotten.stderr
    point = run(["audit", "checkpoint"], url, cwd).stdout.strip()
    assert point.startswith("2:") and len(point) == 2 + 64
    wrong = run(["audit", "verify", "--checkpoint", "2:" + "0" * 64], url, cwd, **both)
    assert wrong.returncode == 1 and "检查点" in wrong.stderr
    garbled = run(["audit", "verify", "--checkpoint", "abc"], url, cwd)
    assert garbled.returncode == 2 and "SEQ:MAC" in garbled.stderr


def test_demo_key_rows_fail_once_a_real_key_is_set(bank: tuple[str, Path]) -> None:
    url, cwd = bank
    rows(url, Keyring.from_secrets(None), 1)  # written by a process started without the key
    strict = run(["audit", "verify"], url, cwd, RMBOT_AUDIT_KEY=KEY_A)
    assert strict.returncode == 1 and "演示密钥" in strict.stderr
    allowed = run(["audit", "verify", "--allow-demo"], url, cwd, RMBOT_AUDIT_KEY=KEY_A)
    assert allowed.returncode == 0 and "1 行由公开的演示密钥签名" in allowed.stdout


def test_serve_refuses_postgres_without_an_audit_key(pg_schema: str, pg_engine: Engine, tmp_path: Path) -> None:
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={pg_schema}"}).render_as_string(False)
    slack = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "s" * 32}
    refused = run(["serve", "slack", "--no-scheduler"], url, tmp_path, **slack)
    assert refused.returncode == 2 and "RMBOT_AUDIT_KEY" in refused.stderr and "Traceback" not in refused.stderr
