"""/churn: the caller's customers whose assets are falling (流失预警, docs/DOMAIN.md §3)."""

from __future__ import annotations

from bot.core.context import Context
from bot.core.errors import UserError
from bot.core.registry import command
from bot.core.reply import Reply
from bot.push.messages import churn_item, churn_summary
from bot.store.customers import latest_data_date
from bot.store.push_lists import churn_counts, churn_rows
from commands.lists import caller_scope, list_reply


@command("churn", aliases=("流失", "流失预警", "防流失"), usage="/churn",
         summary="资产下降的客户（流失预警）Customers at risk of leaving")
def churn(ctx: Context, args: list[str]) -> Reply:
    if args:
        raise UserError("/churn 不需要参数。/churn takes no arguments.", "/churn")
    data_date = latest_data_date(ctx.session)
    if data_date is None:
        raise UserError("尚无资产数据：请先运行 rmbot seed 或 rmbot import。No balance data yet.")
    scope = caller_scope(ctx)
    rows = list(churn_rows(ctx.session, ctx.policy, data_date, scope, exclude_handled=False))
    if not rows:
        return Reply(title="流失预警", summary="当前没有资产下降到预警线的客户。No customers at the watch line.")
    counts = churn_counts(ctx.session, ctx.policy, data_date, scope)
    total = (sum(c[0] for c in counts.values()), sum(c[1] for c in counts.values()))
    summary, notes = churn_summary(rows, total, ctx.policy)
    # The push's items: the masking policy renders them for DM or group (bot.core.privacy).
    return list_reply(ctx, "流失预警", summary, rows, lambda r: churn_item(r, ctx.policy),
                      [*notes, f"数据日期 {data_date}"])
