"""Issue 13 (7): requests from teams the app is not installed in are refused, over real HTTP
(and Socket Mode), logged and counted, with no customer data in the answer or the log."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk.socket_mode.request import SocketModeRequest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.adapters.slack import socket_mode_handler
from bot.adapters.slack.workspace import REFUSED, refusals, request_teams
from bot.config import Settings
from bot.core.app import Rmbot
from bot.server import build_app as build_server
from bot.store.models import Contact
from tests.fakes.slack_api import FakeSlackAPI
from tests.slack.support import (
    OTHER_TEAM,
    TEAM,
    U_WANG,
    SlackSim,
    all_text,
    block_actions,
    command_answers,
    serve,
    slack_settings,
)

CUSTOMER_DATA = ("张三", "张*", "13812341234", "1234", "C0000001", "金卡")


def refused_total() -> int:
    return sum(refusals().values())


def assert_no_customer_data(text: str) -> None:
    for value in CUSTOMER_DATA:
        assert value not in text, value


def contact_count(engine: Engine) -> int:
    with Session(engine) as s:
        return int(s.scalar(select(func.count()).select_from(Contact)) or 0)


def test_command_from_another_team_is_refused(slack: SlackSim, fake: FakeSlackAPI,
                                              caplog: pytest.LogCaptureFixture) -> None:
    before = refused_total()
    with caplog.at_level(logging.WARNING, logger="rmbot.slack"):
        resp, url = slack.command("tier", "C0000001", team=OTHER_TEAM)
    assert resp.status_code == 200
    body = resp.json()
    assert body == {"response_type": "ephemeral", "text": REFUSED} and REFUSED.startswith("本应用")
    assert_no_customer_data(resp.text)
    assert refused_total() == before + 1 and refusals()["foreign team"] >= 1
    [record] = [r for r in caplog.records if "refused" in r.getMessage()]
    assert OTHER_TEAM in record.getMessage() and "foreign team" in record.getMessage()
    assert_no_customer_data(caplog.text)
    time.sleep(0.2)
    assert fake.calls("response_url") == []
    # the same user in our own workspace is served as before
    [ok] = command_answers(fake, *slack.command("tier", "C0000001"))
    assert "张三" in all_text(ok)


def test_command_without_a_team_is_refused(slack: SlackSim, fake: FakeSlackAPI) -> None:
    resp, _ = slack.command("whoami", drop=("team_id",))
    assert resp.status_code == 200 and resp.json()["text"] == REFUSED and "王芳" not in resp.text
    resp, _ = slack.command("whoami", team="")
    assert resp.json()["text"] == REFUSED


def test_click_by_a_user_of_another_team_is_refused(slack: SlackSim, fake: FakeSlackAPI, engine: Engine) -> None:
    """A Slack Connect channel: the message is in our workspace, the clicker's team is not."""
    [answer] = command_answers(fake, *slack.command("tier", "C0000001"))
    button = next(b for b in answer["blocks"] if b.get("block_id") == "buttons")["elements"][1]
    message = {"type": "message", "text": answer["text"], "blocks": answer["blocks"], "ts": "1700000001.000001"}
    rows = contact_count(engine)
    before = refused_total()
    for team, user_team in ((TEAM, OTHER_TEAM), (OTHER_TEAM, OTHER_TEAM), (OTHER_TEAM, TEAM)):
        url = fake.response_url(uuid.uuid4().hex)
        resp = slack.click(block_actions(user=U_WANG, channel="C0SHARED1", message=message, block_id="buttons",
                                         action_id=button["action_id"], value=button["value"], response_url=url,
                                         team=team, user_team=user_team))
        assert resp.status_code == 403 and resp.text == REFUSED, (team, user_team)
    time.sleep(0.3)
    assert contact_count(engine) == rows
    assert fake.calls("response_url") == [] and fake.calls("chat.update") == []
    assert refused_total() == before + 3


def test_events_of_another_team_are_acknowledged_not_answered(slack: SlackSim, fake: FakeSlackAPI) -> None:
    dm = {"type": "message", "channel_type": "im", "channel": "D0RMBOT01", "user": U_WANG, "text": "/tier C0000001",
          "ts": f"{time.time():.6f}"}
    before = refused_total()
    resp, _ = slack.event(dm, team=OTHER_TEAM)
    assert resp.status_code == 200 and resp.text == ""  # acknowledged: Slack must not retry it
    mention = {"type": "app_mention", "channel": "C0SHARED1", "user": U_WANG, "text": "<@UBOT00001> /tier C0000001",
               "ts": f"{time.time():.6f}", "user_team": OTHER_TEAM}
    resp, _ = slack.event(mention)  # delivered for our workspace, written by a user of another
    assert resp.status_code == 200
    time.sleep(0.3)
    assert fake.calls("chat.postMessage") == []
    assert refused_total() == before + 2
    slack.event(dm)  # ours is answered
    [post] = fake.wait_for("chat.postMessage")
    assert "张三" in all_text(post.params)


def test_request_teams_reads_every_place_a_team_is_named() -> None:
    assert request_teams({"team_id": "T1", "team": {"id": "T1"}, "user": {"team_id": "T2"}}) == {"T1", "T2"}
    assert request_teams({"type": "event_callback", "team_id": "T1", "context_team_id": "T3",
                          "event": {"user_team": "T4", "team": "T5", "source_team": "T6"},
                          "authorizations": [{"team_id": "T7"}]}) == {"T1", "T3", "T4", "T5", "T6", "T7"}
    assert request_teams({"view": {"team_id": "T8", "app_installed_team_id": "T9"}}) == {"T8", "T9"}
    assert request_teams({"team": None, "user": {"id": "U1"}}) == set()
    assert request_teams({"team_id": 7}) is None and request_teams({"team": {"id": ["T1"]}}) is None
    assert request_teams("payload") is None


@pytest.fixture()
def pinned(core_bot: Rmbot, fake: FakeSlackAPI) -> Iterator[SlackSim]:
    """A server configured with SLACK_TEAM_ID: the bank's two workspaces, not the token's team."""
    settings = slack_settings(fake, SLACK_TEAM_ID=f"{OTHER_TEAM},T0SECOND")
    with serve(build_server(core_bot, settings, ["slack"])) as url:
        sim = SlackSim(url, fake)
        yield sim
        sim.close()


def test_configured_teams_are_the_ones_served(pinned: SlackSim, fake: FakeSlackAPI) -> None:
    [body] = command_answers(fake, *pinned.command("whoami", team=OTHER_TEAM))
    assert "王芳" in all_text(body)
    [body] = command_answers(fake, *pinned.command("whoami", team="T0SECOND"))
    assert "王芳" in all_text(body)
    resp, _ = pinned.command("whoami", team=TEAM)  # the token's own team is not in the list
    assert resp.json()["text"] == REFUSED


def test_invalid_team_setting_is_named() -> None:
    with pytest.raises(ValueError, match="SLACK_TEAM_ID"):
        Settings(_env_file=None, SLACK_TEAM_ID="T0OK,u0user")  # type: ignore[call-arg]


def test_unknown_workspace_is_never_served(core_bot: Rmbot, fake: FakeSlackAPI) -> None:
    """No SLACK_TEAM_ID and auth.test failing: nothing is served until the team is known."""
    settings = slack_settings(fake)
    with serve(build_server(core_bot, settings, ["slack"])) as url:
        sim = SlackSim(url, fake)
        try:
            fake.fail("auth.test", status=200, error="invalid_auth", times=10)
            resp, _ = sim.command("tier", "C0000001")
            assert resp.status_code < 500
            assert_no_customer_data(resp.text)
            fake.reset()
            [body] = command_answers(fake, *sim.command("tier", "C0000001"))
            assert "张三" in all_text(body)
            assert len(fake.calls("auth.test")) >= 1  # learned from the token, once it could be
        finally:
            sim.close()


class RecordingSocketClient:
    """Stands in for slack_sdk's websocket client: records what would go over the socket."""

    def __init__(self) -> None:
        self.logger = logging.getLogger("test.socket")
        self.sent: list[Any] = []

    def send_socket_mode_response(self, response: Any) -> None:
        self.sent.append(response)


def test_socket_mode_refuses_another_team_too(core_bot: Rmbot, fake: FakeSlackAPI) -> None:
    handler = socket_mode_handler(core_bot, slack_settings(fake, SLACK_APP_TOKEN="xapp-1-test"))
    client = RecordingSocketClient()
    payload = {"team_id": OTHER_TEAM, "channel_id": "D0RMBOT01", "channel_name": "directmessage",
               "user_id": U_WANG, "command": "/tier", "text": "C0000001", "api_app_id": "A0RMBOT01",
               "response_url": fake.response_url("socket"), "trigger_id": "1.2.3"}
    try:
        handler.handle(client, SocketModeRequest(type="slash_commands", envelope_id="e1", payload=payload))  # type: ignore[arg-type]
    finally:
        handler.close()
    [ack] = client.sent
    assert ack.payload == {"response_type": "ephemeral", "text": REFUSED}
    assert_no_customer_data(json.dumps(ack.payload, ensure_ascii=False))
