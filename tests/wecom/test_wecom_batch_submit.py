"""A batched card's submit (multiple_interaction, issue 14 item 9): each chosen option runs as
the button it stands for, with the clicker's role and scope checked; 暂不登记 records nothing."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from bot.adapters.wecom.callback import NOTHING_CHOSEN, WeComAdapter, parse_xml
from tests.fakes.wecom_api import OTHER_RM_USER, RM_USER, FakeWeCom, WeComSender
from tests.wecom.test_wecom_callback import UPDATE, contacts, markdowns, settle

RETAINED = "followup|retained|C0000001|tier:C0000001"


def test_selected_items_are_read_from_the_callback_xml() -> None:
    xml = WeComSender.submit_xml(RM_USER, "rmbot-batch", "RC-1", "t1", [("q1", [RETAINED]), ("q2", ["skip"])])
    msg = parse_xml(xml)
    assert msg["CardType"] == "multiple_interaction" and msg["EventKey"] == "rmbot-batch"
    from bot.render.wecom_markdown import parse_selected

    assert parse_selected(msg["SelectedItems"]) == [("q1", [RETAINED]), ("q2", ["skip"])]


def test_submit_records_the_chosen_item_only(wecom: WeComSender, fake: FakeWeCom, adapter: WeComAdapter,
                                            engine: Engine) -> None:
    wecom.post(wecom.submit_xml(RM_USER, "rmbot-batch", "RC-expired", "t1", [("q1", [RETAINED]), ("q2", ["skip"])]))
    settle(adapter)
    assert [(c.outcome, c.ref, c.staff_id) for c in contacts(engine)] == [("retained", "tier:C0000001", "RM001")]
    assert not fake.delivered(UPDATE)  # the code was not WeCom's: confirmed by message instead
    assert any("已承接" in m for m in markdowns(fake))


def test_submit_with_nothing_chosen_says_so(wecom: WeComSender, fake: FakeWeCom, adapter: WeComAdapter,
                                           engine: Engine) -> None:
    wecom.post(wecom.submit_xml(RM_USER, "rmbot-batch", "RC-1", "t1", [("q1", ["skip"])]))
    settle(adapter)
    assert contacts(engine) == []
    assert any(NOTHING_CHOSEN.split("：")[0] in m for m in markdowns(fake))


def test_submit_for_a_customer_out_of_scope_is_refused(wecom: WeComSender, fake: FakeWeCom, adapter: WeComAdapter,
                                                      engine: Engine) -> None:
    wecom.post(wecom.submit_xml(OTHER_RM_USER, "rmbot-batch", "RC-1", "t1", [("q1", [RETAINED])]))
    settle(adapter)
    assert contacts(engine) == []
    assert any("无权" in m for m in markdowns(fake, OTHER_RM_USER))
