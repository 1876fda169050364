"""Bad input gets a clear Chinese reply, never a traceback: unknown kinds and drafts, missing or
malformed options, past dates, huge texts for /lint."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.campaigns.raw_text import raw_tail
from bot.store.db import make_engine
from bot.store.migrate import upgrade
from bot.store.seed import seed_bank
from bot.testing import DEMO_DATA_DATE, Harness
from rules.policy import default_policy

@pytest.mark.parametrize(("staff", "text", "needle"), [
    ("RM001", "/campaign 火星活动", "未知的活动类型"),
    ("RM001", "/campaign 沉睡激活", "缺少选项：日期、地点"),
    ("RM001", "/campaign 银发 日期=2026-11-20 地点=三楼", "已过"),
    ("RM001", "/campaign 银发 日期=2026-13-01 地点=三楼", "不存在"),
    ("RM001", "/campaign 银发 日期=明天 地点=三楼", "日期格式不正确"),
    ("RM001", "/campaign 银发 三楼 日期=2026-12-01", "键=值"),
    ("RM001", "/campaign 银发 日期=2026-12-01 地点=", "没有值"),
    ("RM001", "/campaign 银发 日期=2026-12-01 地点=三楼 颜色=红", "未知选项"),
    ("RM001", "/campaign 银发 日期=2026-12-01 地点=三楼 产品=WM180", "不接受选项 产品"),
    ("RM001", "/campaign 年轻 产品=NOPE", "未找到产品"),
    ("RM001", "/campaign show 999", "未找到草稿 999"),
    ("RM001", "/campaign show abc", "草稿号格式不正确"),
    ("RM001", "/campaign show", "请提供一个草稿号"),
    ("RM001", "/campaign submit 999", "未找到草稿 999"),
    ("RM001", "/campaign edit 999 短信 你好", "未找到草稿 999"),
    ("RM001", "/campaign edit 1 彩信 你好", "未知的文案类型"),
    ("BM01", "/approve 999", "未找到草稿 999"),
    ("BM01", "/approve 12a", "草稿号格式不正确"),
    ("BM01", "/reject", "请提供草稿号和驳回原因"),
    ("BM01", "/reject 999 不合适", "未找到草稿 999"),
    ("RM001", "/approve", "客户经理不能审批"),
    ("RM001", "/lint", "请在 /lint 后粘贴"),
])
def test_clear_error_replies(rmbot: Harness, staff: str, text: str, needle: str) -> None:
    answer = rmbot.ask(staff, text)
    assert answer.reply.kind == "error", answer.text
    assert needle in answer.text
    assert "Traceback" not in answer.text and "处理时出错" not in answer.text


def test_bad_button_payloads(rmbot: Harness) -> None:
    for action, value in (("campaign_submit", "x"), ("campaign_approve", ""), ("campaign_reject", "1|")):
        answer = rmbot.click("BM01", action, value)
        assert "处理时出错" not in answer.text
    assert rmbot.click("BM01", "campaign_approve", "").reply.kind == "error"


def test_lint_on_any_text(rmbot: Harness) -> None:
    seed_000 = "每个到会的客户都有资格拥有一个保底收益，无风险，月复利的投资工具。"
    answer = rmbot.ask("RM001", f"/lint {seed_000}")
    assert answer.reply.kind == "warning" and "adlaw.25.guarantee" in answer and "adlaw.25.no_risk" in answer
    assert "《广告法》第二十五条" in answer and "建议" in answer
    assert "未发现问题" in rmbot.ask("RM001", "/lint 12月5日下午两点，西湖支行客户答谢茶话会，欢迎参加。")
    glued = rmbot.ask("RM001", "合规检查稳赚不赔")
    assert "adlaw.25.sure_profit" in glued


def test_lint_of_a_100000_character_text_is_a_clear_reply(rmbot: Harness) -> None:
    answer = rmbot.ask("RM001", "/lint " + "保本理财，" * 20_000)
    assert answer.reply.kind == "error" and "过长" in answer.text
    assert "Traceback" not in answer.text


def test_free_text_keeps_full_width_punctuation_and_lines() -> None:
    raw = "／lint　保底收益，无风险。\n第二行：稳赚"
    assert raw_tail(raw, ["保底收益,无风险。", "第二行:稳赚"]) == "保底收益，无风险。\n第二行：稳赚"
    assert raw_tail("/reject 12 时间冲突,改期", ["时间冲突,改期"]) == "时间冲突,改期"
    assert raw_tail("x", ["a", "b"]) == "a b"  # mismatch: fall back to the parsed words


def test_a_store_not_yet_upgraded_gets_the_operators_hint(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0002")
    seed_bank(engine, default_policy(), customers=20, seed=1, data_date=DEMO_DATA_DATE)
    answer = Harness(engine).ask("RM001", "/campaign 银发 日期=2026-12-01 地点=三楼")
    assert answer.reply.kind == "error" and "rmbot db upgrade" in answer.text
    engine.dispose()
