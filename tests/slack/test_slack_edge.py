"""Issue 13 (7), the Slack edge over real HTTP: replays with retry headers, and the channel kind
taken from the channel id rather than its name. Workspace checks: test_slack_workspace.py."""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import urlencode

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.adapters.slack.inbound import channel_kind
from bot.store.models import Contact
from tests.fakes.slack_api import FakeSlackAPI
from tests.slack.support import TEAM, U_WANG, SlackSim, all_text, block_actions, command_answers, response_bodies

FORM = "application/x-www-form-urlencoded"
RETRY_HEADERS = ({"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
                 {"X-Slack-Retry-Num": "3"}, {"x-slack-retry-num": "0"})


def contact_rows(engine: Engine, ref: str) -> int:
    with Session(engine) as s:
        return int(s.scalar(select(func.count()).select_from(Contact).where(Contact.ref == ref)) or 0)  # type: ignore[arg-type]


def test_replayed_command_with_a_retry_header_is_refused(slack: SlackSim, fake: FakeSlackAPI) -> None:
    """x-slack-retry-num is not signed: adding it to a captured command must not get it answered again."""
    form = {"team_id": TEAM, "channel_id": "D0RMBOT01", "channel_name": "directmessage", "user_id": U_WANG,
            "command": "/whoami", "text": "", "response_url": fake.response_url(uuid.uuid4().hex)}
    body = urlencode(form)
    headers = slack.signed_headers(body, content_type=FORM)
    first = slack.http.post(slack.url, content=body.encode(), headers=headers)
    assert first.status_code == 200 and "王芳" in all_text(first.json())
    for extra in RETRY_HEADERS:
        again = slack.http.post(slack.url, content=body.encode(), headers={**headers, **extra})
        assert again.status_code == 401 and "王芳" not in again.text, extra
    assert fake.calls("response_url") == []


def test_replayed_click_with_a_retry_header_writes_no_second_row(
        slack: SlackSim, fake: FakeSlackAPI, engine: Engine) -> None:
    [answer] = command_answers(fake, *slack.command("tier", "C0000001"))
    button = next(b for b in answer["blocks"] if b.get("block_id") == "buttons")["elements"][1]
    ref = button["value"].split("|", 2)[2]
    before = contact_rows(engine, ref)
    url = fake.response_url(uuid.uuid4().hex)
    message = {"type": "message", "text": answer["text"], "blocks": answer["blocks"], "ts": "1700000001.000001"}
    payload = block_actions(user=U_WANG, channel="D0RMBOT01", message=message, block_id="buttons",
                            action_id=button["action_id"], value=button["value"], response_url=url, ephemeral=True)
    body = urlencode({"payload": json.dumps(payload)})
    headers = slack.signed_headers(body, content_type=FORM)
    assert slack.http.post(slack.url, content=body.encode(), headers=headers).status_code == 200
    response_bodies(fake, url, count=2)  # the click ran: the answer was rewritten and the details sent
    assert contact_rows(engine, ref) == before + 1
    for extra in RETRY_HEADERS:
        again = slack.http.post(slack.url, content=body.encode(), headers={**headers, **extra})
        assert again.status_code == 401, extra
    time.sleep(0.3)  # a replay that got through would have written by now
    assert contact_rows(engine, ref) == before + 1
    assert len(fake.calls("response_url")) == 2


def test_a_replayed_event_is_acknowledged_and_processed_once(slack: SlackSim, fake: FakeSlackAPI) -> None:
    """Events are the one kind Slack retries: left to the event_id dedupe, whatever the headers."""
    event = {"type": "message", "channel_type": "im", "channel": "D0RMBOT01", "user": U_WANG, "text": "/whoami",
             "ts": f"{time.time():.6f}"}
    body = json.dumps({"token": "x", "team_id": TEAM, "api_app_id": "A0RMBOT01", "type": "event_callback",
                       "event_id": "Ev" + uuid.uuid4().hex[:10].upper(), "event_time": int(time.time()),
                       "event": event})
    headers = slack.signed_headers(body, content_type="application/json")
    assert slack.http.post(slack.url, content=body.encode(), headers=headers).status_code == 200
    fake.wait_for("chat.postMessage")
    for extra in ({}, *RETRY_HEADERS):
        assert slack.http.post(slack.url, content=body.encode(), headers={**headers, **extra}).status_code == 200
    time.sleep(0.3)
    assert len(fake.calls("chat.postMessage")) == 1


def test_directmessage_name_on_a_channel_id_is_a_group(slack: SlackSim, fake: FakeSlackAPI) -> None:
    """channel_name is a label: `directmessage` about C… or G… must not unmask a channel's answer."""
    for channel in ("C0TEAM001", "G0PRIVATE1", "X0ODDONE1", ""):
        [body] = command_answers(fake, *slack.command("tier", "C0000001", channel=channel,
                                                      channel_name="directmessage"))
        text = all_text(body)
        assert "张*" in text and "张三" not in text and "13812341234" not in text, channel
    [dm] = command_answers(fake, *slack.command("tier", "C0000001"))  # a real DM still shows the data
    assert "张三" in all_text(dm)


def test_im_label_on_a_channel_id_is_a_group(slack: SlackSim, fake: FakeSlackAPI) -> None:
    """An @-mention event saying channel_type im about C… is answered masked, in the channel."""
    slack.event({"type": "app_mention", "channel_type": "im", "channel": "C0TEAM001", "user": U_WANG,
                 "text": "<@UBOT00001> /tier C0000001", "ts": f"{time.time():.6f}"})
    [post] = fake.wait_for("chat.postMessage")
    assert post.params["channel"] == "C0TEAM001"
    text = all_text(post.params)
    assert "张*" in text and "张三" not in text


def test_channel_kind_comes_from_the_id() -> None:
    assert channel_kind("D0RMBOT01") == "dm"
    assert channel_kind("D0RMBOT01", "im", "directmessage") == "dm"
    for kind in ("C0TEAM001", "G0PRIVATE1", "W0ODD", "", None, "d0lower"):
        assert channel_kind(kind, "im", "directmessage") == "group", kind
    # a label that disagrees with a D… id makes it the stricter case, never the other way round
    assert channel_kind("D0RMBOT01", "mpim") == "group"
    assert channel_kind("D0RMBOT01", None, "rm-team") == "group"
