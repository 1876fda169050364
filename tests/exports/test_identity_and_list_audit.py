"""Issue 13 item 4, identity changes and lists: `rmbot staff link slack U0ATTACKER REG01` (and
unlink) were not audited; a list's audit detail was cut at 500 characters (REG01's list named
fewer customers than it showed). On SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from bot.config import get_settings
from bot.testing import Harness
from tests.exports.conftest import url_of
from tests.exports.test_export_audit import _ids, _rows


@pytest.fixture
def cli_env(bank: Harness, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    monkeypatch.setenv("DATABASE_URL", url_of(bank.engine))
    get_settings.cache_clear()
    yield bank
    get_settings.cache_clear()


def test_staff_link_and_unlink_are_audited(cli_env: Harness) -> None:
    from bot.cli import app

    runner = CliRunner()
    linked = runner.invoke(app, ["staff", "link", "slack", "U0ATTACKER", "REG01"])
    assert linked.exit_code == 0, linked.output
    moved = runner.invoke(app, ["staff", "link", "slack", "U0ATTACKER", "RM001"])
    assert moved.exit_code == 0, moved.output
    gone = runner.invoke(app, ["staff", "unlink", "slack", "U0ATTACKER"])
    assert gone.exit_code == 0, gone.output
    links = _rows(cli_env, "staff_link")
    assert [(e.target, e.outcome, e.detail) for e in links] == [
        ("slack:U0ATTACKER", "allowed", "slack:U0ATTACKER -> REG01 (before: not linked)"),
        ("slack:U0ATTACKER", "allowed", "slack:U0ATTACKER -> RM001 (before: REG01)"),
    ]
    assert all(e.user_ref and e.platform == "cli" for e in links)
    unlinks = _rows(cli_env, "staff_unlink")
    assert [(e.target, e.detail) for e in unlinks] == [("slack:U0ATTACKER", "slack:U0ATTACKER -> not linked (before: RM001)")]
    refused = runner.invoke(app, ["staff", "link", "slack", "U0X", "NOBODY"])
    assert refused.exit_code != 0 and len(_rows(cli_env, "staff_link")) == 2  # nothing changed, nothing logged


def test_a_list_audit_names_every_customer_shown(bank: Harness) -> None:
    answer = bank.ask("REG01", "/maturing 30")
    shown = list(dict.fromkeys(re.search(r"（([A-Z0-9-]+)）", i.text).group(1)  # type: ignore[union-attr]
                               for s in answer.reply.sections for i in s.items))
    entry = [e for e in _rows(bank, "maturing") if e.target == "list:maturing"][-1]
    assert len(entry.detail or "") > 500  # the old cut
    assert _ids(entry.detail) == shown and len(shown) > 50
