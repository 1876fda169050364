"""/help lists only what the caller's role may run: no teasing with commands they can't use."""

from __future__ import annotations

from bot.core.context import Context
from bot.core.registry import Registry, command
from bot.core.reply import Reply, Table
from bot.store.models import ROLE_ZH


@command("help", aliases=("帮助", "菜单", "?", "？"), summary="列出可用命令 List the commands you can use",
         usage="/help")
def help_(ctx: Context, args: list[str]) -> Reply:
    registry: Registry = ctx.extras["registry"]  # type: ignore[assignment]
    rows = [
        [spec.usage, spec.summary, "、".join(spec.aliases[:3])]
        for spec in registry.commands()
        if ctx.staff.role in spec.roles and spec.name != "help"
    ]
    return Reply(
        title="客户经理助手 · 可用命令",
        summary=f"{ctx.staff.name}（{ROLE_ZH.get(ctx.staff.role, ctx.staff.role)}），您可以使用：",
        tables=[Table(columns=["命令", "说明", "别名"], rows=rows)],
        notes=["命令可带或不带 /，支持中文别名与全角字符；例：/tier C0000001 或 分层 C0000001"],
    )
