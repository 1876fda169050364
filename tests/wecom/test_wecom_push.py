"""The outbox senders (bot.push) for app group chats and group robots, against the fake API."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from bot.adapters.wecom.client import WeComClient
from bot.adapters.wecom.push import WeComAppChatSender, WeComRobotSender, staff_mentions
from bot.core.reply import Reply, Section
from bot.push.senders import PermanentSendError, TransientSendError
from tests.fakes.wecom_api import RM_USER, ROBOT_KEY, FakeWeCom

APPCHAT = "/cgi-bin/appchat/send"
WEBHOOK = "/cgi-bin/webhook/send"


def push_reply() -> Reply:
    return Reply(title="今日到期提醒", sections=[Section(title="城东支行", mention="RM001", text="3 位客户到期")])


def test_appchat_sender(client: WeComClient, fake: FakeWeCom) -> None:
    sender = WeComAppChatSender(client)
    assert sender.send("chat01", push_reply(), "k1") is None
    [call] = fake.delivered(APPCHAT)
    assert call.body["chatid"] == "chat01" and "今日到期提醒" in call.body["markdown"]["content"]
    assert sender.find_sent("chat01", "k1", None) is None  # type: ignore[arg-type]


def test_robot_sender_mentions_linked_staff(client: WeComClient, fake: FakeWeCom, engine: Engine) -> None:
    sender = WeComRobotSender(client, mentions=staff_mentions(engine))
    sender.send(ROBOT_KEY, push_reply(), "k1")
    [call] = fake.delivered(WEBHOOK)
    assert f"<@{RM_USER}>" in call.body["markdown"]["content"]


@pytest.mark.parametrize("errcode, error", [(45009, TransientSendError), (-1, TransientSendError),
                                             (86003, PermanentSendError), (60020, PermanentSendError)])
def test_errors_are_classified_for_the_worker(client: WeComClient, fake: FakeWeCom, errcode: int,
                                              error: type[Exception]) -> None:
    fake.fail_next(APPCHAT, errcode, times=client.max_retries + 1)
    with pytest.raises(error):
        WeComAppChatSender(client).send("chat01", push_reply(), "k1")


def test_unknown_robot_key_is_permanent(client: WeComClient) -> None:
    with pytest.raises(PermanentSendError):
        WeComRobotSender(client).send("no-such-key", push_reply(), "k1")
