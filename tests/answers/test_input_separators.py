"""Line separators and control characters typed into chat never reach the store or a renderer
(issue 15, finding 9): U+2028/U+2029/U+0085 become line breaks and other control characters are
dropped at the one seam every adapter goes through (`bot.core.request.Request`)."""

from __future__ import annotations

from sqlalchemy import text

from bot.core.request import ActionRequest, Request, clean_input
from bot.render.blockkit import render_blocks
from bot.testing import Harness

BAD = "\u2028\u2029\u0085\x00\x07\x1b\u202e"


def test_clean_input_keeps_text_and_line_breaks() -> None:
    assert clean_input("第一行\u2028第二行\u2029第三行\u0085第四行\r\n第五行\r第六") == "第一行\n第二行\n第三行\n第四行\n第五行\n第六"
    assert clean_input("A\x00B\x07C\x1bD\u202eE\u2066F\tG") == "ABCDEF\tG"
    assert Request(f"/tier C0000001{BAD}", "console", "RM001").text == "/tier C0000001\n\n\n"
    assert ActionRequest("campaign_reject", f"1{BAD}", "console", "BM01").value == "1\n\n\n"


def test_a_reject_reason_with_a_line_separator_is_stored_clean_and_renders(bank: Harness) -> None:
    draft = bank.ask("RM001", "/campaign 沉睡激活 日期=2026-12-05 地点=西湖支行三楼 时间=14:00")
    draft_id = int(next(f.value for f in draft.reply.fields if f.label == "草稿号"))
    bank.ask("RM001", f"/campaign submit {draft_id}")
    rejected = bank.ask("BM01", f"/reject {draft_id} 时间太早\u2028请改到下午{BAD}")
    assert rejected.reply.kind != "error", rejected.text
    with bank.engine.connect() as conn:
        reason = conn.execute(text("SELECT reason FROM campaign_draft WHERE id = :i"), {"i": draft_id}).scalar_one()
    assert not any(ch in reason for ch in BAD), repr(reason)
    shown = bank.ask("RM001", f"/campaign show {draft_id}")
    assert shown.reply.kind != "error"
    render_blocks(shown.reply)  # Slack's renderer accepts it (it refuses U+2028)


def test_a_stored_name_with_a_line_separator_still_renders_on_slack(bank: Harness) -> None:
    with bank.engine.begin() as conn:
        conn.execute(text("UPDATE customer SET name = :n WHERE id = 'C0000001'"), {"n": "宋\u2028斌\u2029"})
    for command in ("/tier C0000001", "/maturing"):
        for channel in ("dm", "group"):
            answer = bank.ask("RM001", command, channel=channel)  # type: ignore[arg-type]
            assert answer.reply.kind != "error", answer.text
            render_blocks(answer.reply)
