"""Drafting, editing, submitting, approving and rejecting campaign copy: the steps and their guards.

Every step re-reads the draft, checks the caller against it, re-lints the text it is about to
rely on (the rule table may have changed since the draft was made), writes the approval trail
and stages an audit entry. Status changes are conditional updates, so two managers clicking at
once cannot both approve, and approval and posting commit in one transaction.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.engine import Engine

from bot.campaigns.access import approval_refusal, can_view
from bot.campaigns.catalogue import Catalogue, KindSpec
from bot.campaigns.checks import DraftCheck, check_texts
from bot.campaigns.options import (
    CampaignOptions,
    OptionError,
    check_options,
    split_options,
)
from bot.campaigns.render import VARIANTS, TemplateProblem, build_data, render_all
from bot.campaigns.settings import CampaignSettings, campaign_settings, catalogue_for
from bot.core.access import stage_audit
from bot.core.context import Context
from bot.core.errors import ServiceUnavailable, UserError
from bot.store import campaigns as store
from bot.store.customers import latest_data_date
from bot.store.models import CAMPAIGN_STATUS_ZH, CampaignDraft, Org, Staff
from bot.store.scope import is_under
from rules.compliance import LintRules, default_lint_rules

_DRAFT_NO = re.compile(r"^(?:#|草稿|D)?(\d{1,9})$", re.IGNORECASE)
VARIANT_WORDS: dict[str, str] = {
    "群发": "group", "群": "group", "group": "group",
    "私信": "dm", "1对1": "dm", "一对一": "dm", "dm": "dm",
    "短信": "sms", "sms": "sms",
}
MAX_REASON = 200


@dataclass(frozen=True)
class Env:
    """What every step needs besides the context: settings, catalogue, lint rules."""

    settings: CampaignSettings
    catalogue: Catalogue
    rules: LintRules

    @classmethod
    def load(cls, ctx: Context) -> Env:
        _require_tables(ctx)
        settings = campaign_settings()
        return cls(settings, catalogue_for(settings), default_lint_rules())


_READY: set[int] = set()


def _require_tables(ctx: Context) -> None:
    """A store migrated before this feature existed gets the operator's hint, not "unavailable"."""
    engine = ctx.extras.get("engine")
    if not isinstance(engine, Engine) or id(engine) in _READY:
        return
    if not inspect(engine).has_table("campaign_draft"):
        raise ServiceUnavailable("营销文案功能需要升级数据库结构：请管理员运行 `rmbot db upgrade`。"
                                 " The database needs `rmbot db upgrade` for campaign drafts.")
    _READY.add(id(engine))


@dataclass(frozen=True)
class Drafted:
    draft: CampaignDraft
    branch: Org
    kind: KindSpec
    options: CampaignOptions
    counts: store.AudienceCounts
    texts: dict[str, str]
    check: DraftCheck


@dataclass(frozen=True)
class Decided:
    draft: CampaignDraft
    branch: Org
    posted: int
    """Outbox rows queued for the branch channel (0 when the branch has no destination)."""
    destinations: int


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def refused(ctx: Context, target: str, why: str, message: str, usage: str | None = None) -> UserError:
    """A refused step, for the caller to raise: staged as a denied audit entry first (it is written
    even though the command fails), so every refusal on a draft or branch leaves a row."""
    stage_audit(ctx, target=target, outcome="denied", detail=why)
    return UserError(message, usage)


def parse_draft_no(raw: str, usage: str) -> int:
    m = _DRAFT_NO.match(raw.strip())
    if not m:
        raise UserError(f"草稿号格式不正确：{raw[:20]}（应为数字，如 12）。Bad draft number.", usage)
    return int(m.group(1))


# ---- drafting -----------------------------------------------------------------------------------


def create_draft(ctx: Context, env: Env, kind: KindSpec, args: list[str]) -> Drafted:
    try:
        options = check_options(split_options(args), kind, env.catalogue, ctx.today)
    except OptionError as exc:
        raise UserError(str(exc), kind.usage()) from exc
    branch = resolve_branch(ctx, options.branch)
    spec = kind.audience_with_festival if (options.get("节日") and kind.audience_with_festival) else kind.audience
    data_date = latest_data_date(ctx.session)
    stmt = store.audience_select(spec, ctx.policy, branch.path, ctx.today, data_date)
    counts = store.audience_counts(ctx.session, stmt)
    stage_audit(ctx, target=f"audience:{kind.id}:{branch.id}", outcome="allowed",
                detail=f"counts only: {counts.total} customers, {len(counts.per_rm)} RMs")
    data = build_data(env.catalogue, kind, options, branch.name, ctx.staff.name, counts.total)
    try:
        texts = render_all(data, env.settings.templates_dir)
    except TemplateProblem as exc:
        raise ServiceUnavailable(f"营销文案模板有误，请联系管理员：{exc}"[:400]) from exc
    check = check_texts(texts, env.rules, env.catalogue.bank)
    draft = store.add_draft(ctx.session, CampaignDraft(
        kind=kind.id, branch_id=branch.id, author_id=ctx.staff.id, status="draft", options=dumps(options.values),
        texts=dumps(texts), lint=dumps(check.to_json()), lint_version=check.rules_version[:32], blocked=check.blocked,
        audience_total=counts.total, audience=dumps(counts.to_json()), data_date=data_date,
        created_at=ctx.now, updated_at=ctx.now,
    ))
    assert draft.id is not None
    blocks, warns = check.counts()
    store.add_event(ctx.session, draft.id, ctx.now, ctx.staff.id, "created",
                    dumps({"texts": texts, "lint": check.to_json(), "options": options.values}))
    stage_audit(ctx, target=f"campaign:{draft.id}", outcome="allowed",
                detail=f"created {kind.id} for {branch.id}; audience {counts.total}; lint {blocks} block / {warns} warn")
    return Drafted(draft, branch, kind, options, counts, texts, check)


def resolve_branch(ctx: Context, requested: str | None) -> Org:
    """RMs and branch managers draft for their own 支行; regional managers name one below them."""
    staff = ctx.staff
    if staff.role == "regional_manager":
        under = store.sub_branches_under(ctx.session, staff.org_path)
        choices = "、".join(f"{o.id} {o.name}" for o in under[:8])
        if requested is None:
            raise UserError(f"请用 支行=… 指定为哪个支行起草；辖内支行：{choices}。Name a branch: 支行=SB01.")
        org = ctx.session.get(Org, requested)
        if org is None or org.level != "sub_branch" or not is_under(org.path, staff.org_path):
            raise refused(ctx, f"branch:{requested}", "draft refused: branch unknown or out of scope",
                          f"未找到支行 {requested}，或不在您的辖内；辖内支行：{choices}。Unknown branch.")
        return org
    own = store.sub_branch_of(ctx.session, staff.org_id)
    if own is None:
        raise UserError("您的机构不属于任何支行，无法起草营销文案。Your org is not under a branch.")
    if requested is not None and requested != own.id:
        raise refused(ctx, f"branch:{requested}", f"draft refused: not the caller's branch {own.id}",
                      f"只能为本支行（{own.name} {own.id}）起草营销文案。You may draft for your own branch only.")
    return own


# ---- reading ------------------------------------------------------------------------------------


def visible_draft(ctx: Context, draft_id: int) -> tuple[CampaignDraft, Org]:
    """The draft if the caller may see it; unknown and not-yours answer alike, both audited."""
    found = store.draft_with_branch(ctx.session, draft_id)
    if found is None:
        stage_audit(ctx, target=f"campaign:{draft_id}", outcome="not_found")
    elif not can_view(ctx.staff, found[1].path):
        stage_audit(ctx, target=f"campaign:{draft_id}", outcome="denied", detail=f"branch {found[1].id}")
    else:
        return found
    raise UserError(f"未找到草稿 {draft_id}，或您无权查看。Draft not found or not accessible.")


def texts_of(draft: CampaignDraft, final: bool = False) -> dict[str, str]:
    raw = draft.final_text if final and draft.final_text else draft.texts
    data = json.loads(raw or "{}")
    return {v: str(data.get(v, "")) for v in VARIANTS}


def approvers_of(ctx: Context, branch: Org) -> list[tuple[str, str]]:
    rows = ctx.session.execute(select(Staff.id, Staff.name).where(
        Staff.org_id == branch.id, Staff.role == "branch_manager", Staff.active.is_(True)).order_by(Staff.id))
    return [(i, n) for i, n in rows]


# ---- changing -----------------------------------------------------------------------------------


def edit_draft(ctx: Context, env: Env, draft_id: int, variant_word: str, text: str, usage: str) -> tuple[CampaignDraft, DraftCheck]:
    variant = VARIANT_WORDS.get(variant_word.strip().lower())
    if variant is None:
        raise UserError(f"未知的文案类型「{variant_word[:10]}」；可选：群发、私信、短信。Unknown variant.", usage)
    text = text.strip()
    if not text:
        raise UserError("请提供修改后的文案。Please give the new text.", usage)
    draft, _branch = visible_draft(ctx, draft_id)
    if draft.author_id != ctx.staff.id:
        raise refused(ctx, f"campaign:{draft_id}", f"edit refused: author is {draft.author_id}",
                      "只有起草人可以修改草稿。Only the author edits a draft.")
    if draft.status not in ("draft", "rejected"):
        raise refused(ctx, f"campaign:{draft_id}", f"edit refused: status {draft.status}",
                      f"草稿 {draft_id} 为「{CAMPAIGN_STATUS_ZH[draft.status]}」，不能修改；如需调整请重新起草。"
                      " Pending or approved drafts cannot be edited.")
    texts = texts_of(draft)
    texts[variant] = text
    check = check_texts(texts, env.rules, env.catalogue.bank)
    if not store.move_draft(ctx.session, draft_id, ("draft", "rejected"), status="draft", texts=dumps(texts),
                            lint=dumps(check.to_json()), lint_version=check.rules_version[:32],
                            blocked=check.blocked, updated_at=ctx.now):
        raise refused(ctx, f"campaign:{draft_id}", "edit refused: status changed meanwhile",
                      "草稿状态已变化，请用 /campaign show 查看后重试。The draft changed meanwhile.")
    store.add_event(ctx.session, draft_id, ctx.now, ctx.staff.id, "edited",
                    dumps({"variant": variant, "text": text, "lint": check.to_json()[variant]}))
    stage_audit(ctx, target=f"campaign:{draft_id}", outcome="allowed", detail=f"edited {variant}")
    ctx.session.refresh(draft)
    return draft, check


def _refuse_past_event(ctx: Context, draft: CampaignDraft) -> None:
    """Copy inviting to an event that is over must not go out, however long approval took."""
    pinned = json.loads(draft.options or "{}").get("日期")
    if pinned and date.fromisoformat(pinned) < ctx.today:
        raise refused(ctx, f"campaign:{draft.id}", f"refused: event date {pinned} has passed",
                      f"草稿 {draft.id} 的活动日期 {pinned} 已过，不能再提交或审批；请重新起草。The event date has passed.")


def submit_draft(ctx: Context, env: Env, draft_id: int) -> tuple[CampaignDraft, Org, list[tuple[str, str]]]:
    draft, branch = visible_draft(ctx, draft_id)
    if draft.author_id != ctx.staff.id:
        raise refused(ctx, f"campaign:{draft_id}", f"submit refused: author is {draft.author_id}",
                      "只有起草人可以提交审批。Only the author submits a draft.")
    _refuse_past_event(ctx, draft)
    if draft.status == "rejected":
        raise refused(ctx, f"campaign:{draft_id}", "submit refused: status rejected",
                      f"草稿 {draft_id} 已被驳回（{draft.reason or '—'}），请先用 /campaign edit 修改再提交。"
                      " Edit a rejected draft before resubmitting.")
    if draft.status != "draft":
        raise refused(ctx, f"campaign:{draft_id}", f"submit refused: status {draft.status}",
                      f"草稿 {draft_id} 已是「{CAMPAIGN_STATUS_ZH[draft.status]}」，无需再次提交。Already submitted.")
    check = check_texts(texts_of(draft), env.rules, env.catalogue.bank)
    if check.blocked:  # the refusal rolls the transaction back; only the audit entry stays
        stage_audit(ctx, target=f"campaign:{draft_id}", outcome="denied", detail="submit refused: blocking findings")
        raise BlockedDraft(draft_id, check)
    if not store.move_draft(ctx.session, draft_id, ("draft",), status="pending", submitted_at=ctx.now,
                            updated_at=ctx.now, lint=dumps(check.to_json()), blocked=False):
        raise refused(ctx, f"campaign:{draft_id}", "submit refused: status changed meanwhile",
                      "草稿状态已变化，请用 /campaign show 查看后重试。The draft changed meanwhile.")
    store.add_event(ctx.session, draft_id, ctx.now, ctx.staff.id, "submitted")
    stage_audit(ctx, target=f"campaign:{draft_id}", outcome="allowed", detail="submitted for approval")
    ctx.session.refresh(draft)
    return draft, branch, approvers_of(ctx, branch)


class BlockedDraft(UserError):
    """A draft with a blocking finding: it cannot be submitted or approved until fixed."""

    def __init__(self, draft_id: int, check: DraftCheck) -> None:
        from bot.campaigns.checks import finding_lines

        blocking = {v: [f for f in fs if f.blocking] for v, fs in check.findings.items()}
        lines = "\n".join(finding_lines(blocking, limit=6))
        super().__init__(
            f"草稿 {draft_id} 有阻断项，不能提交或审批通过；请修改后再试。The draft has blocking findings.\n{lines}",
            f"/campaign edit {draft_id} <群发|私信|短信> <修改后的文案>",
        )


def decide(ctx: Context, env: Env, draft_id: int, approve: bool, reason: str | None) -> Decided:
    draft, branch = visible_draft(ctx, draft_id)
    refusal = approval_refusal(ctx.staff, branch.path, draft.author_id)
    if refusal is not None:
        raise refused(ctx, f"campaign:{draft_id}", refusal[:200], refusal)
    if draft.status != "pending":
        raise refused(ctx, f"campaign:{draft_id}", f"decision refused: status {draft.status}",
                      f"草稿 {draft_id} 当前为「{CAMPAIGN_STATUS_ZH[draft.status]}」，只有待审批的草稿可以审批或驳回。"
                      " Only pending drafts can be decided.")
    reason = (reason or "").strip() or None
    if reason and len(reason) > MAX_REASON:
        raise UserError(f"原因过长（{len(reason)} 字，最多 {MAX_REASON} 字）。Reason too long.")
    if not approve:
        if reason is None:
            raise UserError("驳回须说明原因。A rejection needs a reason.", f"/reject {draft_id} <原因>")
        if not store.move_draft(ctx.session, draft_id, ("pending",), status="rejected", decided_by=ctx.staff.id,
                                decided_at=ctx.now, reason=reason, updated_at=ctx.now):
            raise refused(ctx, f"campaign:{draft_id}", "decision refused: decided meanwhile",
                          "该草稿已被处理，请用 /campaign show 查看。Already decided.")
        store.add_event(ctx.session, draft_id, ctx.now, ctx.staff.id, "rejected", dumps({"reason": reason}))
        stage_audit(ctx, target=f"campaign:{draft_id}", outcome="allowed", detail=f"rejected: {reason}")
        ctx.session.refresh(draft)
        return Decided(draft, branch, 0, 0)
    _refuse_past_event(ctx, draft)
    texts = texts_of(draft)
    check = check_texts(texts, env.rules, env.catalogue.bank)
    if check.blocked:
        stage_audit(ctx, target=f"campaign:{draft_id}", outcome="denied", detail="approval refused: blocking findings")
        raise BlockedDraft(draft_id, check)
    if not store.move_draft(ctx.session, draft_id, ("pending",), status="approved", decided_by=ctx.staff.id,
                            decided_at=ctx.now, reason=reason, final_text=dumps(texts), lint=dumps(check.to_json()),
                            lint_version=check.rules_version[:32], blocked=False, updated_at=ctx.now):
        raise refused(ctx, f"campaign:{draft_id}", "decision refused: decided meanwhile",
                      "该草稿已被处理，请用 /campaign show 查看。Already decided.")
    store.add_event(ctx.session, draft_id, ctx.now, ctx.staff.id, "approved",
                    dumps({"final_text": texts, "lint": check.to_json(), "remark": reason}))
    ctx.session.refresh(draft)
    posted, dests = _post(ctx, env, draft, branch)
    stage_audit(ctx, target=f"campaign:{draft_id}", outcome="allowed",
                detail=f"approved; posted to {posted} of {dests} destinations of {branch.id}")
    return Decided(draft, branch, posted, dests)


def _post(ctx: Context, env: Env, draft: CampaignDraft, branch: Org) -> tuple[int, int]:
    """Approved copy → the branch channel(s) through the outbox, keyed so it goes out once."""
    from bot.campaigns.replies import approved_post

    assert draft.id is not None
    dests = store.destinations(ctx.session, branch.id)
    if not dests:
        return 0, 0
    kind = env.catalogue.kinds.get(draft.kind)
    approver = ctx.staff.name
    payload = approved_post(draft, branch, kind, approver, texts_of(draft, final=True)).model_dump_json(exclude_defaults=True)
    rows: list[dict[str, object]] = [
        {"key": f"campaign:{branch.id}:{draft.id}:{platform}", "kind": "campaign", "org_id": branch.id,
         "push_date": ctx.today, "platform": platform, "target": target, "payload": payload}
        for platform, target in dests
    ]
    posted = store.enqueue_in_session(ctx.session, rows, ctx.now)
    if posted:
        store.move_draft(ctx.session, draft.id, ("approved",), posted_at=ctx.now)
        store.add_event(ctx.session, draft.id, ctx.now, ctx.staff.id, "posted",
                        dumps({"destinations": [p for p, _ in dests], "rows": posted}))
        ctx.session.refresh(draft)
    return posted, len(dests)
