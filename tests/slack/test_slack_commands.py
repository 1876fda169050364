"""Slash commands over real HTTP: a quick answer rides in the ack (slow ones: test_slack_inline.py)."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest

from tests.fakes.slack_api import FakeSlackAPI
from tests.slack.support import (
    U_LI,
    U_NOBODY,
    SlackSim,
    all_text,
    assert_valid_payload,
    command_answers,
)


def test_whoami_round_trip(slack: SlackSim, fake: FakeSlackAPI) -> None:
    started = time.monotonic()
    resp, url = slack.command("whoami")
    assert resp.status_code == 200
    assert time.monotonic() - started < 1.0
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()  # the answer is the ack itself: no response_url call at all
    assert body["response_type"] == "ephemeral"
    assert_valid_payload(body)
    text = all_text(body)
    assert "王芳（RM001）" in text and "私聊" in text


def test_channel_kind_reaches_the_core(slack: SlackSim, fake: FakeSlackAPI) -> None:
    [body] = command_answers(fake, *slack.command("whoami", channel="C0TEAM001", channel_name="rm-team"))
    assert "群聊（客户信息脱敏）" in all_text(body)
    [body] = command_answers(fake, *slack.command("whoami", channel="G0MPIM001", channel_name="mpdm-a--b--c-1"))
    assert "群聊" in all_text(body)


def test_help_lists_commands(slack: SlackSim, fake: FakeSlackAPI) -> None:
    body = command_answers(fake, *slack.command("help"))[0]
    assert_valid_payload(body)
    assert "/whoami" in all_text(body)


def test_tier_masked_in_group_full_in_dm(slack: SlackSim, fake: FakeSlackAPI) -> None:
    [dm] = command_answers(fake, *slack.command("tier", "C0000001"))
    assert_valid_payload(dm)
    assert "张三" in all_text(dm) and "13812341234" in all_text(dm)
    assert any(b["type"] == "actions" for b in dm["blocks"])  # follow-up buttons in a DM

    [group] = command_answers(fake, *slack.command("tier", "C0000001", channel="C0TEAM001", channel_name="rm-team"))
    assert_valid_payload(group)
    text = all_text(group)
    assert "张*" in text and "张三" not in text
    assert "138****1234" in text and "13812341234" not in text


def test_tier_refused_for_another_rms_customer(slack: SlackSim, fake: FakeSlackAPI) -> None:
    text = all_text(command_answers(fake, *slack.command("tier", "C0000001", user=U_LI))[0])
    assert "未找到客户" in text and "张三" not in text


def test_unknown_command_gets_a_clear_answer(slack: SlackSim, fake: FakeSlackAPI) -> None:
    body = command_answers(fake, *slack.command("frobnicate", "now"))[0]
    assert_valid_payload(body)
    assert "未知命令" in all_text(body)


def test_unlinked_user_is_told_how_to_link(slack: SlackSim, fake: FakeSlackAPI) -> None:
    text = all_text(command_answers(fake, *slack.command("whoami", user=U_NOBODY))[0])
    assert "尚未关联" in text and f"rmbot staff link slack {U_NOBODY}" in text


def test_ten_thousand_characters(slack: SlackSim, fake: FakeSlackAPI) -> None:
    body = command_answers(fake, *slack.command("whoami", "客" * 10_000))[0]
    assert_valid_payload(body)
    assert "消息过长" in all_text(body)


@pytest.mark.parametrize("drop", [("user_id",), ("response_url",), ("user_id", "response_url")])
def test_missing_fields_answered_in_the_ack(slack: SlackSim, fake: FakeSlackAPI, drop: tuple[str, ...]) -> None:
    resp, _ = slack.command("whoami", drop=drop)
    assert resp.status_code == 200
    assert "请求不完整" in resp.json()["text"]
    time.sleep(0.2)
    assert fake.calls("response_url") == []


def test_form_without_command_is_not_a_command(slack: SlackSim, fake: FakeSlackAPI) -> None:
    resp, _ = slack.command("whoami", drop=("command",))
    assert 400 <= resp.status_code < 500
    time.sleep(0.2)
    assert fake.calls("response_url") == []


def test_garbage_bodies_never_500(slack: SlackSim) -> None:
    for body, ctype in [
        ("", "application/x-www-form-urlencoded"),
        ("{not json", "application/json"),
        ("[1, 2, 3]", "application/json"),
        ("payload=%7Bbroken", "application/x-www-form-urlencoded"),
        ("payload=%5B1%5D", "application/x-www-form-urlencoded"),
        ('{"type": "event_callback"}', "application/json"),
        ('{"type": "event_callback", "event": {}}', "application/json"),
        ('{"type": "event_callback", "event": "x", "event_id": "Ev1"}', "application/json"),
        ('{"type": "event_callback", "event": {"type": "message", "user": 5, "channel": ["D1"]}}',
         "application/json"),
        ('{"type": "event_callback", "event": {"type": 7}, "event_id": "Ev2"}', "application/json"),
        ('{"type": "event_callback", "authorizations": "x", "event": {"type": "app_mention"}}', "application/json"),
        ("payload=" + quote('{"type": "block_actions", "actions": "x"}'), "application/x-www-form-urlencoded"),
        ("payload=" + quote('{"type": "block_actions", "actions": [1], "user": 3}'), "application/x-www-form-urlencoded"),
        ("payload=" + quote('{"type": "block_actions", "actions": [{}], "user": {}}'), "application/x-www-form-urlencoded"),
        ("payload=" + quote('{"type": "block_actions", "actions": [{"action_id": "rmbot:followup:item-1:0"}]}'),
         "application/x-www-form-urlencoded"),
        ("payload=" + quote('{"type": "view_submission", "view": 1}'), "application/x-www-form-urlencoded"),
        ("command=%2Fwhoami&user_id=&text=", "application/x-www-form-urlencoded"),
        ("command=whoami&user_id=UWANGFANG&response_url=not-a-url", "application/x-www-form-urlencoded"),
        ("\u0000\u0001 binary", "application/octet-stream"),
    ]:
        resp = slack.post(body, content_type=ctype)
        assert resp.status_code < 500, (body, resp.status_code)
    # …and the app still serves
    resp, _ = slack.command("whoami")
    assert resp.status_code == 200


def test_oversized_body_is_413(slack: SlackSim) -> None:
    assert slack.post("text=" + "x" * 1_100_000).status_code == 413


