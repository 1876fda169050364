"""/approve and /reject: the branch manager's decision on a submitted campaign draft.

Both commands and their buttons are open to every role on purpose: who may decide depends on
the draft (its branch, its author), so the check lives in `bot.campaigns.access` and a refused
attempt is audited like any refused lookup, instead of stopping at the role filter unrecorded.
"""

from __future__ import annotations

from bot.campaigns.raw_text import typed_text
from bot.campaigns.render import VARIANT_TITLE, VARIANTS
from bot.campaigns.replies import decision_buttons
from bot.campaigns.service import Decided, Env, decide, parse_draft_no, texts_of
from bot.core.access import stage_audit
from bot.core.context import Context
from bot.core.errors import UserError
from bot.core.registry import MANAGERS, action, command
from bot.core.reply import Item, Reply, Section
from bot.store import campaigns as store

APPROVE_USAGE = "/approve <草稿号> [备注]（不带草稿号：列出待审批）"
REJECT_USAGE = "/reject <草稿号> <原因>"


REFUSAL = "客户经理不能审批营销文案，请由支行负责人审批。Only managers approve campaign copy."


@command("approve", aliases=("审批", "批准", "审批通过"), roles=MANAGERS, refusal=REFUSAL,
         summary="审批营销文案（支行负责人/分行管理者）Approve campaign copy", usage="/approve [草稿号]",
         examples=("/approve", "/approve 12"))
def approve(ctx: Context, args: list[str]) -> Reply:
    if not args:
        return _pending(ctx)
    remark = typed_text(ctx.request, args[1:]) or None
    return _decided(decide(ctx, Env.load(ctx), parse_draft_no(args[0], APPROVE_USAGE), True, remark))


@command("reject", aliases=("驳回", "退回"), roles=MANAGERS, refusal=REFUSAL,
         summary="驳回营销文案并说明原因（支行负责人/分行管理者）Reject campaign copy", usage=REJECT_USAGE,
         examples=("/reject 12 活动时间需与网点排班核对",))
def reject(ctx: Context, args: list[str]) -> Reply:
    if not args:
        raise UserError("请提供草稿号和驳回原因。Give a draft number and a reason.", REJECT_USAGE)
    draft_id = parse_draft_no(args[0], REJECT_USAGE)
    return _decided(decide(ctx, Env.load(ctx), draft_id, False, typed_text(ctx.request, args[1:])))


@action("campaign_approve", roles=MANAGERS, refusal=REFUSAL)
def approve_button(ctx: Context, value: str) -> Reply:
    return _decided(decide(ctx, Env.load(ctx), parse_draft_no(value, APPROVE_USAGE), True, None))


@action("campaign_reject", roles=MANAGERS, refusal=REFUSAL)
def reject_button(ctx: Context, value: str) -> Reply:
    """A button carries no reason: `12` asks for one, `12|原因` (pre-filled buttons) rejects."""
    raw, _, reason = value.partition("|")
    draft_id = parse_draft_no(raw, REJECT_USAGE)
    if not reason.strip():
        return Reply(title=f"驳回草稿 {draft_id}", summary="驳回须说明原因，请发送：",
                     usage=f"/reject {draft_id} <原因>")
    return _decided(decide(ctx, Env.load(ctx), draft_id, False, reason))


def _decided(result: Decided) -> Reply:
    draft, branch = result.draft, result.branch
    if draft.status == "rejected":
        return Reply(title=f"已驳回 · 草稿 {draft.id}", summary=f"原因：{draft.reason}",
                     notes=["起草人可用 /campaign edit 修改后重新提交。"])
    if result.posted:
        where = (f"已提交推送到{branch.name}群（{result.posted} 个目的地，已排队发送；送达情况见 rmbot push status）。"
                 " Queued for delivery, not yet delivered.")
    elif result.destinations:
        where = f"{branch.name}群此前已提交推送该文案，不重复推送。"
    else:
        where = f"{branch.name}未配置推送目的地（rmbot push dest set）；客户经理可私聊 /campaign show {draft.id} 获取终稿。"
    texts = texts_of(draft, final=True)
    return Reply(title=f"已审批通过 · 草稿 {draft.id}", summary=where,
                 sections=[Section(title=VARIANT_TITLE[v], text=texts[v]) for v in VARIANTS],
                 notes=[f"最终文案、合规检查结果与审批记录已保存（审批人 {draft.decided_by}，{draft.decided_at:%m-%d %H:%M}）。"])


def _pending(ctx: Context) -> Reply:
    if ctx.staff.role not in MANAGERS:
        raise UserError("客户经理不能审批营销文案；查看自己的草稿请用 /campaign list。Only managers approve.")
    rows = store.drafts_under(ctx.session, ctx.staff.org_path, statuses=("pending",))
    stage_audit(ctx, target="campaign:pending", outcome="allowed", detail=f"{len(rows)} pending")
    if not rows:
        return Reply(title="待审批营销文案", summary="暂无待审批的草稿。")
    env = Env.load(ctx)
    items = []
    for draft, org, author in rows:
        assert draft.id is not None
        kind = env.catalogue.kinds.get(draft.kind)
        text = (f"草稿 {draft.id} · {kind.name if kind else draft.kind} · {org.name} · 起草 {author}（{draft.author_id}）"
                f" · 受众 {draft.audience_total}" + (" · ⚠ 有阻断项" if draft.blocked else ""))
        buttons = [] if draft.author_id == ctx.staff.id else decision_buttons(draft.id)
        items.append(Item(text=text, buttons=buttons, ref=f"campaign:{draft.id}"))
    return Reply(title="待审批营销文案", summary=f"{len(rows)} 份待审批", items=items,
                 notes=["查看全文：/campaign show <草稿号> · 驳回须说明原因：/reject <草稿号> <原因>"])
