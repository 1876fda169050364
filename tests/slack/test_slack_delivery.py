"""Getting messages out: retries on 429/5xx, the masking guard, response_url overflow."""

from __future__ import annotations

import time
import uuid

import pytest
from slack_sdk import WebClient
from sqlalchemy.engine import Engine

from bot.adapters.slack.client import make_client
from bot.adapters.slack.delivery import RESPONSE_URL_MAX, Delivery, MaskingRefused
from bot.config import Settings
from bot.core.reply import Item, Reply, Section
from commands.followup import followup_buttons
from tests.fakes.slack_api import FakeSlackAPI
from tests.slack.support import (
    U_WANG,
    SlackSim,
    all_text,
    assert_valid_payload,
    block_actions,
    response_bodies,
)


def dm_event(text: str) -> dict[str, object]:
    return {"type": "message", "channel_type": "im", "channel": "D0RMBOT01", "user": U_WANG, "text": text,
            "ts": f"{time.time():.6f}"}


def test_429_on_post_message_is_retried_and_delivered_once(slack: SlackSim, fake: FakeSlackAPI) -> None:
    fake.fail("chat.postMessage", status=429, retry_after=1)
    started = time.monotonic()
    slack.event(dm_event("/whoami"))
    [delivered] = fake.wait_for("chat.postMessage", timeout=8)
    attempts = fake.calls("chat.postMessage", ok_only=False)
    assert [c.status for c in attempts] == [429, 200]
    assert attempts[1].at - attempts[0].at >= 1.0  # Retry-After honoured
    assert time.monotonic() - started < 8
    assert_valid_payload(delivered.params)
    time.sleep(0.2)
    assert len(fake.calls("chat.postMessage")) == 1


def test_server_error_is_retried(slack: SlackSim, fake: FakeSlackAPI) -> None:
    fake.fail("chat.postMessage", status=503)
    slack.event(dm_event("/whoami"))
    fake.wait_for("chat.postMessage", timeout=8)
    assert [c.status for c in fake.calls("chat.postMessage", ok_only=False)] == [503, 200]


def test_429_on_response_url_is_retried(slack: SlackSim, fake: FakeSlackAPI) -> None:
    """A click is answered via its response_url (slash commands mostly in the ack)."""
    fake.fail("response_url", status=429, retry_after=0)
    url = fake.response_url(uuid.uuid4().hex)
    slack.click(block_actions(user=U_WANG, channel="D0RMBOT01", message=None, block_id="item-1",
                              action_id="rmbot:nosuch:item-1:0", value="v", response_url=url))
    [body] = response_bodies(fake, url, timeout=8)
    assert "未知操作" in all_text(body)
    assert [c.status for c in fake.calls("response_url", ok_only=False)] == [429, 200]


def test_client_factory_attaches_retry_handlers(settings: Settings) -> None:
    client = make_client(settings)
    kinds = {type(h).__name__ for h in client.retry_handlers}
    assert {"RateLimitErrorRetryHandler", "ServerErrorRetryHandler", "ConnectionErrorRetryHandler"} <= kinds
    assert client.base_url == settings.slack_api_url


@pytest.fixture()
def delivery(fake: FakeSlackAPI, engine: Engine) -> Delivery:
    return Delivery(WebClient(token="xoxb-test", base_url=fake.base_url), engine)


def test_dm_reply_is_never_posted_in_a_group(delivery: Delivery, fake: FakeSlackAPI) -> None:
    secret = Reply(title="客户分层 · 张三", summary="13812341234", masked=False)
    for channel in ("C0TEAM001", "G0PRIVATE1"):
        with pytest.raises(MaskingRefused):
            delivery.post(channel, secret, produced_for="dm")
        with pytest.raises(MaskingRefused):
            delivery.post_ephemeral(channel, U_WANG, secret, produced_for="dm")
        with pytest.raises(MaskingRefused):
            delivery.respond(fake.response_url("x"), secret, user_id=U_WANG, produced_for="dm", channel=channel)
    with pytest.raises(MaskingRefused):  # Slack's own word beats the id prefix
        delivery.post("D0LOOKSDM1", secret, produced_for="dm", channel_type="mpim")
    assert fake.calls(ok_only=False) == []
    # The other way round is fine: masked data may go anywhere.
    masked = Reply(title="客户分层 · 张*", masked=True)
    assert delivery.post("D0RMBOT01", masked, produced_for="group")
    assert delivery.post("C0TEAM001", masked, produced_for="group")


def test_section_mentions_resolve_to_slack_users(delivery: Delivery) -> None:
    reply = Reply(title="今日到期", masked=True, sections=[
        Section(title="城东支行", mention="RM001", text="2 笔"), Section(title="未关联", mention="RM404")])
    text = all_text(delivery.payloads(reply)[0])
    assert f"<@{U_WANG}>" in text and "@RM404" in text


def big_reply(n: int) -> Reply:
    return Reply(title="近 30 天到期提醒", summary=f"共 {n} 笔", masked=True, items=[
        Item(text=f"客户{i:04d} 张* · 定期存款 · 到期", buttons=followup_buttons(f"C{i:07d}", f"maturing:H{i}"))
        for i in range(n)])


def test_more_than_five_messages_overflow_to_a_dm(delivery: Delivery, fake: FakeSlackAPI) -> None:
    url = fake.response_url(uuid.uuid4().hex)
    reply = big_reply(500)
    total = len(delivery.payloads(reply))
    assert total > RESPONSE_URL_MAX
    delivery.respond(url, reply, user_id=U_WANG, produced_for="group", channel="C0TEAM001")
    answers = response_bodies(fake, url, count=RESPONSE_URL_MAX)
    dms = fake.calls("chat.postMessage")
    assert len(answers) == RESPONSE_URL_MAX and len(dms) == total - (RESPONSE_URL_MAX - 1)
    assert {c.params["channel"] for c in dms} == {"D" + U_WANG[1:]}
    assert "私信" in all_text(answers[-1])
    seen: list[str] = []
    for payload in [*answers[:-1], *(c.params for c in dms)]:
        assert_valid_payload(payload)
        seen += [line for line in all_text(payload).split("\n") if line.startswith("• 客户")]
    assert seen == [f"• 客户{i:04d} 张* · 定期存款 · 到期" for i in range(500)]


def test_overflow_dm_failure_is_said_not_swallowed(delivery: Delivery, fake: FakeSlackAPI) -> None:
    fake.fail("conversations.open", status=200, error="missing_scope")
    url = fake.response_url(uuid.uuid4().hex)
    delivery.respond(url, big_reply(200), user_id=U_WANG, produced_for="dm")
    answers = response_bodies(fake, url, count=RESPONSE_URL_MAX)
    assert "未能私信发送" in all_text(answers[-1])
