"""Follow-up buttons (已联系 / 已承接 / 已流失) on pushed items and /tier answers.

A click is a command like any other: the caller's role and their right to see the customer
are checked again at click time, and the follow-up is written under the clicker's identity.
"""

from __future__ import annotations

from bot.core.access import fetch_customer
from bot.core.context import Context
from bot.core.errors import UserError
from bot.core.registry import action
from bot.core.followup import OUTCOMES, followup_buttons  # noqa: F401  (re-exported for commands)
from bot.core.reply import Reply
from bot.store.models import Contact


@action("followup")
def record_followup(ctx: Context, value: str) -> Reply:
    parts = value.split("|", 2)
    if len(parts) != 3 or parts[0] not in OUTCOMES:
        raise UserError("按钮数据无效，请刷新后重试。Invalid button payload.")
    outcome, customer_id, ref = parts
    customer, _org, _rm = fetch_customer(ctx, customer_id)
    ctx.session.add(
        Contact(customer_id=customer.id, staff_id=ctx.staff.id, at=ctx.now, outcome=outcome,
                channel="chat", ref=ref[:96] or None)
    )
    label = OUTCOMES[outcome]
    done = f"{label} · {ctx.staff.name} {ctx.now:%m-%d %H:%M}"
    return Reply(title="已记录跟进", summary=f"{customer.id} {done}", notes=[f"ref: {ref}"] if ref else [])
