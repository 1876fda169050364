"""Replies to members, app group chats and group robots, through the fake WeCom API."""

from __future__ import annotations

from bot.adapters.wecom import deliver
from bot.adapters.wecom.client import WeComClient
from bot.core.followup import followup_buttons
from bot.core.reply import Item, Reply, Section
from tests.fakes.wecom_api import LONG_TEXT, ROBOT_KEY, FakeWeCom

ZWSP = "\u200b"


def pushed() -> Reply:
    return Reply(title="今日到期提醒", sections=[
        Section(title="城东支行", mention="RM001", text=LONG_TEXT,
                items=[Item(text="C0000001 张* 大额存单 到期", buttons=followup_buttons("C0000001", "m:H1"))]),
    ])


def test_to_member_sends_parts_then_cards(client: WeComClient, fake: FakeWeCom) -> None:
    n = deliver.to_member(client, "wangfang", pushed())
    bodies = [c.body for c in fake.delivered("/cgi-bin/message/send")]
    assert n == len(bodies) and [b["msgtype"] for b in bodies][-1] == "template_card"
    assert all(b["msgtype"] == "markdown" for b in bodies[:-1]) and len(bodies) >= 5


def test_to_app_chat_lists_buttons_as_text(client: WeComClient, fake: FakeWeCom) -> None:
    n = deliver.to_app_chat(client, "chat01", pushed())
    parts = [c.body["markdown"]["content"] for c in fake.delivered("/cgi-bin/appchat/send")]
    assert n == len(parts) >= 4
    assert all(len(p.encode()) <= 2048 for p in parts)
    assert "（已联系 / 已承接 / 已流失）" in "".join(parts)


def test_to_robot_uses_4096_byte_parts_and_real_mentions(client: WeComClient, fake: FakeWeCom) -> None:
    n = deliver.to_robot(client, ROBOT_KEY, pushed(), mentions={"RM001": "wangfang"})
    parts = [c.body["markdown"]["content"] for c in fake.delivered("/cgi-bin/webhook/send")]
    assert n == len(parts) >= 3
    assert all(len(p.encode()) <= 4096 for p in parts)
    whole = "".join(parts)
    assert "<@wangfang>" in whole and LONG_TEXT.strip() in whole.replace(ZWSP, "")
