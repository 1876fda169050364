"""/whoami: who the bot thinks you are and what you may see (a first check after linking)."""

from __future__ import annotations

from bot.core.context import Context
from bot.core.registry import command
from bot.core.reply import Reply
from bot.store.models import ROLE_ZH

SCOPE = {
    "rm": "本人名下客户",
    "branch_manager": "本支行（含下辖网点）全部客户",
    "regional_manager": "本分行下辖全部支行客户",
}


@command("whoami", aliases=("我是谁", "我的信息"), summary="查看您的身份与数据权限 Who am I", usage="/whoami")
def whoami(ctx: Context, args: list[str]) -> Reply:
    s = ctx.staff
    return (
        Reply(title="我的身份", summary=f"{s.name}（{s.id}）")
        .add("角色", ROLE_ZH.get(s.role, s.role))
        .add("机构", f"{s.org_name}（{s.org_id}）")
        .add("可查看", SCOPE.get(s.role, "—"))
        .add("渠道", f"{ctx.request.platform} · {'群聊（客户信息脱敏）' if ctx.masked else '私聊'}")
    )
