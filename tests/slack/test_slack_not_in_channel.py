"""A bot never invited to a branch channel: the dead row and the log line name the channel and
the fix (before, the row died as "Slack not_in_channel (HTTP 200)" and nobody was told what to do)."""

from __future__ import annotations

import logging

import pytest

from bot.adapters.slack.push import SlackSender
from bot.testing import Harness
from tests.fakes.slack_api import FakeSlackAPI
from tests.slack.test_slack_push import Clock, bank, build, clock, rows, sender, worker  # noqa: F401


def test_not_in_channel_dead_row_says_which_channel_and_how_to_fix(
        bank: Harness, sender: SlackSender, fake: FakeSlackAPI, clock: Clock,  # noqa: F811
        caplog: pytest.LogCaptureFixture) -> None:
    enqueued = build(bank)
    fake.not_member("C0SB01")
    with caplog.at_level(logging.ERROR, logger="rmbot"):
        stats = worker(bank, sender, clock).drain()
    assert stats.dead == 1 and stats.sent == enqueued - 1
    [dead] = [r for r in rows(bank) if r.status == "dead"]
    error = dead.last_error or ""
    assert "not_in_channel" in error and "C0SB01" in error and "/invite @rmbot" in error
    assert "rmbot push dest check" in error
    logged = [r.getMessage() for r in caplog.records if "dead" in r.getMessage()]
    assert any("C0SB01" in m and "/invite @rmbot" in m for m in logged), logged
