"""/campaign: draft marketing copy for a customer segment of the caller's branch (docs/DOMAIN.md §6).

`/campaign` lists the kinds; `/campaign <类型> [键=值 …]` drafts the group post, the 1:1 message
and the SMS, lints them and shows who the audience is (counts only); `show`, `list`, `edit` and
`submit` work on drafts. Approval is `/approve` and `/reject` (commands/approve.py).
"""

from __future__ import annotations

from sqlalchemy import select

from bot.campaigns.raw_text import typed_text
from bot.campaigns.replies import (
    describe_audience,
    draft_reply,
    draft_view,
    kinds_reply,
)
from bot.campaigns.service import (
    Env,
    create_draft,
    edit_draft,
    parse_draft_no,
    submit_draft,
    texts_of,
    visible_draft,
)
from bot.core.access import stage_audit
from bot.core.context import Context
from bot.core.errors import UserError
from bot.core.registry import action, command
from bot.core.reply import Reply, Table
from bot.store import campaigns as store
from bot.store.models import CAMPAIGN_STATUS_ZH, CampaignDraft, Org, Staff

USAGE = "/campaign [类型] [键=值 …]，例：/campaign 沉睡激活 日期=2026-12-05 地点=西湖支行三楼"
SUBCOMMANDS = {"show": "show", "查看": "show", "list": "list", "列表": "list", "草稿": "list",
               "submit": "submit", "提交": "submit", "edit": "edit", "修改": "edit"}


@command("campaign", aliases=("营销", "活动", "营销文案"),
         summary="按客群起草营销文案（群发/私信/短信），合规检查后提交审批 Campaign copy drafts",
         usage="/campaign [类型] [选项]",
         examples=("/campaign", "/campaign 沉睡激活 日期=2026-12-05 地点=西湖支行三楼"))
def campaign(ctx: Context, args: list[str]) -> Reply:
    env = Env.load(ctx)
    if not args:
        return kinds_reply(env.catalogue, ctx.policy)
    sub = SUBCOMMANDS.get(args[0].lower())
    if sub == "show":
        return _show(ctx, env, args[1:])
    if sub == "list":
        return _list(ctx, env)
    if sub == "submit":
        if len(args) != 2:
            raise UserError("请提供一个草稿号。Give one draft number.", "/campaign submit <草稿号>")
        return _submitted(ctx, env, parse_draft_no(args[1], "/campaign submit <草稿号>"))
    if sub == "edit":
        usage = "/campaign edit <草稿号> <群发|私信|短信> <修改后的文案>"
        if len(args) < 4:
            raise UserError("请提供草稿号、文案类型和修改后的文案。", usage)
        copy = typed_text(ctx.request, args[3:])
        draft, _check = edit_draft(ctx, env, parse_draft_no(args[1], usage), args[2], copy, usage)
        return _draft_card(ctx, env, draft)
    kind = env.catalogue.kind(args[0])
    if kind is None:
        names = "、".join(k.name for k in env.catalogue.kinds.values())
        raise UserError(f"未知的活动类型「{args[0][:20]}」；可用：{names}。发送 /campaign 查看用法。Unknown campaign kind.", USAGE)
    drafted = create_draft(ctx, env, kind, args[1:])
    spec = kind.audience_with_festival if (drafted.options.get("节日") and kind.audience_with_festival) else kind.audience
    product = drafted.options.product
    when = " ".join(x for x in (str(drafted.options.event_date or ""), drafted.options.time or "",
                                drafted.options.get("地点") or "") if x)
    return draft_reply(drafted.draft, drafted.branch, kind, drafted.counts, drafted.texts,
                       describe_audience(spec, ctx.policy), env.catalogue,
                       f"{product.name}（{product.code}）" if product else None, when)


def _draft_card(ctx: Context, env: Env, draft: CampaignDraft) -> Reply:
    """The draft as its author sees it after an edit: texts, findings, and the submit button."""
    branch = ctx.session.get(Org, draft.branch_id)
    assert branch is not None
    author = ctx.session.get(Staff, draft.author_id)
    kind = env.catalogue.kinds.get(draft.kind)
    return draft_view(draft, branch, kind, ctx.staff, author.name if author else draft.author_id, None,
                      texts_of(draft), env.catalogue)


def _show(ctx: Context, env: Env, args: list[str]) -> Reply:
    usage = "/campaign show <草稿号>"
    if len(args) != 1:
        raise UserError("请提供一个草稿号。Give one draft number.", usage)
    draft, branch = visible_draft(ctx, parse_draft_no(args[0], usage))
    names = dict(ctx.session.execute(select(Staff.id, Staff.name).where(
        Staff.id.in_([draft.author_id, draft.decided_by or draft.author_id]))).all())
    stage_audit(ctx, target=f"campaign:{draft.id}", outcome="allowed", detail=f"viewed ({draft.status})")
    return draft_view(draft, branch, env.catalogue.kinds.get(draft.kind), ctx.staff,
                      names.get(draft.author_id, draft.author_id), names.get(draft.decided_by or ""),
                      texts_of(draft, final=draft.status == "approved"), env.catalogue)


def _list(ctx: Context, env: Env) -> Reply:
    path = ctx.staff.org_path
    if ctx.staff.role == "rm":
        own = store.sub_branch_of(ctx.session, ctx.staff.org_id)
        path = own.path if own else path
    rows = store.drafts_under(ctx.session, path)
    stage_audit(ctx, target="campaign:list", outcome="allowed", detail=f"{len(rows)} drafts under {path}")
    if not rows:
        return Reply(title="营销文案草稿", summary="暂无草稿。发送 /campaign 查看活动类型。")
    table = Table(columns=["草稿号", "类型", "支行", "状态", "起草人", "时间"], rows=[
        [str(d.id), env.catalogue.kinds[d.kind].name if d.kind in env.catalogue.kinds else d.kind, o.name,
         CAMPAIGN_STATUS_ZH[d.status], author, f"{d.created_at:%m-%d %H:%M}"] for d, o, author in rows])
    return Reply(title="营销文案草稿", summary=f"最近 {len(rows)} 份", tables=[table],
                 notes=["查看：/campaign show <草稿号> · 待审批的由支行负责人 /approve 处理"])


def _submitted(ctx: Context, env: Env, draft_id: int) -> Reply:
    _draft, branch, approvers = submit_draft(ctx, env, draft_id)
    who = "、".join(f"{n}（{i}）" for i, n in approvers) or "支行负责人"
    return Reply(title=f"已提交审批 · 草稿 {draft_id}", summary=f"待 {who} 审批；审批通过后文案将推送到{branch.name}群。",
                 notes=[f"审批人发送 /approve {draft_id} 通过，或 /reject {draft_id} <原因> 驳回。"])


@action("campaign_submit")
def submit_button(ctx: Context, value: str) -> Reply:
    return _submitted(ctx, Env.load(ctx), parse_draft_no(value, "/campaign submit <草稿号>"))
