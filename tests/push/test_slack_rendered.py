"""Slack pushes rendered when built: `rmbot push run` stores the Block Kit messages, delivery
only posts them, exactly as a send from the Reply would (against the fake Slack Web API)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time as dtime
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import Session

from bot.adapters.slack.push import KeepAliveWebClient, SlackSender
from bot.clock import SHANGHAI
from bot.config import Settings
from bot.core.reply import Image, Item, Reply
from bot.push.senders import PermanentSendError, TransientSendError
from bot.push.wiring import configured_renderers, delivery_worker, push_service
from bot.store.models import Org, Outbox, PushDestination
from bot.testing import Harness
from rules.policy import default_policy
from tests.fakes.slack_api import FakeSlackAPI

MONDAY = date(2026, 11, 23)
NOW = datetime.combine(MONDAY, dtime(8, 30), SHANGHAI)


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    api = FakeSlackAPI().start()
    yield api
    api.stop()


def settings_for(fake: FakeSlackAPI, engine_url: str = "sqlite://") -> Settings:
    return Settings(_env_file=None, SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET="s",  # type: ignore[call-arg]
                    SLACK_API_URL=fake.base_url, DATABASE_URL=engine_url)


def sent(fake: FakeSlackAPI, channel: str) -> list[dict[str, Any]]:
    return [{k: m.get(k) for k in ("text", "blocks", "metadata")} for m in fake.messages(channel)]


def reply() -> Reply:
    return Reply(title="【流失预警】西湖支行 · 2026-11-23", summary="待跟进 2 户", masked=True,
                 items=[Item(text="王*（C0000003）· 预警"), Item(text="李*（C0000004）· 关注")])


def test_a_rendered_row_is_posted_exactly_as_a_send_would(rmbot: Harness, fake: FakeSlackAPI) -> None:
    sender = SlackSender.from_settings(settings_for(fake), rmbot.engine)
    assert isinstance(sender.client, KeepAliveWebClient)
    rendered = sender.render(reply())
    assert rendered is not None
    sender.send("C0SEND", reply(), "churn:SB01:2026-11-23:slack:1")
    sender.send_rendered("C0RENDER", rendered, "churn:SB01:2026-11-23:slack:1")
    assert sent(fake, "C0SEND") == sent(fake, "C0RENDER") and len(sent(fake, "C0SEND")) == 1
    assert sent(fake, "C0RENDER")[0]["metadata"] == {
        "event_type": "rmbot_push", "event_payload": {"key": "churn:SB01:2026-11-23:slack:1"}}


def test_charts_are_not_rendered_ahead_and_unmasked_replies_still_refused(
        rmbot: Harness, fake: FakeSlackAPI) -> None:
    sender = SlackSender.from_settings(settings_for(fake), rmbot.engine)
    chart = Image.from_png("AUM", "aum.png", b"\x89PNG\r\n\x1a\n")
    assert sender.render(Reply(title="周报", masked=True, images=[chart])) is None  # uploaded from the Reply
    unmasked = sender.render(Reply(title="客户分层 · 张三", masked=False))
    assert unmasked is not None
    with pytest.raises(PermanentSendError, match="group channel"):
        sender.send_rendered("C0SB01", unmasked, "k:1")
    assert fake.calls(ok_only=False) == []


def test_push_run_renders_for_slack_and_delivery_posts_it(rmbot: Harness, fake: FakeSlackAPI) -> None:
    settings = settings_for(fake)
    assert set(configured_renderers(settings, rmbot.engine)) == {"slack"}
    with Session(rmbot.engine) as s:
        for sb in s.execute(select(Org.id).where(Org.level == "sub_branch")).scalars():
            s.merge(PushDestination(org_id=sb, platform="slack", target=f"C0{sb}"))
        s.commit()
    result = push_service(rmbot.engine, default_policy(), settings).build("churn", MONDAY, now=NOW)
    with Session(rmbot.engine) as s:
        built = list(s.execute(select(Outbox).order_by(Outbox.id)).scalars())
    assert len(built) == sum(b.enqueued for b in result.branches) > 0
    assert all(r.rendered and '"messages"' in r.rendered for r in built)
    stats = delivery_worker(rmbot.engine, settings).drain()
    assert stats.sent == len(built) and not stats.errors
    for row in built:
        [message] = [m for m in fake.messages(row.target)
                     if m["metadata"]["event_payload"]["key"] == row.key]
        assert message["text"].startswith("【流失预警】")
    with Session(rmbot.engine) as s:
        assert {(r.status, r.rendered) for r in s.execute(select(Outbox)).scalars()} == {("sent", None)}


def test_without_slack_nothing_is_rendered_ahead(fake: FakeSlackAPI, rmbot: Harness) -> None:
    no_slack = Settings(_env_file=None, DATABASE_URL="sqlite://")  # type: ignore[call-arg]
    assert configured_renderers(no_slack, rmbot.engine) == {}


# -- the direct path keeps the SDK's retries and our error classes ------------------------------

def rendered_sender(fake: FakeSlackAPI, rmbot: Harness) -> tuple[SlackSender, str]:
    sender = SlackSender.from_settings(settings_for(fake), rmbot.engine)
    rendered = sender.render(reply())
    assert rendered is not None
    return sender, rendered


def posts(fake: FakeSlackAPI) -> list[Any]:
    return fake.calls("chat.postMessage", ok_only=False)


def test_a_429_is_waited_out_and_posted_once(rmbot: Harness, fake: FakeSlackAPI) -> None:
    sender, rendered = rendered_sender(fake, rmbot)
    fake.fail("chat.postMessage", status=429, retry_after=1)
    ts = sender.send_rendered("C0SB01", rendered, "k:1")
    limited, retry = posts(fake)
    assert (limited.status, retry.status) == (429, 200) and retry.at - limited.at >= 1.0
    assert [m["ts"] for m in fake.messages("C0SB01")] == [ts]


def test_a_5xx_is_retried(rmbot: Harness, fake: FakeSlackAPI) -> None:
    sender, rendered = rendered_sender(fake, rmbot)
    fake.fail("chat.postMessage", status=503, error="service_unavailable")
    sender.send_rendered("C0SB01", rendered, "k:1")
    assert [c.status for c in posts(fake)] == [503, 200] and len(fake.messages("C0SB01")) == 1


@pytest.mark.parametrize(("status", "error", "times", "expected", "match"), [
    (429, "ratelimited", 4, TransientSendError, "ratelimited.*429"),  # beyond the SDK's 3 retries
    (200, "fatal_error", 1, TransientSendError, "fatal_error"),
    (200, "not_in_channel", 1, PermanentSendError, "not_in_channel"),
    (200, "invalid_auth", 1, PermanentSendError, "invalid_auth"),
])
def test_refusals_are_classified_as_for_send(rmbot: Harness, fake: FakeSlackAPI, status: int, error: str, times: int,
                                             expected: type[Exception], match: str) -> None:
    sender, rendered = rendered_sender(fake, rmbot)
    fake.fail("chat.postMessage", status=status, retry_after=0, times=times, error=error)
    with pytest.raises(expected, match=match):
        sender.send_rendered("C0SB01", rendered, "k:1")
    assert fake.messages("C0SB01") == []


def test_unreachable_slack_is_transient_and_a_lost_answer_unknown(rmbot: Harness) -> None:
    import socket

    from bot.adapters.slack.push import SendOutcomeUnknown
    from tests.push.test_keepalive import read_request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = Settings(_env_file=None, SLACK_BOT_TOKEN="xoxb-x", SLACK_API_URL=f"http://127.0.0.1:{port}/api/")  # type: ignore[call-arg]
    sender = SlackSender.from_settings(dead, rmbot.engine)
    rendered = sender.render(reply())
    assert rendered is not None
    with pytest.raises(TransientSendError, match="unreachable"):
        sender.send_rendered("C0SB01", rendered, "k:1")

    with socket.create_server(("127.0.0.1", 0)) as listener:  # reads the request, never answers
        def swallow() -> None:
            conn, _ = listener.accept()
            read_request(conn)  # the whole request is in: Slack may have posted it
            conn.close()

        import threading

        threading.Thread(target=swallow, daemon=True).start()
        lost = Settings(_env_file=None, SLACK_BOT_TOKEN="xoxb-x",  # type: ignore[call-arg]
                        SLACK_API_URL=f"http://127.0.0.1:{listener.getsockname()[1]}/api/")
        with pytest.raises(SendOutcomeUnknown):
            SlackSender.from_settings(lost, rmbot.engine).send_rendered("C0SB01", rendered, "k:1")
