"""/lint <文本>: check any marketing copy against the compliance lint before it goes anywhere.

RMs paste copy from product teams, insurers and the seeds' own pitches (seed 000: "保底收益,
无风险"), so the lint is available on any text, not only on drafts the bot wrote. Chat messages
are capped by the core parser (`MAX_TEXT`); longer documents go through `rmbot lint FILE`.
"""

from __future__ import annotations

from bot.campaigns.raw_text import typed_text
from bot.core.context import Context
from bot.core.errors import UserError
from bot.core.parser import MAX_TEXT
from bot.core.registry import command
from bot.core.reply import Reply, Section
from rules.compliance import default_lint_rules, format_findings, lint

USAGE = "/lint <要检查的文案>，例：/lint 本产品保本保收益，稳赚不赔"
MAX_SHOWN = 20


@command("lint", aliases=("合规检查", "合规", "检查文案"),
         summary="检查营销文案用语与必备提示 Compliance lint for marketing copy", usage="/lint <文本>",
         examples=("/lint 保底收益，无风险",))
def lint_text(ctx: Context, args: list[str]) -> Reply:
    text = typed_text(ctx.request, args).strip()
    if not text:
        raise UserError("请在 /lint 后粘贴要检查的文案。Paste the text to check after /lint.", USAGE)
    if len(text) > MAX_TEXT:  # normally refused earlier by the parser; kept so the limit is stated here too
        raise UserError(f"文本过长（{len(text)} 字，聊天中最多 {MAX_TEXT} 字）；长文请用命令行 `rmbot lint 文件` 检查。"
                        " Text too long for chat; use `rmbot lint FILE`.", USAGE)
    result = lint(text, default_lint_rules())
    version = f"规则版本 {result.rules_version} · 仅检查用语与必备提示，对外发布仍须经审批"
    if result.clean:
        return Reply(title="合规检查", summary="未发现问题 No findings", notes=[version])
    blocks, warns = len(result.blocks), len(result.warnings)
    summary = "、".join(x for x in (f"{blocks} 项阻断" if blocks else "", f"{warns} 条提示" if warns else "") if x)
    lines = format_findings(result)
    if len(lines) > MAX_SHOWN:
        lines = lines[:MAX_SHOWN] + [f"……另有 {len(lines) - MAX_SHOWN} 条，完整结果请用 `rmbot lint 文件`"]
    return Reply(title="合规检查", kind="warning" if blocks else "info",
                 summary=summary + ("：不得对外发布，请按建议修改。" if blocks else "：请核实后再用。"),
                 sections=[Section(title="发现的问题", text="\n".join(lines))], notes=[version])
