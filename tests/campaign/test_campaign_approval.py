"""The approval step: who may decide, what a blocking finding stops, what is kept and audited,
and that approved copy reaches the branch channel exactly once."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlmodel import Session

from bot.push.delivery import DeliveryWorker
from bot.push.senders import FileSender
from bot.store.models import AuditLog, CampaignDraft, CampaignEvent, Outbox
from bot.testing import DEMO_NOW, Harness, add_file_destinations

DORMANT = "/campaign 沉睡激活 日期=2026-12-05 地点=西湖支行三楼 时间=14:00"


def _draft(h: Harness, staff: str = "RM001", text: str = DORMANT) -> int:
    answer = h.ask(staff, text)
    assert answer.reply.kind != "error", answer.text
    return int(next(f.value for f in answer.reply.fields if f.label == "草稿号"))


def _audit(h: Harness, target: str) -> list[tuple[str, str, str | None]]:
    with Session(h.engine) as s:
        return [(a.staff_id or "", a.outcome, a.detail) for a in s.execute(
            select(AuditLog).where(AuditLog.target == target).order_by(AuditLog.id)).scalars()]


def _row(h: Harness, draft_id: int) -> CampaignDraft:
    with Session(h.engine) as s:
        draft = s.get(CampaignDraft, draft_id)
        assert draft is not None
        return draft


def test_full_flow_keeps_everything_and_posts_once(rmbot: Harness, tmp_path: Path) -> None:
    add_file_destinations(rmbot.engine, tmp_path)
    draft_id = _draft(rmbot)
    answer = rmbot.ask("RM001", f"/campaign show {draft_id}")
    assert "草稿" in answer and "未经审批不得对外发送" in answer
    assert any(b.action == "campaign_submit" for b in answer.reply.buttons)

    submitted = rmbot.click("RM001", "campaign_submit", str(draft_id))
    assert "已提交审批" in submitted and "BM01" in submitted
    pending = rmbot.ask("BM01", "/approve")
    item = next(i for i in pending.reply.items if i.ref == f"campaign:{draft_id}")
    assert [b.action for b in item.buttons] == ["campaign_approve", "campaign_reject"]

    approved = rmbot.click("BM01", "campaign_approve", str(draft_id))
    assert "已审批通过" in approved and "已提交推送到西湖支行群" in approved and "已排队" in approved
    assert "已推送到" not in approved  # queued is not delivered

    draft = _row(rmbot, draft_id)
    assert draft.status == "approved" and draft.decided_by == "BM01" and draft.decided_at == DEMO_NOW
    assert draft.submitted_at == DEMO_NOW and draft.posted_at == DEMO_NOW and draft.created_at == DEMO_NOW
    final = json.loads(draft.final_text or "{}")
    assert set(final) == {"group", "dm", "sms"} and final == json.loads(draft.texts)
    assert json.loads(draft.lint) == {"group": [], "dm": [], "sms": []} and draft.lint_version
    assert json.loads(draft.audience)["total"] == draft.audience_total > 0
    with Session(rmbot.engine) as s:
        events = [e.event for e in s.execute(select(CampaignEvent).where(CampaignEvent.draft_id == draft_id)
                                             .order_by(CampaignEvent.id)).scalars()]
        assert events == ["created", "submitted", "approved", "posted"]
        rows = list(s.execute(select(Outbox).where(Outbox.kind == "campaign")).scalars())
    assert [(r.org_id, r.key) for r in rows] == [("SB01", f"campaign:SB01:{draft_id}:file")]
    payload = json.loads(rows[0].payload)
    assert payload["title"].startswith("【营销文案·已审批】") and final["sms"] in json.dumps(payload, ensure_ascii=False)

    # Approving again changes nothing and posts nothing.
    again = rmbot.ask("BM01", f"/approve {draft_id}")
    assert again.reply.kind == "error" and "已审批" in again
    stats = DeliveryWorker(rmbot.engine, {"file": FileSender()}, now=lambda: DEMO_NOW).drain()
    assert stats.sent == 1
    files = list((tmp_path / "SB01").glob("campaign_SB01_*.txt"))
    assert len(files) == 1 and final["group"].splitlines()[0] in files[0].read_text(encoding="utf-8")

    # Any RM of the branch gets the approved copy; the trail is in the audit log.
    handed = rmbot.ask("RM006", f"/campaign show {draft_id}")
    assert final["sms"] in handed.text and "最终文案" in handed.text
    outcomes = _audit(rmbot, f"campaign:{draft_id}")
    assert ("RM001", "allowed") in [(s, o) for s, o, _ in outcomes]
    assert any(s == "BM01" and o == "allowed" and d and d.startswith("approved") for s, o, d in outcomes)
    assert any(d and d.startswith("created dormant for SB01") for _, _, d in outcomes)
    assert _audit(rmbot, "audience:dormant:SB01")[0][:2] == ("RM001", "allowed")


def test_rm_cannot_approve_and_other_branch_manager_cannot_see(rmbot: Harness) -> None:
    draft_id = _draft(rmbot)
    rmbot.ask("RM001", f"/campaign submit {draft_id}")
    for staff, text in (("RM001", f"/approve {draft_id}"), ("RM006", f"/approve {draft_id}")):
        answer = rmbot.ask(staff, text)
        assert answer.reply.kind == "error" and "客户经理不能审批" in answer
    by_button = rmbot.click("RM006", "campaign_approve", str(draft_id))
    assert by_button.reply.kind == "error" and "客户经理不能审批" in by_button
    other = rmbot.ask("BM02", f"/approve {draft_id}")
    assert other.reply.kind == "error" and "未找到草稿" in other
    assert rmbot.ask("BM02", f"/reject {draft_id} 不行").reply.kind == "error"
    assert "未找到草稿" in rmbot.ask("BM02", f"/campaign show {draft_id}")  # not even visible
    assert _row(rmbot, draft_id).status == "pending"
    denied = [(s, o) for s, o, _ in _audit(rmbot, f"campaign:{draft_id}") if o == "denied"]
    assert ("BM02", "denied") in denied
    # RMs are stopped by the role filter in front of the command, which audits the refusal too
    with Session(rmbot.engine) as s:
        refused = {(a.staff_id, a.action) for a in s.execute(select(AuditLog).where(
            AuditLog.outcome == "denied", AuditLog.target == str(draft_id))).scalars()}
    assert {("RM001", "approve"), ("RM006", "approve"), ("RM006", "campaign_approve")} <= refused


def test_regional_manager_approves_for_branches_below(rmbot: Harness) -> None:
    draft_id = _draft(rmbot, "RM002", "/campaign 贵宾 日期=2026-12-12 地点=滨江支行二楼")
    assert _row(rmbot, draft_id).branch_id == "SB02"
    rmbot.ask("RM002", f"/campaign submit {draft_id}")
    assert "未找到草稿" in rmbot.ask("BM01", f"/approve {draft_id}")
    answer = rmbot.ask("REG01", f"/approve {draft_id} 同意，注意控制人数")
    assert "已审批通过" in answer and "未配置推送目的地" in answer
    draft = _row(rmbot, draft_id)
    assert (draft.status, draft.decided_by, draft.reason) == ("approved", "REG01", "同意，注意控制人数")


def test_regional_manager_drafts_for_a_named_branch_and_cannot_approve_own_draft(rmbot: Harness) -> None:
    assert "支行=" in rmbot.ask("REG01", "/campaign 银发 日期=12月5日 地点=三楼")
    draft_id = _draft(rmbot, "REG01", "/campaign 银发 日期=12月5日 地点=三楼 支行=SB02")
    assert _row(rmbot, draft_id).branch_id == "SB02"
    rmbot.ask("REG01", f"/campaign submit {draft_id}")
    assert "不能审批自己起草" in rmbot.ask("REG01", f"/approve {draft_id}")
    assert "已审批通过" in rmbot.ask("BM02", f"/approve {draft_id}")
    assert "只能为本支行" in rmbot.ask("RM001", "/campaign 银发 日期=12月5日 地点=三楼 支行=SB02")


def test_reject_needs_a_reason_and_edit_resubmit_approve(rmbot: Harness) -> None:
    draft_id = _draft(rmbot)
    rmbot.ask("RM001", f"/campaign submit {draft_id}")
    prompt = rmbot.click("BM01", "campaign_reject", str(draft_id))
    assert prompt.reply.kind != "error" and f"/reject {draft_id} <原因>" in prompt.text
    assert "须说明原因" in rmbot.ask("BM01", f"/reject {draft_id}")
    assert _row(rmbot, draft_id).status == "pending"
    rejected = rmbot.ask("BM01", f"/reject {draft_id} 活动时间与网点排班冲突，请改到下午三点")
    assert "已驳回" in rejected and "排班冲突" in rejected
    draft = _row(rmbot, draft_id)
    assert (draft.status, draft.decided_by, draft.reason) == ("rejected", "BM01", "活动时间与网点排班冲突，请改到下午三点")
    assert "先用 /campaign edit" in rmbot.ask("RM001", f"/campaign submit {draft_id}")
    sms = "【示范银行】西湖支行诚邀您12月5日15:00到西湖支行三楼参加客户答谢茶话会，详询您的客户经理。拒收请回复R"
    edited = rmbot.ask("RM001", f"/campaign edit {draft_id} 短信 {sms}")
    assert edited.reply.kind != "error" and "未发现问题" in edited
    assert "只有起草人" in rmbot.ask("RM006", f"/campaign edit {draft_id} 短信 你好")
    rmbot.ask("RM001", f"/campaign submit {draft_id}")
    assert "已审批通过" in rmbot.ask("BM01", f"/approve {draft_id}")
    assert json.loads(_row(rmbot, draft_id).final_text or "{}")["sms"] == sms
    with Session(rmbot.engine) as s:
        events = [e.event for e in s.execute(select(CampaignEvent).where(CampaignEvent.draft_id == draft_id)
                                             .order_by(CampaignEvent.id)).scalars()]
    assert events == ["created", "submitted", "rejected", "edited", "submitted", "approved"]


def test_blocking_findings_stop_submission_and_approval(rmbot: Harness) -> None:
    draft_id = _draft(rmbot)
    bad = "感恩回馈：到会客户可拥有一个保底收益、无风险的投资工具，名额有限。"  # seed 000's 网沙 pitch
    edited = rmbot.ask("RM001", f"/campaign edit {draft_id} 群发 {bad}")
    assert "adlaw.25.guarantee" in edited and "adlaw.25.no_risk" in edited
    assert not any(b.action == "campaign_submit" for b in edited.reply.buttons)
    refused = rmbot.click("RM001", "campaign_submit", str(draft_id))
    assert refused.reply.kind == "error" and "阻断" in refused and "adlaw.25.guarantee" in refused
    assert _row(rmbot, draft_id).status == "draft"

    # A draft that reached 待审批 with a blocking finding (e.g. the bank tightened its rules since,
    # or the row was written around the bot) is still refused at approval time.
    with Session(rmbot.engine) as s:
        draft = s.get(CampaignDraft, draft_id)
        assert draft is not None
        draft.status = "pending"
        s.add(draft)
        s.commit()
    answer = rmbot.ask("BM01", f"/approve {draft_id}")
    assert answer.reply.kind == "error" and "阻断" in answer and "保底" in answer
    draft = _row(rmbot, draft_id)
    assert draft.status == "pending" and draft.final_text is None and draft.decided_by is None
    assert any(o == "denied" and d and "blocking" in d for _, o, d in _audit(rmbot, f"campaign:{draft_id}"))


def test_sms_over_seventy_characters_blocks_the_draft(rmbot: Harness) -> None:
    answer = rmbot.ask("RM001", "/campaign 沉睡激活 日期=2026-12-05 时间=14:00-16:00 地点=西湖区文三路一百二十八号西湖支行三楼多功能会议室")
    assert answer.reply.kind == "warning" and "sms.length" in answer and "阻断" in answer.text
    assert not answer.reply.buttons


def test_flow_on_postgres(rmbot_pg: Harness, tmp_path: Path) -> None:
    add_file_destinations(rmbot_pg.engine, tmp_path)
    draft_id = _draft(rmbot_pg, "RM001", "/campaign 代发 日期=2026-12-08 地点=云帆制造食堂 单位=杭州云帆制造有限公司")
    assert "理财非存款、产品有风险、投资须谨慎" in rmbot_pg.ask("RM001", f"/campaign show {draft_id}")
    rmbot_pg.ask("RM001", f"/campaign submit {draft_id}")
    assert "客户经理不能审批" in rmbot_pg.ask("RM001", f"/approve {draft_id}")
    assert "已提交推送到西湖支行群" in rmbot_pg.click("BM01", "campaign_approve", str(draft_id))
    assert rmbot_pg.ask("BM01", f"/approve {draft_id}").reply.kind == "error"
    with Session(rmbot_pg.engine) as s:
        assert len(list(s.execute(select(Outbox.id).where(Outbox.kind == "campaign")))) == 1
        assert s.get(CampaignDraft, draft_id).status == "approved"  # type: ignore[union-attr]
    assert any(o == "allowed" and d and d.startswith("approved") for _, o, d in _audit(rmbot_pg, f"campaign:{draft_id}"))


def test_a_draft_whose_event_date_has_passed_cannot_be_submitted_or_approved(rmbot: Harness) -> None:
    draft_id = _draft(rmbot, text="/campaign 银发 日期=11月25日 地点=西湖支行三楼")
    assert json.loads(_row(rmbot, draft_id).options)["日期"] == "2026-11-25"  # pinned to a year when drafted
    rmbot.ask("RM001", f"/campaign submit {draft_id}")
    later = Harness(rmbot.engine, now=DEMO_NOW + timedelta(days=5))
    answer = later.ask("BM01", f"/approve {draft_id}")
    assert answer.reply.kind == "error" and "活动日期 2026-11-25 已过" in answer
    assert _row(rmbot, draft_id).status == "pending"
