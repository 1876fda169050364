"""Pushes to Slack channels: the outbox worker with `SlackSender` against the fake Web API.

A seeded demo bank builds the day's churn pushes; each 支行 pushes into its own channel. Every
row must arrive exactly once, findable by its metadata, masked, with the RM @-mentioned —
through 429s, a crash between send and mark, a lost answer, a half-posted long reply — and a
click on a pushed item goes through the real interactivity endpoint with the usual checks.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from datetime import time as dtime
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.adapters.slack.client import retry_handlers
from bot.adapters.slack.push import (
    SendOutcomeUnknown,
    SlackSender,
    VerifyUnavailable,
    classify_send,
)
from bot.calendar_data import load_calendar
from bot.clock import SHANGHAI
from bot.config import Settings
from bot.core.reply import Item, Reply
from bot.push.delivery import DeliveryWorker
from bot.push.senders import PermanentSendError, TransientSendError
from bot.push.service import PushService
from bot.server import build_app as build_server
from bot.store import outbox
from bot.store.models import AuditLog, Contact, Org, Outbox, PushDestination
from bot.store.staff import link_identity
from bot.testing import Harness
from commands.followup import followup_buttons
from rules.policy import default_policy
from tests.fakes.slack_api import FakeSlackAPI
from tests.slack.support import (
    SlackSim,
    all_text,
    assert_valid_payload,
    block_actions,
    response_bodies,
    serve,
)

MONDAY = date(2026, 11, 23)
U_QIU = "UQIUWEI01"  # RM001 邱伟, 西湖支行 (SB01)
U_DENG = "UDENGLIN1"  # RM002 邓琳, 滨江支行 (SB02)


def at(hh: int = 8, mm: int = 30, day: date = MONDAY) -> datetime:
    return datetime.combine(day, dtime(hh, mm), SHANGHAI)


def channel_of(org_id: str) -> str:
    return f"C0{org_id}"


class Clock:
    """One simulated time for the worker, the sender and the fake Slack's message stamps."""

    def __init__(self, fake: FakeSlackAPI, start: datetime) -> None:
        self.t = start
        fake.set_clock(lambda: self.t.timestamp())

    def __call__(self) -> datetime:
        return self.t


@pytest.fixture
def bank(rmbot: Harness, fake: FakeSlackAPI) -> Harness:
    """The seeded bank with every 支行's pushes going to its Slack channel, e.g. SB01 → C0SB01."""
    with Session(rmbot.engine) as s:
        for sb in s.execute(select(Org.id).where(Org.level == "sub_branch").order_by(Org.id)).scalars():
            s.merge(PushDestination(org_id=sb, platform="slack", target=channel_of(sb)))
        s.commit()
    return rmbot


@pytest.fixture
def clock(fake: FakeSlackAPI) -> Clock:
    return Clock(fake, at())


@pytest.fixture
def sender(bank: Harness, settings: Settings, clock: Clock) -> SlackSender:
    s = SlackSender.from_settings(settings, engine=bank.engine)
    s.now = clock
    return s


def build(h: Harness, kind: str = "churn") -> int:
    result = PushService(h.engine, default_policy(), load_calendar()).build(kind, MONDAY, now=at())
    assert result.skipped is None
    return sum(b.enqueued for b in result.branches)


def worker(h: Harness, sender: SlackSender, clock: Clock, **kw: Any) -> DeliveryWorker:
    return DeliveryWorker(h.engine, {"slack": sender}, now=clock, **kw)


def rows(h: Harness) -> list[Outbox]:
    with Session(h.engine) as s:
        return list(s.execute(select(Outbox).order_by(Outbox.id)).scalars())


def keyed(fake: FakeSlackAPI, channel: str, key: str) -> list[dict[str, Any]]:
    """Messages in the channel carrying this outbox key."""
    return [m for m in fake.messages(channel) if (m.get("metadata") or {}).get("event_payload", {}).get("key") == key]


def posts_of(fake: FakeSlackAPI, key: str) -> int:
    """Accepted chat.postMessage calls for this key (what Slack would show)."""
    return len(fake.calls("chat.postMessage", where=lambda c: (c.params.get("metadata") or {})
                          .get("event_payload", {}).get("key") == key))


def full_name(h: Harness, customer_id: str) -> str:
    return h.ask("RM001", f"/tier {customer_id}").reply.title.split("·")[1].split("（")[0].strip()


# -- delivery ----------------------------------------------------------------------------

def test_every_row_delivered_once_with_metadata_and_masked(
        bank: Harness, sender: SlackSender, fake: FakeSlackAPI, clock: Clock) -> None:
    enqueued = build(bank)
    stats = worker(bank, sender, clock).drain()
    assert stats.sent == enqueued == len(rows(bank)) and stats.dead == stats.retried == 0
    assert len(fake.calls("chat.postMessage", ok_only=False)) == enqueued
    assert fake.calls("conversations.history") == []  # fresh rows are not looked up
    for row in rows(bank):
        assert row.platform == "slack" and row.status == "sent" and row.target == channel_of(row.org_id)
        [message] = keyed(fake, row.target, row.key)
        assert message["metadata"] == {"event_type": "rmbot_push", "event_payload": {"key": row.key}}
        assert row.message_id == message["ts"]
        reply = Reply.model_validate_json(row.payload)
        assert reply.masked and message["text"].startswith("【流失预警】")
        assert_valid_payload({"text": message["text"], "blocks": message["blocks"]})

    sb01 = all_text(fake.messages("C0SB01")[0])
    assert "C0000003" in sb01 and "数据日期 2026-11-20" in sb01 and "流向他行" in sb01
    name = full_name(bank, "C0000003")
    assert name[0] + "*" in sb01
    everything = "\n".join(all_text(m) for r in rows(bank) for m in fake.messages(r.target))
    assert name not in everything
    # buttons on every item, and nothing links an RM who has no Slack account
    assert sb01.count("rmbot:followup:item-1:") == 3
    assert "@RM001" in sb01 and "<@" not in sb01

    again = worker(bank, sender, clock).drain()
    assert again.sent == again.verified == 0 and len(fake.calls("chat.postMessage")) == enqueued


def test_rm_is_mentioned_as_a_slack_user_once_linked(
        bank: Harness, sender: SlackSender, fake: FakeSlackAPI, clock: Clock) -> None:
    with Session(bank.engine) as s:
        link_identity(s, "slack", U_QIU, "RM001")
        s.commit()
    build(bank)
    worker(bank, sender, clock).drain()
    sb01 = all_text(fake.messages("C0SB01")[0])
    assert f"<@{U_QIU}>" in sb01 and "@RM001" not in sb01
    sb02 = all_text(fake.messages("C0SB02")[0])
    # RM007 not linked: plain text, never a broken mention (RM002's 1.02万-peak customer left the
    # list when churn monitoring moved to the seed's 5万+ customers, issue 15)
    assert "<@" not in sb02 and "@RM007" in sb02


def test_429_with_retry_after_is_retried_and_delivered_once(
        bank: Harness, sender: SlackSender, fake: FakeSlackAPI, clock: Clock) -> None:
    enqueued = build(bank)
    fake.fail("chat.postMessage", status=429, retry_after=1, channel="C0SB01")
    stats = worker(bank, sender, clock).drain()
    assert stats.sent == enqueued and stats.retried == 0
    assert sorted(c.status for c in fake.calls("chat.postMessage", ok_only=False)) == [200] * enqueued + [429]
    limited, retry = fake.calls("chat.postMessage", ok_only=False, where=lambda c: c.params["channel"] == "C0SB01")
    assert (limited.status, retry.status) == (429, 200)
    assert retry.at - limited.at >= 1.0  # Retry-After honoured by the SDK
    assert limited.params["metadata"] == retry.params["metadata"]
    for row in rows(bank):
        assert row.status == "sent" and row.attempts == 0 and len(keyed(fake, row.target, row.key)) == 1


def test_429_beyond_the_sdk_retries_comes_back_later(
        bank: Harness, sender: SlackSender, fake: FakeSlackAPI, clock: Clock) -> None:
    enqueued = build(bank)
    fake.fail("chat.postMessage", status=429, retry_after=0, times=4, channel="C0SB01")  # the SDK retries 3 times
    first = worker(bank, sender, clock).drain()
    assert first.retried == 1 and first.sent == enqueued - 1
    [waiting] = [r for r in rows(bank) if r.status != "sent"]
    assert waiting.org_id == "SB01" and waiting.status == "pending" and waiting.attempts == 1
    assert "ratelimited" in (waiting.last_error or "") and "429" in (waiting.last_error or "")
    assert keyed(fake, "C0SB01", waiting.key) == []
    clock.t = at(8, 32)
    assert worker(bank, sender, clock).drain().sent == 1
    assert all(r.status == "sent" and len(keyed(fake, r.target, r.key)) == 1 for r in rows(bank))


# -- exactly once across crashes ----------------------------------------------------------

@pytest.mark.parametrize("arrived", [True, False], ids=["posted-then-killed", "killed-before-post"])
def test_killed_between_send_and_mark_is_delivered_exactly_once(
        bank: Harness, sender: SlackSender, settings: Settings, fake: FakeSlackAPI, clock: Clock,
        arrived: bool) -> None:
    """The state a SIGKILL leaves: the row `sending`, the message in Slack (or not)."""
    enqueued = build(bank)
    victim = outbox.claim(bank.engine, "dead-worker", at(), timedelta(minutes=5), 1)[0]
    assert outbox.start_sending(bank.engine, victim, at(), timedelta(minutes=5))
    if arrived:
        ts = sender.send(victim.target, Reply.model_validate_json(victim.payload), victim.key)
    # a fresh process, before the lease is over: it must leave the row alone
    clock.t = at(8, 31)
    early = worker(bank, SlackSender.from_settings(settings, engine=bank.engine), clock).drain()
    assert next(r for r in rows(bank) if r.id == victim.id).status == "sending"
    # and after the lease: it asks Slack before sending anything
    clock.t = at(9, 0)
    late = worker(bank, SlackSender.from_settings(settings, engine=bank.engine), clock).drain()
    assert late.verified == (1 if arrived else 0)
    assert early.sent == enqueued - 1 and early.sent + late.sent + late.verified == enqueued
    assert posts_of(fake, victim.key) == 1  # Slack got it exactly once
    done = {r.id: r for r in rows(bank)}
    assert all(r.status == "sent" for r in done.values())
    [message] = keyed(fake, victim.target, victim.key)
    assert done[victim.id].message_id == message["ts"]
    if arrived:
        assert message["ts"] == ts
    lookups = fake.calls("conversations.history")
    assert lookups and all(c.params["channel"] == victim.target for c in lookups)
    assert lookups[0].params["include_all_metadata"] in ("1", "true", "True")
    assert float(lookups[0].params["oldest"]) <= at().timestamp() - 60  # since = created_at − 1 min (and skew)


def test_lost_answer_is_verified_not_resent(
        bank: Harness, sender: SlackSender, fake: FakeSlackAPI, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    """Slack posted the message but the answer never came back (read timeout)."""
    build(bank, "downgrade")
    real = sender.client.chat_postMessage

    def answer_lost(**kwargs: Any) -> Any:
        real(**kwargs)
        raise TimeoutError("The read operation timed out")

    monkeypatch.setattr(sender.client, "chat_postMessage", answer_lost)
    first = worker(bank, sender, clock).run_once()
    assert first.sent == first.retried == first.dead == 0 and len(first.errors) == len(rows(bank))
    assert {r.status for r in rows(bank)} == {"sending"}  # not `pending`: a plain retry could post twice
    monkeypatch.undo()
    clock.t = at(9, 0)
    late = worker(bank, sender, clock).drain()
    assert late.verified == len(rows(bank)) and late.sent == 0
    assert all(r.status == "sent" and posts_of(fake, r.key) == 1 for r in rows(bank))


def test_verification_that_cannot_reach_slack_keeps_the_row_verifying(
        bank: Harness, sender: SlackSender, fake: FakeSlackAPI, clock: Clock) -> None:
    build(bank, "downgrade")
    victim = outbox.claim(bank.engine, "dead-worker", at(), timedelta(minutes=5), 1)[0]
    assert outbox.start_sending(bank.engine, victim, at(), timedelta(minutes=5))
    sender.send(victim.target, Reply.model_validate_json(victim.payload), victim.key)
    clock.t = at(9, 0)
    fake.fail("conversations.history", status=503, times=3, error="service_unavailable")  # > the SDK's 2 retries
    stats = worker(bank, sender, clock).run_once()
    assert stats.verified == stats.retried == stats.dead == 0
    assert [e.split(": ", 1)[0] for e in stats.errors] == [victim.key]
    assert VerifyUnavailable.__name__ in stats.errors[0] and "service_unavailable" in stats.errors[0]
    assert next(r for r in rows(bank) if r.id == victim.id).status == "verifying"
    clock.t = at(9, 10)
    worker(bank, sender, clock).drain()
    assert all(r.status == "sent" for r in rows(bank)) and posts_of(fake, victim.key) == 1


# -- permanent failures -------------------------------------------------------------------

def test_channel_not_found_is_dead_with_the_error_visible(
        bank: Harness, sender: SlackSender, fake: FakeSlackAPI, clock: Clock) -> None:
    enqueued = build(bank)
    fake.remove_channel("C0SB01")
    stats = worker(bank, sender, clock).drain()
    assert stats.dead == 1 and stats.sent == enqueued - 1 and stats.retried == 0
    [dead] = [r for r in rows(bank) if r.status == "dead"]
    assert dead.org_id == "SB01" and dead.attempts == 1
    assert "channel_not_found" in (dead.last_error or "")
    assert any("channel_not_found" in e for e in stats.errors)
    clock.t = at(12, 0)
    assert worker(bank, sender, clock).drain().sent == 0  # dead stays dead: an operator must act
    assert len(fake.calls("chat.postMessage", ok_only=False, where=lambda c: c.params["channel"] == "C0SB01")) == 1


@pytest.mark.parametrize("error", ["not_in_channel", "invalid_auth", "account_inactive", "is_archived", "msg_too_long"])
def test_permanent_api_errors(sender: SlackSender, fake: FakeSlackAPI, error: str) -> None:
    fake.fail("chat.postMessage", status=200, error=error)
    with pytest.raises(PermanentSendError, match=error):
        sender.send("C0SB01", Reply(title="t", masked=True), "k:1")


def test_unmasked_reply_is_refused_before_any_call(sender: SlackSender, fake: FakeSlackAPI) -> None:
    with pytest.raises(PermanentSendError, match="group channel"):
        sender.send("C0SB01", Reply(title="客户分层 · 张三", masked=False), "k:1")
    assert fake.calls(ok_only=False) == []


def test_error_classification() -> None:
    from urllib.error import URLError

    assert isinstance(classify_send(URLError(ConnectionRefusedError(111, "refused"))), TransientSendError)
    assert isinstance(classify_send(TimeoutError("read timed out")), SendOutcomeUnknown)
    assert isinstance(classify_send(ConnectionResetError()), SendOutcomeUnknown)


def test_unreachable_slack_is_transient(bank: Harness, clock: Clock) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead_api = slack_settings_for(f"http://127.0.0.1:{port}/api/")
    sender = SlackSender.from_settings(dead_api, engine=bank.engine)
    with pytest.raises(TransientSendError, match="unreachable"):
        sender.send("C0SB01", Reply(title="t", masked=True), "k:1")


def slack_settings_for(url: str) -> Settings:
    return Settings(_env_file=None, SLACK_BOT_TOKEN="xoxb-x", SLACK_SIGNING_SECRET="s",  # type: ignore[call-arg]
                    SLACK_API_URL=url, DATABASE_URL="sqlite://")


def test_from_settings_and_wiring(settings: Settings, fake: FakeSlackAPI) -> None:
    from bot.push.wiring import configured_senders

    sender = configured_senders(settings)["slack"]
    assert isinstance(sender, SlackSender) and sender.platform == "slack"
    assert sender.client.base_url == fake.base_url
    kinds = {type(h).__name__: h for h in sender.client.retry_handlers}
    assert {"RateLimitErrorRetryHandler", "ServerErrorRetryHandler", "ConnectionErrorRetryHandler"} <= set(kinds)
    # a reset after the request went out may have posted: not retried blindly
    conn = kinds["ConnectionErrorRetryHandler"]
    assert isinstance(conn, ConnectionErrorRetryHandler)
    assert ConnectionResetError not in conn.error_types_to_do_retries


def test_manifest_lets_the_bot_read_back_its_pushes() -> None:
    import yaml

    from tests.slack.test_slack_setup import MANIFEST

    scopes = set(yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))["oauth_config"]["scopes"]["bot"])
    assert {"chat:write", "channels:history", "groups:history"} <= scopes


# -- one row, several Slack messages ----------------------------------------------------------

def long_reply(n: int = 150) -> Reply:
    return Reply(title="【到期提醒】西湖支行 · 2026-11-23", summary=f"共 {n} 笔", masked=True, items=[
        Item(text=f"客户{i:04d} 张* · 定期存款 · 到期", buttons=followup_buttons(f"C{i:07d}", f"maturing:H{i}"))
        for i in range(n)])


def test_a_long_reply_is_posted_in_parts_each_marked(sender: SlackSender, fake: FakeSlackAPI) -> None:
    reply = long_reply()
    total = len(sender.delivery.payloads(reply))
    assert total > 1
    ts = sender.send("C0SB01", reply, "maturing:SB01:2026-11-23:slack:1")
    messages = keyed(fake, "C0SB01", "maturing:SB01:2026-11-23:slack:1")
    assert [m["metadata"]["event_payload"] for m in messages] == [
        {"key": "maturing:SB01:2026-11-23:slack:1", "part": i, "parts": total} for i in range(1, total + 1)]
    assert ts == ",".join(m["ts"] for m in messages)
    assert sender.find_sent("C0SB01", "maturing:SB01:2026-11-23:slack:1", at(8, 0)) == ts
    seen = [line for m in messages for line in all_text(m).split("\n") if line.startswith("• 客户")]
    assert len(seen) == 150


@pytest.mark.parametrize("path", ["verified-after-crash", "plain-retry-in-a-new-process"])
def test_half_posted_long_reply_gets_only_its_missing_parts(
        bank: Harness, settings: Settings, fake: FakeSlackAPI, clock: Clock, path: str) -> None:
    key = "maturing:SB01:2026-11-23:slack:1"
    reply = long_reply()
    first = SlackSender.from_settings(settings, engine=bank.engine)
    first.now = clock
    total = len(first.delivery.payloads(reply))
    fake.fail("chat.postMessage", status=500, times=3, after=1, error="internal_error")  # part 1 lands, part 2 fails
    with pytest.raises(TransientSendError, match="500"):
        first.send("C0SB01", reply, key)
    assert [m["metadata"]["event_payload"]["part"] for m in keyed(fake, "C0SB01", key)] == [1]

    second = SlackSender.from_settings(settings, engine=bank.engine)  # no memory of the first
    second.now = clock
    if path == "verified-after-crash":
        assert second.find_sent("C0SB01", key, at(8, 0)) is None  # only a strict subset is there
    ts = second.send("C0SB01", reply, key)
    messages = keyed(fake, "C0SB01", key)
    assert [m["metadata"]["event_payload"]["part"] for m in messages] == list(range(1, total + 1))
    assert ts == ",".join(m["ts"] for m in messages)
    assert second.find_sent("C0SB01", key, at(8, 0)) == ts


def test_find_sent_pages_through_a_busy_channel(sender: SlackSender, fake: FakeSlackAPI, clock: Clock) -> None:
    ts = sender.send("C0SB01", Reply(title="t", masked=True), "churn:SB01:2026-11-23:slack:1")
    chatter = WebClient(token="xoxb-test", base_url=fake.base_url, retry_handlers=retry_handlers())
    for i in range(250):  # people talk after the push: it is now on the second page
        clock.t += timedelta(seconds=1)
        chatter.chat_postMessage(channel="C0SB01", text=f"msg {i}")
    assert sender.find_sent("C0SB01", "churn:SB01:2026-11-23:slack:1", at(8, 0)) == ts
    assert sender.find_sent("C0SB01", "churn:SB01:2026-11-23:slack:2", at(8, 0)) is None
    calls = fake.calls("conversations.history")
    assert calls[0].params["limit"] == "200" and "cursor" not in calls[0].params
    assert calls[1].params.get("cursor")
    # and nothing older than `since` is considered
    assert sender.find_sent("C0SB01", "churn:SB01:2026-11-23:slack:1", at(9, 0)) is None


# -- clicks on a pushed message ---------------------------------------------------------------

@pytest.fixture
def bank_slack(bank: Harness, settings: Settings, fake: FakeSlackAPI) -> Iterator[SlackSim]:
    """Our server, Slack adapter mounted, on the seeded bank."""
    with serve(build_server(bank.bot, settings, ["slack"])) as url:
        sim = SlackSim(url, fake)
        yield sim
        sim.close()


def test_click_on_a_pushed_item_is_rechecked_and_recorded_under_the_clicker(
        bank: Harness, sender: SlackSender, fake: FakeSlackAPI, clock: Clock, bank_slack: SlackSim) -> None:
    with Session(bank.engine) as s:
        link_identity(s, "slack", U_QIU, "RM001")
        link_identity(s, "slack", U_DENG, "RM002")
        s.commit()
    build(bank)
    worker(bank, sender, clock).drain()
    [pushed] = fake.messages("C0SB01")
    block = next(b for b in pushed["blocks"] if b.get("block_id") == "item-1")
    contacted = block["elements"][0]
    outcome, customer, ref = contacted["value"].split("|", 2)
    assert outcome == "contacted" and ref.startswith(f"churn:{customer}:")
    message = {k: pushed[k] for k in ("type", "ts", "user", "bot_id", "text", "blocks", "metadata")}

    # RM002 (another 支行) clicks RM001's customer: refused, only RM002 sees it, nothing recorded
    url = fake.response_url(uuid.uuid4().hex)
    resp = bank_slack.click(block_actions(user=U_DENG, channel="C0SB01", message=message, block_id="item-1",
                                          action_id=contacted["action_id"], value=contacted["value"],
                                          response_url=url))
    assert resp.status_code == 200
    [refusal] = response_bodies(fake, url)
    assert refusal["response_type"] == "ephemeral" and "未找到客户" in all_text(refusal)
    time.sleep(0.2)
    assert contacts(bank.engine, ref) == [] and fake.calls("chat.update") == []
    with Session(bank.engine) as s:
        audit = s.execute(select(AuditLog).where(AuditLog.staff_id == "RM002", AuditLog.target == customer)).scalars()
        assert [a.outcome for a in audit] == ["denied"]

    # RM001 clicks: recorded under RM001, the pushed message shows who handled it, details in the thread
    resp = bank_slack.click(block_actions(user=U_QIU, channel="C0SB01", message=message, block_id="item-1",
                                          action_id=contacted["action_id"], value=contacted["value"],
                                          response_url=fake.response_url("ok")))
    assert resp.status_code == 200
    [update] = fake.wait_for("chat.update")
    fake.wait_for("chat.postMessage", count=len(rows(bank)) + 1)
    assert [(c.customer_id, c.staff_id, c.outcome, c.channel) for c in contacts(bank.engine, ref)] == [
        (customer, "RM001", "contacted", "chat")]
    assert update.params["channel"] == "C0SB01" and update.params["ts"] == pushed["ts"]
    [now_shown] = [m for m in fake.messages("C0SB01") if m["ts"] == pushed["ts"]]
    done = next(b for b in now_shown["blocks"] if b.get("block_id") == "item-1")
    assert done["type"] == "context" and "已联系" in all_text(done) and "邱伟" in all_text(done)
    assert now_shown["metadata"] == pushed["metadata"]  # still findable by its key
    [thread] = [m for m in fake.messages("C0SB01") if m.get("thread_ts") == pushed["ts"]]
    assert "已记录跟进" in all_text(thread)
    # the thread reply is not a top-level message: verification still sees just the push
    row = next(r for r in rows(bank) if r.org_id == "SB01")
    assert sender.find_sent("C0SB01", row.key, at(8, 0)) == pushed["ts"]


def contacts(engine: Engine, ref: str) -> list[Contact]:
    with Session(engine) as s:
        return list(s.scalars(select(Contact).where(Contact.ref == ref)))  # type: ignore[arg-type]
