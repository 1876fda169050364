"""Charts leave rmbot the way each platform takes pictures: Slack files_upload_v2 (three calls,
against the fake Web API), WeCom media/upload + image messages (against the fake WeCom), robots
with the picture inline, and files in the console. Text always goes first; a chart that cannot
be sent never makes the text go out twice."""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path

import pytest
from slack_sdk import WebClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot import charts
from bot.adapters.console import image_lines, save_images
from bot.adapters.slack.delivery import Delivery, MaskingRefused
from bot.adapters.slack.push import SlackSender
from bot.adapters.wecom import deliver
from bot.adapters.wecom.client import Pacer, TokenCache, WeComClient, WeComError
from bot.calendar_data import load_calendar
from bot.clock import SHANGHAI
from bot.core.reply import Image, Reply
from bot.push.delivery import DeliveryWorker
from bot.push.service import PushService
from bot.store.models import PushDestination
from bot.testing import Harness
from rules.policy import default_policy
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.wecom_api import (
    AGENT_ID,
    CORP_ID,
    ROBOT_KEY,
    SECRET,
    FakeWeCom,
    Sleeps,
)
from tests.slack.support import assert_valid_payload

MONDAY = date(2026, 11, 23)


@pytest.fixture(scope="module")
def png() -> bytes:
    return charts.tier_distribution([("贵宾客户", 5), ("长尾客户", 2)], "客户分层")


@pytest.fixture
def reply(png: bytes) -> Reply:
    return Reply(title="经营汇总 · 西湖支行", summary="金融资产 135.00万", masked=True,
                 images=[Image.from_png("客户分层 · 西湖支行", "summary-SB01-tiers.png", png),
                         Image.from_png("金融资产趋势", "summary-SB01-aum.png", png)])


# -- Slack -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def _slack() -> Iterator[FakeSlackAPI]:
    fake = FakeSlackAPI().start()
    yield fake
    fake.stop()


@pytest.fixture
def slack(_slack: FakeSlackAPI) -> FakeSlackAPI:
    _slack.reset()
    return _slack


@pytest.fixture
def web(slack: FakeSlackAPI) -> WebClient:
    return WebClient(token="xoxb-test", base_url=slack.base_url)


def methods(fake: FakeSlackAPI) -> list[str]:
    return [c.method for c in fake.calls()]


def test_slack_post_uploads_each_chart_after_the_text(slack: FakeSlackAPI, web: WebClient, reply: Reply,
                                                      png: bytes) -> None:
    Delivery(web).post("C0SB01", reply, produced_for="group", thread_ts="1700000000.000100")
    assert methods(slack) == ["chat.postMessage",
                              "files.getUploadURLExternal", "files.upload", "files.completeUploadExternal",
                              "files.getUploadURLExternal", "files.upload", "files.completeUploadExternal"]
    files = slack.files("C0SB01")
    assert [(f["title"], f["name"], f["mimetype"], f["thread_ts"]) for f in files] == [
        ("客户分层 · 西湖支行", "summary-SB01-tiers.png", "image/png", "1700000000.000100"),
        ("金融资产趋势", "summary-SB01-aum.png", "image/png", "1700000000.000100")]
    assert files[0]["data"] == png


def test_slack_upload_keeps_the_masking_guard(slack: FakeSlackAPI, web: WebClient, reply: Reply) -> None:
    private = reply.model_copy(update={"masked": False})
    with pytest.raises(MaskingRefused):
        Delivery(web).upload_images("C0SB01", private, produced_for="dm")
    assert slack.files("C0SB01") == []


def test_slack_slash_command_charts_go_to_the_dm(slack: FakeSlackAPI, web: WebClient, reply: Reply) -> None:
    url = slack.response_url("cmd")
    Delivery(web).respond(url, reply, user_id="UZHAOBM01", produced_for="dm")
    dm = "DZHAOBM01"  # the fake's conversations.open
    assert len(slack.files(dm)) == 2
    answers = [c.params for c in slack.calls("response_url")]
    assert "私信" in answers[-1]["text"]  # the user is told where the charts went


def test_slack_slash_command_upload_failure_is_reported(slack: FakeSlackAPI, web: WebClient, reply: Reply,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    slack.fail("files.completeUploadExternal", status=200, error="missing_scope")
    url = slack.response_url("cmd2")
    with caplog.at_level(logging.ERROR, "rmbot.slack"):
        Delivery(web).respond(url, reply, user_id="UZHAOBM01", produced_for="dm")
    assert "图表未能发送" in slack.calls("response_url")[-1].params["text"]
    assert "missing_scope" in caplog.text


def test_slack_push_posts_text_with_metadata_then_charts(slack: FakeSlackAPI, web: WebClient, reply: Reply) -> None:
    ts = SlackSender(web).send("C0SB01", reply, "summary:SB01:2026-11-23:slack:1")
    [message] = slack.messages("C0SB01")
    assert message["ts"] == ts
    assert message["metadata"]["event_payload"] == {"key": "summary:SB01:2026-11-23:slack:1"}
    assert len(slack.files("C0SB01")) == 2


def test_slack_push_chart_failure_does_not_resend_the_text(slack: FakeSlackAPI, web: WebClient, reply: Reply,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    slack.fail("files.upload", times=5)
    with caplog.at_level(logging.WARNING, "rmbot.slack"):
        ts = SlackSender(web).send("C0SB01", reply, "summary:SB01:2026-11-23:slack:1")
    assert ts and len(slack.messages("C0SB01")) == 1
    assert slack.files("C0SB01") == []
    assert "chart(s) not uploaded" in caplog.text


def test_weekly_push_reaches_a_slack_channel_with_its_charts(bank: Engine, slack: FakeSlackAPI, web: WebClient) -> None:
    with Session(bank) as s:
        s.add(PushDestination(org_id="SB01", platform="slack", target="C0SB01"))
        s.commit()
    now = datetime.combine(MONDAY, time(9, 0), SHANGHAI)
    PushService(bank, default_policy(), load_calendar()).build("summary", MONDAY, now=now)
    stats = DeliveryWorker(bank, {"slack": SlackSender(web, bank)}, now=lambda: now).drain()
    assert (stats.sent, stats.dead) == (1, 0)
    texts = " ".join(m["text"] for m in slack.messages("C0SB01"))
    assert "经营周报" in texts
    assert [f["name"] for f in slack.files("C0SB01")] == [
        "summary-SB01-2026-11-16_2026-11-22-aum.png", "summary-SB01-2026-11-16_2026-11-22-tiers.png",
        "summary-SB01-2026-11-16_2026-11-22-followup.png"]


# -- WeCom -------------------------------------------------------------------------------------------


@pytest.fixture
def wecom() -> Iterator[FakeWeCom]:
    fake = FakeWeCom().start()
    yield fake
    fake.stop()


@pytest.fixture
def client(wecom: FakeWeCom) -> Iterator[WeComClient]:
    c = WeComClient(CORP_ID, SECRET, AGENT_ID, wecom.url, timeout=5.0, tokens=TokenCache(), pacer=Pacer(),
                    sleep=Sleeps())
    yield c
    c.close()


def test_wecom_member_gets_markdown_then_image_messages(wecom: FakeWeCom, client: WeComClient, reply: Reply,
                                                        png: bytes) -> None:
    sent = deliver.to_member(client, "zhaomin", reply)
    assert sent == 3
    messages = [c.body for c in wecom.delivered("/cgi-bin/message/send")]
    assert [m["msgtype"] for m in messages] == ["markdown", "image", "image"]
    uploads = wecom.delivered("/cgi-bin/media/upload")
    assert [c.query["type"] for c in uploads] == ["image", "image"]
    media_id = messages[1]["image"]["media_id"]
    assert wecom.media[media_id] == ("summary-SB01-tiers.png", png)


def test_wecom_app_chat_gets_image_messages(wecom: FakeWeCom, client: WeComClient, reply: Reply) -> None:
    deliver.to_app_chat(client, "chat-sb01", reply)
    bodies = [c.body for c in wecom.delivered("/cgi-bin/appchat/send")]
    assert [(b["chatid"], b["msgtype"]) for b in bodies] == [("chat-sb01", "markdown"), ("chat-sb01", "image"),
                                                             ("chat-sb01", "image")]
    assert all(b["image"]["media_id"] in wecom.media for b in bodies[1:])


def test_wecom_robot_sends_the_picture_inline(wecom: FakeWeCom, client: WeComClient, reply: Reply, png: bytes) -> None:
    deliver.to_robot(client, ROBOT_KEY, reply)
    images = [c.body["image"] for c in wecom.delivered("/cgi-bin/webhook/send") if c.body["msgtype"] == "image"]
    assert len(images) == 2
    assert base64.b64decode(images[0]["base64"]) == png
    assert images[0]["md5"] == hashlib.md5(png).hexdigest()


def test_wecom_chart_failure_keeps_the_text(wecom: FakeWeCom, client: WeComClient, reply: Reply,
                                            caplog: pytest.LogCaptureFixture) -> None:
    wecom.fail_next("/cgi-bin/media/upload", 40005, times=2)
    with caplog.at_level(logging.WARNING, "rmbot.wecom"):
        sent = deliver.to_member(client, "zhaomin", reply)
    assert sent == 1
    assert [c.body["msgtype"] for c in wecom.delivered("/cgi-bin/message/send")] == ["markdown"]
    assert "not sent" in caplog.text


def test_fake_wecom_checks_media(wecom: FakeWeCom, client: WeComClient) -> None:
    with pytest.raises(WeComError) as bad_id:
        client.send_image("zhaomin", "MEDIA-unknown")
    assert bad_id.value.errcode == 40007
    with pytest.raises(WeComError) as bad_type:
        client.upload_image("x.png", b"not a picture")
    assert bad_type.value.errcode == 40005


# -- console -----------------------------------------------------------------------------------------


def test_console_saves_charts_and_prints_paths(tmp_path: Path, reply: Reply, png: bytes) -> None:
    reply.images.append(Image.from_png("恶意文件名", "../../etc/evil name.png", png))
    paths = save_images(reply, tmp_path)
    assert [p.name for p in paths] == ["summary-SB01-tiers.png", "summary-SB01-aum.png", "evil_name.png"]
    assert all(p.parent == tmp_path and p.read_bytes() == png for p in paths)
    lines = image_lines(reply, tmp_path)
    assert lines.count("图表已保存") == 3 and str(tmp_path / "summary-SB01-aum.png") in lines


def test_replies_without_images_are_unchanged() -> None:
    reply = Reply(title="t")
    assert "images" not in reply.model_dump(exclude_defaults=True)
    assert Reply.model_validate_json('{"title": "t"}').images == []


def test_a_real_summary_renders_on_slack_and_wecom(harness: Harness, slack: FakeSlackAPI, web: WebClient,
                                                   wecom: FakeWeCom, client: WeComClient) -> None:
    reply = harness.ask("REG01", "/summary all").reply
    assert len(reply.images) == 3
    for payload in Delivery(web).payloads(reply):
        assert_valid_payload(payload)
    Delivery(web).post("D0REG01", reply, produced_for="dm", channel_type="im")
    assert slack.messages("D0REG01") and len(slack.files("D0REG01")) == 3
    deliver.to_member(client, "zhoujianguo", reply)
    kinds = [c.body["msgtype"] for c in wecom.delivered("/cgi-bin/message/send")]
    assert kinds.count("image") == 3 and kinds[0] == "markdown"
