"""DMs and @-mentions over the Events API; retried deliveries are processed once."""

from __future__ import annotations

import json
import threading
import time

from slack_bolt import BoltRequest
from slack_sdk import WebClient

from bot.adapters.slack import build_app
from bot.config import Settings
from bot.core.app import Rmbot
from tests.fakes.slack_api import BOT_ID, BOT_USER_ID, FakeSlackAPI
from tests.slack.support import U_WANG, SlackSim, all_text, assert_valid_payload


def dm(text: str, user: str = U_WANG, **extra: object) -> dict[str, object]:
    return {"type": "message", "channel_type": "im", "channel": "D0RMBOT01", "user": user, "text": text,
            "ts": f"{time.time():.6f}", **extra}


def test_dm_is_answered_in_the_dm(slack: SlackSim, fake: FakeSlackAPI) -> None:
    started = time.monotonic()
    resp, _ = slack.event(dm("whoami"))
    assert resp.status_code == 200 and time.monotonic() - started < 1.0
    [call] = fake.wait_for("chat.postMessage")
    assert call.params["channel"] == "D0RMBOT01"
    assert "thread_ts" not in call.params or call.params["thread_ts"] is None
    assert_valid_payload(call.params)
    assert "王芳（RM001）" in all_text(call.params) and "私聊" in all_text(call.params)


def test_chinese_alias_and_fullwidth_in_dm(slack: SlackSim, fake: FakeSlackAPI) -> None:
    slack.event(dm("／我是谁"))
    [call] = fake.wait_for("chat.postMessage")
    assert "王芳" in all_text(call.params)


def test_mention_is_answered_in_a_thread_as_group(slack: SlackSim, fake: FakeSlackAPI) -> None:
    ts = "1700000000.000100"
    slack.event({"type": "app_mention", "channel": "C0TEAM001", "user": U_WANG,
                 "text": f"<@{BOT_USER_ID}> /whoami", "ts": ts})
    [call] = fake.wait_for("chat.postMessage")
    assert call.params["channel"] == "C0TEAM001" and call.params["thread_ts"] == ts
    assert_valid_payload(call.params)
    assert "群聊（客户信息脱敏）" in all_text(call.params)


def test_mention_inside_a_thread_stays_in_that_thread(slack: SlackSim, fake: FakeSlackAPI) -> None:
    slack.event({"type": "app_mention", "channel": "C0TEAM001", "user": U_WANG, "text": f"<@{BOT_USER_ID}> help",
                 "ts": "1700000000.000300", "thread_ts": "1700000000.000200"})
    [call] = fake.wait_for("chat.postMessage")
    assert call.params["thread_ts"] == "1700000000.000200"


def test_retried_event_is_processed_once(slack: SlackSim, fake: FakeSlackAPI) -> None:
    event = dm("/whoami")
    first, event_id = slack.event(event)
    assert first.status_code == 200
    for n in (1, 2, 3):
        retry, _ = slack.event(event, event_id=event_id,
                               headers={"X-Slack-Retry-Num": str(n), "X-Slack-Retry-Reason": "http_timeout"})
        assert retry.status_code == 200
    fake.wait_for("chat.postMessage")
    time.sleep(0.3)  # give a wrongly re-processed retry the time to show up
    assert len(fake.calls("chat.postMessage")) == 1


def test_concurrent_retries_are_processed_once(slack: SlackSim, fake: FakeSlackAPI) -> None:
    event = dm("/whoami")
    event_id = "EvCONCURRENT1"
    sims = [SlackSim(slack.url.removesuffix("/slack/events"), fake) for _ in range(4)]
    threads = [threading.Thread(target=s.event, args=(event,), kwargs={"event_id": event_id}) for s in sims]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=5)
    for s in sims:
        s.close()
    fake.wait_for("chat.postMessage")
    time.sleep(0.3)
    assert len(fake.calls("chat.postMessage")) == 1


def test_own_and_other_bots_messages_are_ignored(slack: SlackSim, fake: FakeSlackAPI) -> None:
    assert slack.event(dm("/whoami", user=BOT_USER_ID, bot_id=BOT_ID))[0].status_code == 200
    assert slack.event(dm("/whoami", user="UOTHERBOT", bot_id="BOTHER"))[0].status_code == 200
    assert slack.event(dm("/whoami", subtype="message_changed"))[0].status_code == 200
    assert slack.event({"type": "message", "channel_type": "channel", "channel": "C0TEAM001", "user": U_WANG,
                        "text": "/whoami", "ts": "1.2"})[0].status_code == 200  # channel chatter: mentions only
    assert slack.event({"type": "reaction_added", "user": U_WANG, "reaction": "thumbsup"})[0].status_code == 200
    time.sleep(0.3)
    assert fake.calls("chat.postMessage") == []


def test_events_with_missing_fields_are_acknowledged_and_dropped(slack: SlackSim, fake: FakeSlackAPI) -> None:
    for event in [
        {"type": "message", "channel_type": "im", "channel": "D0RMBOT01", "text": "/whoami"},  # no user
        {"type": "message", "channel_type": "im", "user": U_WANG, "text": "/whoami"},  # no channel
        {"type": "app_mention", "user": U_WANG, "text": "hi"},
        {"type": "message", "channel_type": "im", "channel": "D0RMBOT01", "user": U_WANG},  # no text → help
    ]:
        resp, _ = slack.event(event)
        assert resp.status_code < 500
    [call] = fake.wait_for("chat.postMessage")  # only the last one can be answered: with /help
    assert "/whoami" in all_text(call.params)


def test_ten_thousand_character_dm(slack: SlackSim, fake: FakeSlackAPI) -> None:
    slack.event(dm("x" * 10_000))
    [call] = fake.wait_for("chat.postMessage")
    assert_valid_payload(call.params)
    assert "消息过长" in all_text(call.params)


def test_socket_mode_requests_are_deduplicated_too(core_bot: Rmbot, settings: Settings,
                                                   fake: FakeSlackAPI) -> None:
    """Socket Mode skips signatures (the websocket is authenticated) but not the dedupe."""
    app = build_app(core_bot, settings, client=WebClient(token="xoxb-test", base_url=fake.base_url))
    body = {"type": "event_callback", "event_id": "EvSOCKET0001", "team_id": "T00000001",
            "api_app_id": "A0RMBOT01", "event": dm("/whoami")}
    for retry in ("0", "1"):
        resp = app.dispatch(BoltRequest(body=json.dumps(body), mode="socket_mode",
                                        headers={"x-slack-retry-num": [retry]}))
        assert resp.status == 200
    fake.wait_for("chat.postMessage")
    time.sleep(0.3)
    assert len(fake.calls("chat.postMessage")) == 1
