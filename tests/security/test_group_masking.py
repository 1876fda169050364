"""Issue 13 item 2, reproductions: group replies held near-exact amounts (SQLite and PostgreSQL).

Found: in a group `/maturing` showed `苏**（C0000001）· 理财 15.8万` and `/churn` `流向他行约 27.3万`
where /tier shows `10–20万`; `/summary` was not masked (`到期承接：1 笔 5.22万` is one customer's
holding); daily pushes showed amounts the same way. Plus the policy's own guarantees: the
safety net, the audience set by the core, withheld charts, resolved outbox payloads.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import Session

from bot.calendar_data import load_calendar
from bot.core.privacy import resolve
from bot.core.reply import Image, Item, Reply
from bot.core.sensitive import Aggregate, CustomerMoney, CustomerName, IdNumber, Phone, Share, Text
from bot.push.service import PushService
from bot.render import blockkit, wecom_markdown
from bot.render.text import render_text
from bot.store.models import Balance, Customer, Holding, Outbox
from bot.testing import DEMO_DATA_DATE, Harness, add_file_destinations
from rules.masking import aum_band
from rules.money import fmt_wan
from rules.policy import Policy, default_policy

BANDS = default_policy().aum_bands_yuan
BAND = r"(?:\d+–\d+万|\d+万以下|\d+万以上)"


@pytest.fixture(params=["sqlite", "postgresql"])
def h(request: pytest.FixtureRequest) -> Harness:
    return request.getfixturevalue("rmbot" if request.param == "sqlite" else "rmbot_pg")


def _customer(h: Harness, cid: str) -> Customer:
    with Session(h.engine) as s:
        c = s.get(Customer, cid)
        assert c is not None
        return c


def test_maturing_in_a_group_bands_each_amount_like_tier(h: Harness) -> None:
    dm = h.ask("RM001", "/maturing 90")
    group = h.ask("RM001", "/maturing 90", channel="group")
    with Session(h.engine) as s:
        amounts = [a for (a,) in s.execute(select(Holding.amount_fen).join(Customer).where(
            Customer.rm_id == "RM001", Holding.maturity_date.is_not(None)))]
    shown = [a for a in amounts if fmt_wan(a, 1) in dm.text]
    assert shown, "the DM lists exact amounts"
    for fen in shown:
        assert not re.search(r"(?<![\d.])" + re.escape(fmt_wan(fen, 1)), group.text)
        assert aum_band(fen, BANDS) in group.text
    items = [i.text for s in group.reply.sections for i in s.items]
    assert items and all(re.search(r"（C\d{7}）· \S+ " + BAND + " · ", t) for t in items), items[:3]


def test_churn_in_a_group_bands_the_outflow(h: Harness) -> None:
    group = h.ask("BM01", "/churn", channel="group")
    dm = h.ask("BM01", "/churn")
    with Session(h.engine) as s:
        outflows = [b.outflow_other_bank_fen for b in s.execute(
            select(Balance).where(Balance.as_of == DEMO_DATA_DATE, Balance.outflow_other_bank_fen > 0)).scalars()]
    assert "流向他行" in group.text
    assert re.search("流向他行约 " + BAND, group.text)
    for fen in outflows:
        assert not re.search(r"(?<![\d.])" + re.escape(fmt_wan(fen, 1)), group.text)
    assert any(re.search(r"(?<![\d.])" + re.escape(fmt_wan(fen, 1)), dm.text) for fen in outflows)


def test_summary_in_a_group_bands_a_sum_over_one_customer(h: Harness) -> None:
    def maturing(channel: str) -> str:
        reply = h.ask("RM003", "/summary 本月", channel=channel).reply  # type: ignore[arg-type]
        return next(str(f.value) for f in reply.fields if f.label == "到期承接")

    dm, group = maturing("dm"), maturing("group")
    assert dm.startswith("1 笔 2.40万")  # one holding: exactly one customer's money
    assert group.startswith("1 笔 5万以下") and "2.40万" not in group


def test_summary_over_enough_customers_is_shown_in_a_group(h: Harness) -> None:
    dm = h.ask("BM01", "/summary").reply
    group = h.ask("BM01", "/summary", channel="group").reply
    assert dm.summary == group.summary and "金融资产 " in str(group.summary)  # many customers: the branch's figure
    assert next(f.value for f in group.fields if f.label == "金融资产") == next(
        f.value for f in dm.fields if f.label == "金融资产")


def test_daily_push_bands_amounts(h: Harness, tmp_path: Path) -> None:
    add_file_destinations(h.engine, tmp_path)
    service = PushService(h.engine, default_policy(), load_calendar())
    service.build("maturing", DEMO_DATA_DATE.replace(day=23))
    with Session(h.engine) as s:
        rows = list(s.execute(select(Outbox)).scalars())
        c1 = _customer(h, "C0000001")
    assert rows
    for row in rows:
        reply = Reply.model_validate_json(row.payload)  # stored resolved: plain strings only
        for section in reply.sections:
            for item in section.items:
                assert isinstance(item.text, str)
                assert re.search(r"· \S+ " + BAND + " · ", item.text), item.text
        assert c1.name not in row.payload


# -- the policy itself ---------------------------------------------------------------------------


def _typed(masked: bool) -> Reply:
    return Reply(
        title=Text.of("客户分层 · ", CustomerName("欧阳娜娜"), "（C0000009）"), masked=masked,
        fields=[], items=[Item(text=Text.of(CustomerName("欧阳娜娜"), " · ", CustomerMoney(15_820_000, places=1),
                                            " · ", Phone("13812345678"), " · ", IdNumber("330102199001011234")))],
        summary=Text.of("合计 ", Aggregate(5_220_000, customers=1), "；全行 ", Aggregate(9_990_000_00, customers=300),
                        "；承接率 ", Share(1_000_000, 3_500_000, customers=1)),
    )


RENDER = {
    "console": render_text,
    "slack": lambda r: json.dumps(blockkit.render_messages(r), ensure_ascii=False),
    "wecom": lambda r: json.dumps([m.body for m in wecom_markdown.render_messages(r, cards=True)], ensure_ascii=False),
    "wecom_robot": lambda r: "\n".join(wecom_markdown.render_robot_markdown(r)),
}


@pytest.mark.parametrize("renderer", sorted(RENDER))
def test_every_renderer_masks_typed_values_for_a_group(renderer: str) -> None:
    out = RENDER[renderer](_typed(masked=True)).replace("\u200b", "")
    for raw in ("欧阳娜娜", "15.8万", "13812345678", "330102199001011234", "5.22万", "28.6%"):
        assert raw not in out, raw
    for shown in ("欧阳**", "10–20万", "138****5678", "****1234", "5–10万", "999.00万", "**%"):
        assert shown in out, shown


@pytest.mark.parametrize("renderer", sorted(RENDER))
def test_every_renderer_shows_typed_values_in_a_dm(renderer: str) -> None:
    out = RENDER[renderer](_typed(masked=False)).replace("\u200b", "")
    for raw in ("欧阳娜娜", "15.8万", "13812345678", "330102199001011234", "5.22万", "28.6%"):
        assert raw in out, raw


def test_safety_net_masks_raw_values_a_command_formatted_itself(caplog: pytest.LogCaptureFixture) -> None:
    reply = Reply(title=Text.of("客户 ", CustomerName("苏明远"), "（C0000001）"), masked=True,
                  items=[Item(text=Text.of("理财 ", CustomerMoney(15_820_000)))],
                  notes=["苏明远 的理财 15.82万 到期，电话 13800001234，卡号 6222020200112233445"])
    with caplog.at_level(logging.WARNING, logger="rmbot.privacy"):
        out = resolve(reply)
    note = str(out.notes[0])
    assert "苏明远" not in note and "15.82万" not in note and "13800001234" not in note
    assert "6222020200112233445" not in note
    assert "苏**" in note and "10–20万" in note and "138****1234" in note and "****3445" in note
    assert "masking net" in caplog.text
    assert resolve(out) == out  # idempotent: a resolved reply resolves to itself


def test_the_core_decides_the_audience_not_the_command(h: Harness) -> None:
    assert h.ask("RM001", "/tier C0000001", channel="group").reply.masked
    assert not h.ask("RM001", "/tier C0000001").reply.masked
    # a click always comes from a (group) message: masked
    assert h.click("RM001", "followup", "contacted|C0000001|tier:C0000001", channel="group").reply.masked


def test_charts_of_too_few_customers_are_not_sent_to_groups() -> None:
    png = b"\x89PNG\r\n\x1a\n"
    reply = Reply(title="经营汇总", masked=True, images=[
        Image.from_png("金融资产趋势", "a.png", png, customers=2), Image.from_png("客户分层", "b.png", png)])
    out = resolve(reply)
    assert [i.filename for i in out.images] == ["b.png"] and "少于 3 户" in str(out.notes[-1])
    assert len(resolve(reply.model_copy(update={"masked": False})).images) == 2


def test_group_min_customers_is_a_policy_value() -> None:
    text = Text.of(Aggregate(5_220_000, customers=4))
    reply = Reply(title=text, masked=True)
    assert resolve(reply).title == "5.22万"
    strict = Policy.model_validate({**default_policy().model_dump(), "masking": {"group_min_customers": 5}})
    assert resolve(reply, strict).title == "5–10万"


def test_one_button_rule_follow_up_buttons_in_every_channel(h: Harness) -> None:
    """README (Privacy): the follow-up buttons go with every item and /tier answer, DM or group."""
    for text in ("/maturing 90", "/churn"):
        for channel in ("dm", "group"):
            reply = h.ask("RM001", text, channel=channel).reply  # type: ignore[arg-type]
            items = [i for s in reply.sections for i in s.items]
            assert items and all(len(i.buttons) == 3 or i.done_by for i in items), (text, channel)
    assert len(h.ask("RM001", "/tier C0000001", channel="group").reply.buttons) == 3
