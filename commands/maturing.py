"""/maturing [天数]: the caller's customers with products maturing soon (到期承接)."""

from __future__ import annotations

from datetime import timedelta

from bot.core.context import Context
from bot.core.errors import UserError
from bot.core.registry import command
from bot.core.reply import Item, Reply
from bot.push.messages import maturing_item, maturing_summary
from bot.store.customers import latest_data_date
from bot.store.push_lists import MaturingRow, maturing_rows
from commands.lists import caller_scope, list_reply

USAGE = "/maturing [天数]，例：/maturing 或 /maturing 30（1–90 天，默认 7 天）"


@command("maturing", aliases=("到期", "到期承接", "到期产品"), usage="/maturing [天数]",
         summary="近期到期产品（到期承接）Products maturing soon")
def maturing(ctx: Context, args: list[str]) -> Reply:
    days = ctx.policy.maturity.window_days
    if len(args) > 1:
        raise UserError("参数过多。Too many arguments.", USAGE)
    if args:
        raw = args[0].removesuffix("天")
        if not raw.isdigit() or not 1 <= int(raw) <= 90:
            raise UserError(f"天数应为 1–90 的整数：{args[0][:20]}。Days must be 1–90.", USAGE)
        days = int(raw)
    start, end = ctx.today, ctx.today + timedelta(days=days)
    rows = list(maturing_rows(ctx.session, ctx.policy, start, end, caller_scope(ctx), exclude_handled=False))
    if not rows:
        return Reply(title="到期承接", summary=f"{start:%m-%d} 至 {end:%m-%d} 没有到期产品。Nothing matures in this window.")
    return list_reply(ctx, f"到期承接 · {days} 天内", maturing_summary(rows, start, end), rows,
                      lambda r: _item(ctx, r), [f"数据日期 {latest_data_date(ctx.session) or '—'}"])


def _item(ctx: Context, row: MaturingRow) -> Item:
    """The push's item with the product named; the masking policy renders it for DM or group."""
    return maturing_item(row, ctx.today, product=True)
