"""Block Kit rendering: every payload valid for slack_sdk's block models, within every limit,
long content split across blocks and messages with nothing lost."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.reply import Button, Field, Item, Reply, Section, Table
from bot.render import blockkit
from bot.render.blockkit import RenderError, esc, mark_item_done, render_messages
from commands.followup import followup_buttons
from tests.slack.support import all_text, assert_valid_payload


def messages(reply: Reply, **kw: object) -> list[dict]:
    out = render_messages(reply, **kw)  # type: ignore[arg-type]
    for payload in out:
        assert_valid_payload(payload)
    return out


def test_every_part_of_a_reply_renders_validly() -> None:
    reply = Reply(
        title="客户分层 · 张三（C0000001）", kind="warning", summary="贵宾客户",
        fields=[Field(label="分层", value="贵宾客户"), Field(label="联系电话", value="13812341234")],
        tables=[Table(title="近 30 天到期", columns=["产品", "金额", "到期日"], rows=[["定期存款", "50.00万", "2026-12-01"]])],
        items=[Item(text="已处理的一项", done_by="已联系 · 王芳 11-24 09:12"),
               Item(text="待处理的一项", buttons=followup_buttons("C0000001", "tier:C0000001"))],
        sections=[Section(title="城东支行", mention="RM001", text="两笔到期", fields=[Field(label="a", value="b")],
                          tables=[Table(columns=["x"], rows=[["1"]])],
                          items=[Item(text="i", buttons=followup_buttons("C0000002", "r"))])],
        buttons=[Button(label="全部已联系", action="followup", value="v", style="primary")],
        notes=["数据日期 2026-11-20"], usage="/tier <客户号>", masked=False,
    )
    [payload] = messages(reply, mentions={"RM001": "UWANGFANG"})
    text = all_text(payload)
    assert payload["blocks"][0]["type"] == "header" and "⚠️" in payload["blocks"][0]["text"]["text"]
    for needle in ("贵宾客户", "13812341234", "定期存款", "✅ 已联系 · 王芳", "<@UWANGFANG>", "两笔到期",
                   "全部已联系", "数据日期", "/tier &lt;客户号&gt;"):
        assert needle in text, needle
    action_ids = [e["action_id"] for b in payload["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert len(action_ids) == len(set(action_ids)) == 7
    assert all(a.startswith("rmbot:followup:") for a in action_ids)


def test_customer_text_cannot_inject_markup_or_mentions() -> None:
    evil = "<!channel> <@U123> <https://evil.example|点我> & *bold*"
    reply = Reply(title=evil, summary=evil, fields=[Field(label=evil, value=evil)], items=[Item(text=evil)],
                  tables=[Table(columns=[evil], rows=[[evil]])], notes=[evil], sections=[Section(title=evil, text=evil)])
    for payload in messages(reply):
        for block in payload["blocks"]:
            if block["type"] == "header":
                continue  # plain_text: Slack shows it literally
            raw = json.dumps(block, ensure_ascii=False)
            assert "<!channel>" not in raw and "<@U123>" not in raw and "<https://" not in raw
        assert "<" not in payload["text"]


def test_500_items_split_into_messages_and_nothing_is_lost() -> None:
    reply = Reply(title="近 30 天到期提醒", summary="共 500 笔", masked=True, items=[
        Item(text=f"客户{i:04d} · 定期存款 · 12-{i % 28 + 1:02d} 到期",
             buttons=followup_buttons(f"C{i:07d}", f"maturing:H{i}")) for i in range(500)])
    out = messages(reply)
    assert len(out) > 10
    texts, values = [], []
    for n, payload in enumerate(out, 1):
        blocks = payload["blocks"]
        if n == 1:
            assert blocks[0]["type"] == "header"
        else:
            assert f"（续 {n}/{len(out)}）" in blocks[0]["elements"][0]["text"]
        # an item's text and its buttons are never split across messages
        for i, block in enumerate(blocks):
            if block["type"] == "actions":
                assert blocks[i - 1]["type"] == "section"
        texts += [b["text"]["text"] for b in blocks if b["type"] == "section" and b["text"]["text"].startswith("• ")]
        values += [e["value"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert texts == [f"• 客户{i:04d} · 定期存款 · 12-{i % 28 + 1:02d} 到期" for i in range(500)]
    assert values == [f"{o}|C{i:07d}|maturing:H{i}" for i in range(500) for o in ("contacted", "retained", "lost")]


def test_long_text_is_chunked_not_cut() -> None:
    long = "\n".join(f"第{i}行 " + "长" * (i % 97) + " & <x>" for i in range(2000))
    reply = Reply(title="T" * 400, summary=long, sections=[Section(text="无换行" * 5000)])
    out = messages(reply)
    sections = [b["text"]["text"] for p in out for b in p["blocks"] if b["type"] == "section"]
    assert max(len(s) for s in sections) <= blockkit.SECTION_TEXT
    joined = "".join(sections)
    assert "T" * 400 in joined  # the full title, since the header had to be shortened
    assert out[0]["blocks"][0]["text"]["text"].endswith("…")
    for i in range(2000):
        assert f"第{i}行 " + "长" * (i % 97) + " &amp; &lt;x&gt;" in joined
    assert joined.count("无换行") == 5000


def test_chunks_never_split_an_escaped_entity() -> None:
    text = esc("&" * 5000)
    parts = blockkit.chunks(text, 3000)
    assert "".join(parts) == text
    assert all(p.endswith(";") and len(p) <= 3000 for p in parts)


def test_many_fields_long_fields_and_big_tables() -> None:
    reply = Reply(
        title="字段",
        fields=[Field(label=f"字段{i}", value=f"值{i}") for i in range(25)] + [Field(label="长", value="很" * 5000)],
        tables=[Table(title="大表", columns=["客户", "金额", "说明"],
                      rows=[[f"C{i:07d}", f"{i}.00万", "说明" * (i % 5)] for i in range(2000)])],
    )
    out = messages(reply)
    field_blocks = [b for p in out for b in p["blocks"] if b["type"] == "section" and "fields" in b]
    assert [len(b["fields"]) for b in field_blocks] == [10, 10, 5]
    text = "".join(all_text(p) for p in out)
    assert text.count("很") == 5000
    for i in range(2000):
        assert f"C{i:07d}" in text
    tables = [b["text"]["text"] for p in out for b in p["blocks"] if "```" in b.get("text", {}).get("text", "")]
    assert all("客户" in t.split("\n", 2)[1] for t in tables[1:])  # header repeated in every slice


def test_long_labels_and_many_buttons() -> None:
    buttons = [Button(label="很长的按钮文字" * 20, action="followup", value=f"v{i}") for i in range(60)]
    [payload] = messages(Reply(title="按钮", items=[Item(text="多按钮", buttons=buttons)]))
    actions = [b for b in payload["blocks"] if b["type"] == "actions"]
    assert [len(a["elements"]) for a in actions] == [25, 25, 10]
    assert [a["block_id"] for a in actions] == ["item-1", "item-1.1", "item-1.2"]
    assert all(len(e["text"]["text"]) <= 75 for a in actions for e in a["elements"])


def test_many_notes_make_several_context_blocks() -> None:
    [payload] = messages(Reply(title="备注", notes=[f"备注{i}" for i in range(23)] + ["长" * 4500]))
    contexts = [b for b in payload["blocks"] if b["type"] == "context"]
    assert all(len(c["elements"]) <= 10 for c in contexts)
    assert all_text(payload).count("长") == 4500


def test_many_long_fields_and_notes_stay_within_the_message_text_budget() -> None:
    reply = Reply(title="长字段", fields=[Field(label=f"字段{i}", value="值" * 1990) for i in range(12)],
                  notes=["注" * 1999 for _ in range(12)])
    out = messages(reply)
    text = "".join(all_text(p) for p in out)
    assert text.count("值") == 12 * 1990 and text.count("注") == 12 * 1999
    for payload in out:
        for block in payload["blocks"]:
            assert blockkit.text_size(block) <= blockkit.SECTION_TEXT + 100


@given(st.text(alphabet="ab&<>\n客", max_size=400), st.integers(min_value=8, max_value=60))
@settings(max_examples=300, deadline=None)
def test_chunks_property(raw: str, limit: int) -> None:
    text = esc(raw)
    parts = blockkit.chunks(text, limit)
    assert all(len(p) <= limit for p in parts)
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")  # only line breaks are spent
    for p in parts:  # no entity cut in half
        assert re.sub(r"&(amp|lt|gt);", "", p).count("&") == 0


def test_button_value_over_the_limit_is_an_error_not_a_cut() -> None:
    with pytest.raises(RenderError):
        render_messages(Reply(title="x", buttons=[Button(label="b", action="followup", value="v" * 2001)]))


def test_mark_item_done_replaces_only_that_item() -> None:
    reply = Reply(title="t", items=[Item(text=f"i{n}", buttons=followup_buttons(f"C{n}", "r")) for n in range(3)])
    [payload] = messages(reply)
    blocks = mark_item_done(payload["blocks"], "item-2", "已流失 · 李雷 11-24 10:00")
    assert_valid_payload({"text": "t", "blocks": blocks})
    types = {b.get("block_id"): b["type"] for b in blocks if b.get("block_id")}
    assert types == {"item-1": "actions", "item-2": "context", "item-3": "actions"}
    assert payload["blocks"] != blocks  # the input is not modified in place
    with pytest.raises(RenderError):
        mark_item_done(payload["blocks"], "item-9", "x")


def test_error_replies_show_usage() -> None:
    [payload] = messages(Reply.error("客户号格式不正确：abc", "/tier <客户号>"))
    assert payload["blocks"][0]["text"]["text"].startswith("❌")
    assert "用法 Usage" in all_text(payload)


def test_bank_can_override_a_template(tmp_path: Path) -> None:
    (tmp_path / "slack_item_done.j2").write_text(
        '{"type": "context", "block_id": {{ block_id | json }}, "elements": '
        '[{"type": "mrkdwn", "text": {{ ("办结：" ~ (done_by | esc)) | json }}}]}\n', encoding="utf-8")
    [payload] = messages(Reply(title="t", items=[Item(text="x", done_by="王芳")]), templates_dir=str(tmp_path))
    assert "办结：王芳" in all_text(payload)


def test_a_broken_override_is_reported(tmp_path: Path) -> None:
    (tmp_path / "slack_item_done.j2").write_text("not json {{ done_by }}\n", encoding="utf-8")
    with pytest.raises(RenderError):
        render_messages(Reply(title="t", items=[Item(text="x", done_by="王芳")]), templates_dir=str(tmp_path))
