"""Neutral replies for campaign drafts: the draft card, a draft's view, lists, and the post that
carries approved copy to the branch channel. No customer data appears here, only counts."""

from __future__ import annotations

import json

from bot.campaigns.access import can_see_draft_text
from bot.campaigns.catalogue import AudienceSpec, Catalogue, KindSpec
from bot.campaigns.checks import finding_lines, findings_from_json
from bot.campaigns.render import VARIANT_TITLE, VARIANTS, sms_length
from bot.core.context import StaffView
from bot.core.reply import Button, Reply, Section, Table
from bot.store.campaigns import AudienceCounts
from bot.store.models import CAMPAIGN_STATUS_ZH, CampaignDraft, Org
from rules.money import fmt_threshold_wan, yuan_to_fen
from rules.policy import Policy

UNAPPROVED_NOTE = "草稿未经审批不得对外发送（银发〔2019〕316号：营销宣传内容须经机构审核）。"
MAX_RM_ROWS = 20


def describe_audience(spec: AudienceSpec, policy: Policy) -> str:
    """Which rule picked the customers, with its numbers (docs/DOMAIN.md: say which rule fired)."""
    if spec.rule == "dormant":
        p = policy.behaviour
        return (f"沉睡客户（金融资产 < {fmt_threshold_wan(yuan_to_fen(p.dormant_max_aum_yuan))}、"
                f"{p.dormant_no_contact_days} 天未联系、近 {p.dormant_outflow_days} 天净流出）")
    if spec.rule == "tiers":
        return "、".join(spec.tiers)
    if spec.rule == "age":
        if spec.min_age is not None and spec.max_age is not None:
            return f"{spec.min_age}–{spec.max_age} 岁个人客户（按身份证出生日期）"
        if spec.min_age is not None:
            return f"{spec.min_age} 岁及以上个人客户（按身份证出生日期）"
        return f"{spec.max_age} 岁及以下个人客户（按身份证出生日期）"
    if spec.rule == "birthday":
        return f"未来 {spec.days} 天内生日的个人客户"
    if spec.rule == "payroll":
        return "代发工资单位（最近一月有代发人数）"
    if spec.rule == "merchant":
        return "POS 收单商户（最近一月有结算）"
    return (f"近期大额资金流入客户（时点金融资产较上月末增加 ≥ {fmt_threshold_wan(yuan_to_fen(spec.min_inflow_yuan))}"
            f" 且 ≥ {spec.min_ratio * 100:.0f}%）")


def kinds_reply(catalogue: Catalogue, policy: Policy) -> Reply:
    rows = [[k.name, "、".join(k.aliases[:3]), describe_audience(k.audience, policy), k.usage()]
            for k in catalogue.kinds.values()]
    return Reply(
        title="营销文案 · 活动类型",
        summary="选择活动类型起草文案（群发、1对1 私信、短信三个版本），经合规检查与支行负责人审批后使用。",
        tables=[Table(columns=["类型", "别名", "目标客群", "用法"], rows=rows)],
        notes=["例：/campaign 沉睡激活 日期=2026-12-05 地点=西湖支行三楼 时间=14:00",
               ("其他：/campaign show <草稿号> · /campaign list · /campaign submit <草稿号> · "
                "/campaign edit <草稿号> <群发|私信|短信> <文案> · /lint <文本>"),
               UNAPPROVED_NOTE],
    )


def _audience_fields(reply: Reply, counts: AudienceCounts, spec_text: str, unit: str) -> None:
    tiers = "、".join(f"{t} {n}" for t, n in counts.per_tier) or "—"
    reply.add("目标客群", spec_text)
    reply.add("受众规模", f"{counts.total} {unit}" + (f"（{tiers}）" if counts.total else "（当前数据中暂无符合条件的客户）"))


def _unit(kind: KindSpec) -> str:
    return "家单位" if kind.audience.rule in ("payroll", "merchant") else "位客户"


def _text_sections(texts: dict[str, str], max_sms: int) -> list[Section]:
    out = []
    for v in VARIANTS:
        title = VARIANT_TITLE[v]
        if v == "sms":
            title += f"（{sms_length(texts[v])}/{max_sms} 字）"
        out.append(Section(title=title, text=texts[v] or "—"))
    return out


def _lint_section(findings_json: str) -> Section:
    findings = findings_from_json(json.loads(findings_json or "{}"))
    lines = finding_lines(findings)
    return Section(title="合规检查", text="\n".join(lines) if lines else "未发现问题")


def draft_reply(draft: CampaignDraft, branch: Org, kind: KindSpec, counts: AudienceCounts, texts: dict[str, str],
                audience_text: str, catalogue: Catalogue, product_name: str | None, when: str) -> Reply:
    assert draft.id is not None
    blocks, warns = _count(draft.lint)
    if blocks:
        summary = f"合规检查：{blocks} 项阻断{f'、{warns} 条提示' if warns else ''}，修改后才能提交审批。"
    elif warns:
        summary = f"合规检查：{warns} 条提示，请确认后提交审批。"
    else:
        summary = "合规检查通过，可提交支行负责人审批。"
    reply = Reply(title=f"营销文案草稿 {draft.id} · {kind.name} · {branch.name}",
                  kind="warning" if blocks else "info", summary=summary)
    reply.add("草稿号", str(draft.id))
    reply.add("状态", CAMPAIGN_STATUS_ZH[draft.status])
    _audience_fields(reply, counts, audience_text, _unit(kind))
    if when:
        reply.add("活动", when)
    if product_name:
        reply.add("产品", product_name)
    reply.add("思路", f"{kind.angle}（{kind.source.split(':')[0]}）")
    if counts.per_rm:
        rows = [[f"{name}（{rm}）", str(n)] for rm, name, n in counts.per_rm[:MAX_RM_ROWS]]
        reply.tables.append(Table(title="按客户经理", columns=["客户经理", _unit(kind)[-2:]], rows=rows))
    reply.sections.extend(_text_sections(texts, catalogue.bank.sms_max_chars))
    reply.sections.append(_lint_section(draft.lint))
    if not blocks:
        reply.buttons.append(Button(label="提交审批", action="campaign_submit", value=str(draft.id), style="primary"))
    else:
        reply.usage = f"/campaign edit {draft.id} <群发|私信|短信> <修改后的文案>"
    reply.notes.append(UNAPPROVED_NOTE)
    if draft.data_date:
        reply.notes.append(f"数据日期 {draft.data_date} · 名单导出（支行负责人）：rmbot campaign export {draft.id} --as <员工号> --out 名单.csv")
    return reply


def _count(lint_json: str) -> tuple[int, int]:
    findings = findings_from_json(json.loads(lint_json or "{}"))
    every = [f for fs in findings.values() for f in fs]
    return sum(f.blocking for f in every), sum(not f.blocking for f in every)


def draft_view(draft: CampaignDraft, branch: Org, kind: KindSpec | None, staff: StaffView, author_name: str,
               approver_name: str | None, texts: dict[str, str], catalogue: Catalogue) -> Reply:
    """/campaign show: approved copy for anyone of the branch; drafts only to author and approvers."""
    assert draft.id is not None
    name = kind.name if kind else draft.kind
    reply = Reply(title=f"营销文案 {draft.id} · {name} · {branch.name}", summary=CAMPAIGN_STATUS_ZH[draft.status])
    reply.add("起草", f"{author_name}（{draft.author_id}）{draft.created_at:%m-%d %H:%M}")
    if draft.submitted_at:
        reply.add("提交审批", f"{draft.submitted_at:%m-%d %H:%M}")
    if draft.decided_at:
        verb = "审批通过" if draft.status == "approved" else "驳回"
        reply.add(verb, f"{approver_name or draft.decided_by}（{draft.decided_by}）{draft.decided_at:%m-%d %H:%M}")
    if draft.reason:
        reply.add("原因" if draft.status == "rejected" else "备注", draft.reason)
    if draft.posted_at:
        reply.add("已提交推送支行群", f"{draft.posted_at:%m-%d %H:%M}")
    reply.add("受众规模", f"{draft.audience_total}")
    if can_see_draft_text(staff, draft.author_id, draft.status):
        reply.sections.extend(_text_sections(texts, catalogue.bank.sms_max_chars))
        if draft.status == "approved":
            reply.notes.append("以上为审批通过的最终文案，请原样使用，不得自行改动；如需修改请重新起草并审批。")
        else:
            reply.sections.append(_lint_section(draft.lint))
            reply.notes.append(UNAPPROVED_NOTE)
    else:
        reply.notes.append("文案尚未审批通过，审批后可在此获取最终文案。")
    if draft.status == "draft" and staff.id == draft.author_id and not draft.blocked:
        reply.buttons.append(Button(label="提交审批", action="campaign_submit", value=str(draft.id), style="primary"))
    return reply


def decision_buttons(draft_id: int) -> list[Button]:
    return [Button(label="审批通过", action="campaign_approve", value=str(draft_id), style="primary"),
            Button(label="驳回", action="campaign_reject", value=str(draft_id), style="danger")]


def approved_post(draft: CampaignDraft, branch: Org, kind: KindSpec | None, approver: str,
                  texts: dict[str, str]) -> Reply:
    """What the branch channel receives: the final copy, who approved it, and nothing personal."""
    name = kind.name if kind else draft.kind
    reply = Reply(title=f"【营销文案·已审批】{name} · {branch.name}",
                  summary=f"草稿 {draft.id} · 审批人 {approver}"
                          + (f" · {draft.decided_at:%m-%d %H:%M}" if draft.decided_at else ""))
    reply.sections.extend(Section(title=VARIANT_TITLE[v] + (f"（{sms_length(texts[v])} 字）" if v == "sms" else ""),
                                  text=texts[v]) for v in VARIANTS)
    counts = json.loads(draft.audience or "{}")
    if counts.get("per_rm"):
        rows = [[f"{n}（{r}）", str(c)] for r, n, c in counts["per_rm"][:MAX_RM_ROWS]]
        reply.tables.append(Table(title=f"目标客群 {counts.get('total', 0)}（按客户经理）", columns=["客户经理", "数量"], rows=rows))
    reply.notes.append("请原样使用以上已审批文案；客户名单请向支行负责人索取（rmbot campaign export）。")
    reply.notes.append(f"私聊发送 /campaign show {draft.id} 可随时取回最终文案。")
    return reply
