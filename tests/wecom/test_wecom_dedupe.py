"""De-duplication keys and the in-memory store (on a fake clock)."""

from __future__ import annotations

from bot.adapters.wecom.dedupe import MemoryDeduper, message_key


def test_message_key_uses_msgid_for_messages() -> None:
    assert message_key({"MsgId": "123", "FromUserName": "a", "CreateTime": "1"}) == "msg:123"


def test_message_key_for_events_is_sender_time_and_click() -> None:
    click = {"FromUserName": "a", "CreateTime": "1700000000", "Event": "template_card_event",
             "EventKey": "followup|contacted|C1|r", "TaskId": "t1"}
    other_button = dict(click, EventKey="followup|lost|C1|r")
    assert message_key(click) == message_key(dict(click))
    assert message_key(click) != message_key(other_button)
    assert message_key(click) != message_key(dict(click, CreateTime="1700000001"))
    assert message_key({"Event": "enter_agent"}) is None


def test_memory_deduper_expires_and_is_bounded() -> None:
    now = [0.0]
    d = MemoryDeduper(ttl=60, capacity=3, clock=lambda: now[0])
    assert d.first_seen("a") and not d.first_seen("a")
    now[0] = 59.9
    assert not d.first_seen("a")
    now[0] = 60.0
    assert d.first_seen("a")  # expired: WeCom stopped retrying long ago
    for k in "bcde":
        assert d.first_seen(k)
    assert len(d) == 3 and d.first_seen("a")  # the oldest fell out of the bounded set
