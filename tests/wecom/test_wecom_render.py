"""Reply → WeCom markdown and cards: byte limits, lossless splitting, escaping, button keys."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.followup import followup_buttons
from bot.core.reply import Button, Field, Item, Reply, Section, Table
from bot.render.wecom_markdown import (
    BUTTON_KEY_MAX,
    MARKDOWN_MAX,
    ROBOT_MARKDOWN_MAX,
    md,
    parse_button_key,
    render_cards,
    render_done,
    render_markdown,
    render_messages,
    render_robot_markdown,
    split_utf8,
)
from tests.fakes.wecom_api import LONG_TEXT

ZWSP = "\u200b"


def assert_lossless(text: str, parts: list[str], limit: int) -> None:
    assert "".join(parts) == text
    for part in parts:
        raw = part.encode("utf-8")  # a str part can only be whole characters; encode proves it
        assert 0 < len(raw) <= limit
        assert raw.decode("utf-8") == part


def test_split_5000_characters_prefers_line_ends() -> None:
    parts = split_utf8(LONG_TEXT, MARKDOWN_MAX)
    assert_lossless(LONG_TEXT, parts, MARKDOWN_MAX)
    assert len(parts) > 1
    assert all(p.endswith("\n") for p in parts[:-1])  # every cut at a line end


def test_split_one_long_line_cuts_between_characters() -> None:
    text = "😀" * 1000 + "é" * 1000  # no line ends, no spaces: 4-byte then 2-byte characters
    parts = split_utf8(text, 2048)
    assert_lossless(text, parts, 2048)


def test_split_keeps_combining_marks_and_joiners_with_their_base() -> None:
    family = "👩\u200d👩\u200d👧"
    text = ("e\u0301" * 700) + family * 200
    for part in split_utf8(text, 2048)[1:]:
        assert not unicodedata.combining(part[0]) and part[0] != "\u200d"
    assert "".join(split_utf8(text, 2048)) == text


def test_short_text_is_one_part() -> None:
    assert split_utf8("你好", 2048) == ["你好"]
    assert split_utf8("", 2048) == []


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=3000), limit=st.integers(min_value=8, max_value=600))
def test_split_any_text(text: str, limit: int) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates cannot be sent at all
        return
    assert_lossless(text, split_utf8(text, limit), limit)


def long_reply() -> Reply:
    return Reply(title="长回复测试", summary="共 5000 字", sections=[Section(title="正文", text=LONG_TEXT)],
                 notes=["最后一行"])


def test_5000_character_reply_split_for_message_send() -> None:
    reply = long_reply()
    full = render_markdown(reply)
    messages = render_messages(reply)
    assert all(m.msgtype == "markdown" for m in messages)
    parts = [m.body for m in messages]
    assert len(parts) >= 4  # ~12,000 bytes of text
    assert_lossless(full, parts, MARKDOWN_MAX)
    assert LONG_TEXT.strip() in full.replace(ZWSP, "")
    assert parts[-1].rstrip().endswith("最后一行</font>")


def test_5000_character_reply_split_for_robot() -> None:
    reply = long_reply()
    parts = render_robot_markdown(reply)
    assert_lossless(render_markdown(reply, cards=False, robot=True), parts, ROBOT_MARKDOWN_MAX)
    assert len(parts) >= 3


def test_markdown_layout_and_escaping() -> None:
    reply = Reply(
        title="客户分层", summary="贵宾客户",
        fields=[Field(label="姓名", value="欧阳**"), Field(label="手机", value="138****1234")],
        tables=[Table(title="持有", columns=["产品", "金额"], rows=[["<font color=\"info\">假</font>", "[点我](http://x)"]])],
        sections=[Section(title="说明", text="# 不是标题\n> 不是引用")], notes=["数据日期 2026-11-22"],
        masked=True,
    )
    text = render_markdown(reply)
    assert text.startswith("### 客户分层\n**贵宾客户**")
    assert "欧阳*\u200b*\u200b" in text and "**贵宾客户**" in text
    assert "<font color=\"info\">假" not in text and "](http" not in text
    assert "\n\u200b# 不是标题" in text and "\n\u200b> 不是引用" in text
    assert text.replace(ZWSP, "").count("138****1234") == 1


def test_error_reply_shows_usage() -> None:
    text = render_markdown(Reply.error("客户号格式不正确", usage="/tier <客户号>"))
    assert "❌" in text and "客户号格式不正确" in text and "用法：`/tier <客户号>`" in text


def test_mentions_only_in_robot_markdown() -> None:
    reply = Reply(title="推送", sections=[Section(title="城东支行", mention="RM001", text="3 位客户")])
    assert "<@wangfang>" in render_markdown(reply, cards=False, mentions={"RM001": "wangfang"}, robot=True)
    assert "<@" not in render_markdown(reply, mentions={"RM001": "wangfang"})


def card_reply() -> Reply:
    return Reply(title="到期提醒", items=[
        Item(text="C0000001 张* 大额存单 到期", ref="maturing:H1", buttons=followup_buttons("C0000001", "maturing:H1")),
        Item(text="C0000002 李* 理财 到期", ref="maturing:H2", done_by="已联系 · 王芳 11-24 09:12",
             buttons=followup_buttons("C0000002", "maturing:H2")),
        Item(text="C0000003 赵* 定期 到期", ref="maturing:H3", buttons=followup_buttons("C0000003", "maturing:H3")),
    ])


def test_items_with_buttons_become_one_card_each() -> None:
    messages = render_messages(card_reply())
    kinds = [m.msgtype for m in messages]
    assert kinds == ["markdown", "template_card", "template_card"]  # the handled item gets none
    card = messages[1].body
    assert card["card_type"] == "button_interaction"
    assert card["sub_title_text"] == "C0000001 张* 大额存单 到期"
    keys = [b["key"] for b in card["button_list"]]
    assert keys == ["followup|contacted|C0000001|maturing:H1", "followup|retained|C0000001|maturing:H1",
                    "followup|lost|C0000001|maturing:H1"]
    assert [parse_button_key(k) for k in keys][0] == ("followup", "contacted|C0000001|maturing:H1")
    assert messages[1].body["task_id"] != messages[2].body["task_id"]
    text = messages[0].body
    assert "✔ 已联系 · 王芳 11-24 09:12" in text and "请在下方卡片中登记跟进（2 项）" in text


def test_without_cards_buttons_are_listed_as_text() -> None:
    messages = render_messages(card_reply(), cards=False)
    assert [m.msgtype for m in messages] == ["markdown"]
    assert "（已联系 / 已承接 / 已流失）" in messages[0].body


def test_button_key_too_long_is_not_carded() -> None:
    huge = Button(label="已联系", action="followup", value="contacted|C1|" + "x" * BUTTON_KEY_MAX)
    reply = Reply(title="t", items=[Item(text="a", buttons=[huge])])
    assert render_cards(reply) == []


def test_reply_level_buttons_six_per_card() -> None:
    buttons = [Button(label=f"b{i}", action="followup", value=f"contacted|C{i}|r") for i in range(8)]
    cards = render_cards(Reply(title="t", summary="s", buttons=buttons))
    assert [len(c["button_list"]) for c in cards] == [6, 2]


def test_done_label() -> None:
    assert render_done(Reply(title="已记录跟进", summary="C0000001 已联系 · 王芳 11-24 09:12")) == \
        "C0000001 已联系 · 王芳 11-24 09:12"


def test_parse_button_key_rejects_junk() -> None:
    assert parse_button_key("") is None
    assert parse_button_key("followup") is None
    assert parse_button_key("|x") is None


@pytest.mark.parametrize("value", ["张*", "欧阳**", "a<b", "`x`", "[a](b)"])
def test_md_keeps_every_character(value: str) -> None:
    assert md(value).replace(ZWSP, "") == value


def many_items(n: int) -> Reply:
    return Reply(title="到期提醒", items=[
        Item(text=f"C{i:07d} 客户{i} 大额存单 到期", ref=f"maturing:H{i}", buttons=followup_buttons(f"C{i:07d}", f"maturing:H{i}"))
        for i in range(1, n + 1)])


def test_more_than_three_items_are_batched_three_to_a_card() -> None:
    """Issue 14 item 9: 20 items were 20 cards; now 7 cards of up to three select lists, each
    item's select offering 暂不登记 and its three outcomes, the option ids the button keys."""
    messages = render_messages(many_items(20))
    cards = [m.body for m in messages if m.msgtype == "template_card"]
    assert len(cards) == 7 and all(c["card_type"] == "multiple_interaction" for c in cards)
    selects = [q for c in cards for q in c["select_list"]]
    assert [q["question_key"] for q in selects] == [f"q{i}" for i in range(1, 21)]
    for i, q in enumerate(selects, 1):
        assert q["selected_id"] == "skip" and len(q["title"]) <= 13 and q["title"].startswith(f"{i}. ")
        ids = [o["id"] for o in q["option_list"]]
        assert ids == ["skip"] + [f"followup|{o}|C{i:07d}|maturing:H{i}" for o in ("contacted", "retained", "lost")]
        assert all(len(x.encode()) <= 128 for x in ids)
    assert all(c["submit_button"]["key"] == "rmbot-batch" for c in cards)
    assert len({c["task_id"] for c in cards}) == 7
    assert cards[0]["main_title"]["desc"].startswith("第 1–3 项")


def test_three_items_keep_a_card_each() -> None:
    assert [m.body["card_type"] for m in render_messages(many_items(3)) if m.msgtype == "template_card"] == \
        ["button_interaction"] * 3


def test_parse_selected_reads_the_stored_answer() -> None:
    from bot.render.wecom_markdown import parse_selected

    assert parse_selected('[["q1", ["followup|lost|C1|r"]], ["q2", ["skip"]]]') == [
        ("q1", ["followup|lost|C1|r"]), ("q2", ["skip"])]
    assert parse_selected("not json") == [] and parse_selected("") == []
