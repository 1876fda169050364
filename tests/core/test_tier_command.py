"""/tier end to end through the console path on the seeded demo bank (see bot/store/seed.py SHOWCASES)."""

from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from bot.store.models import AuditLog, Contact
from bot.testing import Harness


def audit_rows(h: Harness) -> list[AuditLog]:
    with h.engine.connect() as conn:
        return list(conn.execute(select(AuditLog).order_by(AuditLog.id)).all())


def test_vip_customer_explained(rmbot: Harness) -> None:
    answer = rmbot.ask("RM001", "/tier C0000001")
    assert answer.reply.kind == "info"
    assert answer.reply.summary == "贵宾客户"
    assert "月日均" in answer and "≥ 20万 → 贵宾客户" in answer
    assert "维护人" in answer and "RM001" in answer
    assert "到期" in answer  # a 定期 matures in 3 days
    assert "提前联系做好到期承接" in answer
    assert "数据日期 2026-11-20" in answer


def test_each_showcase_state(rmbot: Harness) -> None:
    assert rmbot.ask("RM001", "/tier C0000002").reply.summary == "私人银行客户"
    warning = rmbot.ask("RM001", "/tier C0000003")
    assert "预警" in warning and "35.0%" in warning and "立即电话联系" in warning
    assert "关注" in rmbot.ask("RM001", "/tier C0000004")
    assert "沉睡客户" in rmbot.ask("RM001", "/tier C0000005")
    risk = rmbot.ask("RM001", "/tier C0000006")
    assert risk.reply.summary == "贵宾客户" and "已连续 2/6 个月" in risk
    assert "距贵宾客户仅差" in rmbot.ask("RM001", "/tier C0000008")
    assert rmbot.ask("RM001", "/tier C0000009").reply.summary == "长尾客户"


def test_aliases_full_width_and_mentions_reach_the_same_answer(rmbot: Harness) -> None:
    expected = rmbot.ask("RM001", "/tier C0000001").reply.summary
    for text_ in ["tier C0000001", "/分层 C0000001", "客户分层 C0000001", "／tier　Ｃ００００００１",
                  "@客户经理助手 分层 c0000001", "<@U123> /tier C0000001", "分层C0000001"]:
        assert rmbot.ask("RM001", text_).reply.summary == expected, text_


def test_rm_cannot_see_another_rms_customer_and_learns_nothing(rmbot: Harness) -> None:
    other = rmbot.ask("RM001", "/tier C0000014")  # same branch, another RM
    missing = rmbot.ask("RM001", "/tier C9999999")  # does not exist
    assert other.reply.kind == missing.reply.kind == "error"
    assert other.reply.summary.replace("C0000014", "X") == missing.reply.summary.replace("C9999999", "X")


def test_branch_manager_sees_branch_not_others(rmbot: Harness) -> None:
    assert rmbot.ask("BM01", "/tier C0000014").reply.kind == "info"
    assert rmbot.ask("BM01", "/tier C0000015").reply.kind == "error"  # another 支行
    assert rmbot.ask("BM02", "/tier C0000015").reply.kind == "info"


def test_regional_manager_sees_every_branch(rmbot: Harness) -> None:
    for cid in ["C0000001", "C0000014", "C0000015"]:
        assert rmbot.ask("REG01", f"/tier {cid}").reply.kind == "info"


def test_every_lookup_is_audited_allowed_or_not(rmbot: Harness) -> None:
    rmbot.ask("RM001", "/tier C0000001", channel="group")
    rmbot.ask("RM001", "/tier C0000014")
    rmbot.ask("RM001", "/tier C9999999")
    rows = audit_rows(rmbot)
    assert [(r.staff_id, r.target, r.outcome) for r in rows] == [
        ("RM001", "C0000001", "allowed"), ("RM001", "C0000014", "denied"), ("RM001", "C9999999", "not_found")]
    assert rows[0].channel_kind == "group" and rows[0].action == "tier" and rows[0].platform == "console"
    assert rows[0].at.tzinfo is not None


def test_audit_log_is_append_only(rmbot: Harness) -> None:
    rmbot.ask("RM001", "/tier C0000001")
    for stmt in ["UPDATE audit_log SET outcome = 'x'", "DELETE FROM audit_log"]:
        try:
            with rmbot.engine.begin() as conn:
                conn.execute(text(stmt))
        except DBAPIError as exc:
            assert "append-only" in str(exc)
        else:
            raise AssertionError(f"{stmt} was allowed")
    assert len(audit_rows(rmbot)) == 1


def test_group_channel_masks_customer_data(rmbot: Harness) -> None:
    dm = rmbot.ask("RM001", "/tier C0000001")
    group = rmbot.ask("RM001", "/tier C0000001", channel="group")
    name = dm.reply.title.split("·")[1].split("（")[0].strip()
    phone = next(f.value for f in dm.reply.fields if f.label == "联系电话")
    assert name in dm and name not in group
    assert name[0] + "*" in group
    assert phone not in group and phone[:3] + "****" + phone[-4:] in group
    assert "万（" not in group.text and "32.36万" not in group.text  # no exact balances
    assert "20–50万" in group
    assert group.reply.masked and not dm.reply.masked
    # one rule for every channel: follow-up buttons go with the answer (a click re-checks the clicker)
    assert group.reply.buttons == dm.reply.buttons and len(group.reply.buttons) == 3


def test_followup_button_records_under_the_clicker(rmbot: Harness) -> None:
    button = rmbot.ask("RM001", "/tier C0000001").reply.buttons[0]
    done = rmbot.click("RM001", button.action, button.value)
    assert done.reply.kind == "info" and "已联系" in done
    with rmbot.engine.connect() as conn:
        rows = conn.execute(select(Contact).where(Contact.ref == "tier:C0000001")).all()
    assert [(r.staff_id, r.outcome) for r in rows] == [("RM001", "contacted")]
    # authorization is checked again on the click
    denied = rmbot.click("RM002", button.action, button.value)
    assert denied.reply.kind == "error"


def test_bad_input_gets_short_reply_with_usage(rmbot: Harness) -> None:
    for text_, needle in [("/tier", "请提供客户号"), ("/tier C1 C2", "一次只能查询一个"),
                          ("/tier 张三!", "客户号格式不正确"), ("/frobnicate", "未知命令"),
                          ("/tier " + "C" * 10_000, "消息过长")]:
        answer = rmbot.ask("RM001", text_)
        assert answer.reply.kind == "error" and needle in answer, text_
        assert "Traceback" not in answer.text
    assert "/tier <客户号>" in rmbot.ask("RM001", "/tier").text


def test_unknown_staff_and_empty_text(rmbot: Harness) -> None:
    assert "未找到员工" in rmbot.ask("NOBODY", "/tier C0000001")
    assert "可用命令" in rmbot.ask("RM001", "")


def test_help_lists_only_what_the_role_may_run(rmbot: Harness) -> None:
    from bot.core.registry import REGISTRY

    help_text = rmbot.ask("RM001", "/help").text
    for spec in REGISTRY.commands():
        if spec.name != "help":
            assert (spec.usage in help_text) == ("rm" in spec.roles), spec.name


def test_whoami(rmbot: Harness) -> None:
    answer = rmbot.ask("BM01", "/whoami")
    assert "支行负责人" in answer and "本支行" in answer
