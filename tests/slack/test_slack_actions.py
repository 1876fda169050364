"""Button clicks: the follow-up is recorded under the clicker, the message shows who handled
the item, and the details go into the message's thread."""

from __future__ import annotations

import time
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.core.reply import Item, Reply
from bot.render.blockkit import render_messages
from bot.store.models import Contact
from commands.followup import followup_buttons
from tests.fakes.slack_api import FakeSlackAPI
from tests.slack.support import (
    U_LI,
    U_WANG,
    SlackSim,
    all_text,
    assert_valid_payload,
    block_actions,
    command_answers,
    response_bodies,
)

CHANNEL = "C0TEAM001"


def fresh_ref() -> str:
    """A ref of C0000001's own (a click must name the customer's item), unique per test."""
    return f"downgrade:C0000001:{uuid.uuid4().int % 10**9}"


def second(ref: str) -> str:
    """The same item kind for C0000002, the message's second item."""
    return ref.replace("C0000001", "C0000002")


def pushed_message(ref: str) -> dict[str, Any]:
    """A message as the bot would have posted it in the team channel (a masked push)."""
    reply = Reply(title="近 7 天到期提醒", summary="2 笔产品即将到期", masked=True, items=[
        Item(text="张* · 定期存款 50–100万 · 12-01 到期", buttons=followup_buttons("C0000001", ref), ref=ref),
        Item(text="欧阳** · 大额存单 20–50万 · 12-03 到期", buttons=followup_buttons("C0000002", second(ref)),
             ref=second(ref)),
    ])
    [payload] = render_messages(reply)
    return {"type": "message", "ts": f"{int(time.time())}.{uuid.uuid4().int % 10**6:06d}", "user": "UBOT00001",
            "bot_id": "BBOT00001", "text": payload["text"], "blocks": payload["blocks"]}


def button(message: dict[str, Any], block_id: str, index: int) -> dict[str, Any]:
    block = next(b for b in message["blocks"] if b.get("block_id") == block_id)
    return block["elements"][index]


def contacts(engine: Engine, ref: str) -> list[Contact]:
    with Session(engine) as s:
        return list(s.scalars(select(Contact).where(Contact.ref == ref)))  # type: ignore[arg-type]


def test_click_records_followup_updates_message_and_threads_details(
        slack: SlackSim, fake: FakeSlackAPI, engine: Engine) -> None:
    ref = fresh_ref()
    message = pushed_message(ref)
    b = button(message, "item-1", 0)
    assert b["value"] == f"contacted|C0000001|{ref}"
    started = time.monotonic()
    resp = slack.click(block_actions(user=U_WANG, channel=CHANNEL, message=message, block_id="item-1",
                                     action_id=b["action_id"], value=b["value"],
                                     response_url=fake.response_url("click")))
    assert resp.status_code == 200 and time.monotonic() - started < 1.0

    [update] = fake.wait_for("chat.update")
    [thread] = fake.wait_for("chat.postMessage")
    rows = contacts(engine, ref)
    assert [(r.customer_id, r.staff_id, r.outcome, r.channel) for r in rows] == [
        ("C0000001", "RM001", "contacted", "chat")]

    assert update.params["channel"] == CHANNEL and update.params["ts"] == message["ts"]
    assert_valid_payload(update.params)
    blocks = update.blocks
    done = next(b for b in blocks if b.get("block_id") == "item-1")
    assert done["type"] == "context" and "已联系" in all_text(done) and "王芳" in all_text(done)
    still_open = next(b for b in blocks if b.get("block_id") == "item-2")
    assert still_open["type"] == "actions"  # the other item keeps its buttons

    assert thread.params["channel"] == CHANNEL and thread.params["thread_ts"] == message["ts"]
    assert_valid_payload(thread.params)
    assert "已记录跟进" in all_text(thread.params)
    assert fake.calls("response_url") == []  # nothing ephemeral on success


def test_second_click_keeps_the_first_mark(slack: SlackSim, fake: FakeSlackAPI, engine: Engine) -> None:
    """Both clicks carry the message as first posted; the second update must not undo the first."""
    ref = fresh_ref()
    message = pushed_message(ref)
    for block_id, index, user in (("item-1", 1, U_WANG), ("item-2", 2, U_WANG)):
        b = button(message, block_id, index)
        slack.click(block_actions(user=user, channel=CHANNEL, message=message, block_id=block_id,
                                  action_id=b["action_id"], value=b["value"],
                                  response_url=fake.response_url("c")))
        fake.wait_for("chat.update", count=1 if block_id == "item-1" else 2)
    fake.wait_for("chat.postMessage", count=2)  # both threads' details
    last = fake.calls("chat.update")[-1]
    kinds = {b.get("block_id"): b["type"] for b in last.blocks if b.get("block_id")}
    assert kinds == {"item-1": "context", "item-2": "context"}
    assert "已承接" in all_text(last.params) and "已流失" in all_text(last.params)
    assert sorted(r.outcome for r in contacts(engine, ref) + contacts(engine, second(ref))) == ["lost", "retained"]


def test_click_on_a_customer_the_clicker_may_not_see(slack: SlackSim, fake: FakeSlackAPI, engine: Engine) -> None:
    ref = fresh_ref()
    message = pushed_message(ref)
    b = button(message, "item-1", 0)
    url = fake.response_url(uuid.uuid4().hex)
    slack.click(block_actions(user=U_LI, channel=CHANNEL, message=message, block_id="item-1",
                              action_id=b["action_id"], value=b["value"], response_url=url))
    [body] = response_bodies(fake, url)
    assert body["response_type"] == "ephemeral" and body["replace_original"] is False
    assert_valid_payload(body)
    assert "未找到客户" in all_text(body)
    time.sleep(0.2)
    assert contacts(engine, ref) == []
    assert fake.calls("chat.update") == [] and fake.calls("chat.postMessage") == []


def test_click_on_an_ephemeral_answer_rewrites_it(slack: SlackSim, fake: FakeSlackAPI, engine: Engine) -> None:
    """/tier in a DM answers ephemerally with buttons; those cannot be chat.update'd."""
    [answer] = command_answers(fake, *slack.command("tier", "C0000001"))
    b = button(answer, "buttons", 1)
    ref = b["value"].split("|", 2)[2]
    before = len(contacts(engine, ref))
    click_url = fake.response_url(uuid.uuid4().hex)
    message = {"type": "message", "text": answer["text"], "blocks": answer["blocks"], "ts": "1700000001.000001"}
    slack.click(block_actions(user=U_WANG, channel="D0RMBOT01", message=message, block_id="buttons",
                              action_id=b["action_id"], value=b["value"], response_url=click_url, ephemeral=True))
    replaced, details = response_bodies(fake, click_url, count=2)
    assert replaced["replace_original"] is True
    assert_valid_payload(replaced)
    done = next(x for x in replaced["blocks"] if x.get("block_id") == "buttons")
    assert done["type"] == "context" and "已承接" in all_text(done)
    assert details["replace_original"] is False and "已记录跟进" in all_text(details)
    assert len(contacts(engine, ref)) == before + 1
    assert fake.calls("chat.update") == []


def test_unknown_and_broken_clicks(slack: SlackSim, fake: FakeSlackAPI) -> None:
    message = pushed_message("x")
    url = fake.response_url(uuid.uuid4().hex)
    # an action the core does not know
    resp = slack.click(block_actions(user=U_WANG, channel=CHANNEL, message=message, block_id="item-1",
                                     action_id="rmbot:nosuch:item-1:0", value="v", response_url=url))
    assert resp.status_code == 200
    assert "未知操作" in all_text(response_bodies(fake, url)[0])
    # a tampered value
    url2 = fake.response_url(uuid.uuid4().hex)
    slack.click(block_actions(user=U_WANG, channel=CHANNEL, message=message, block_id="item-1",
                              action_id="rmbot:followup:item-1:0", value="x" * 3000, response_url=url2))
    assert "按钮数据无效" in all_text(response_bodies(fake, url2)[0])
    # not our action_id at all: Bolt has no listener → 404, never 500
    resp = slack.click(block_actions(user=U_WANG, channel=CHANNEL, message=message, block_id="b",
                                     action_id="someone-elses", value="v", response_url=url))
    assert resp.status_code == 404
    # no user
    payload = block_actions(user=U_WANG, channel=CHANNEL, message=message, block_id="item-1",
                            action_id="rmbot:followup:item-1:0", value="contacted|C0000001|x", response_url=url)
    del payload["user"]
    assert slack.click(payload).status_code < 500
    assert fake.calls("chat.update") == []
