"""Follow-up buttons (已联系 / 已承接 / 已流失) on pushed items and /tier answers.

A click is a command like any other: the caller's role and their right to see the customer
are checked again at click time, and the follow-up is written under the clicker's identity.
"""

from __future__ import annotations

from bot.core.access import fetch_customer, stage_audit
from bot.core.context import Context
from bot.core.errors import UserError
from bot.core.registry import action
from bot.core.followup import OUTCOMES, followup_buttons  # noqa: F401  (re-exported for commands)
from bot.core.reply import Reply
from bot.store.followups import ref_owner
from bot.store.models import Contact


@action("followup")
def record_followup(ctx: Context, value: str) -> Reply:
    parts = value.split("|", 2)
    if len(parts) != 3 or parts[0] not in OUTCOMES:
        raise UserError("按钮数据无效，请刷新后重试。Invalid button payload.")
    outcome, customer_id, ref = parts
    customer, _org, _rm = fetch_customer(ctx, customer_id)  # in the clicker's scope, audited
    # The value comes back from the chat platform: its item must be this customer's, or a click
    # could mark someone else's maturity or churn case 已承接 (issue 13 item 8).
    if ref_owner(ctx.session, ref) != customer.id:
        stage_audit(ctx, target=customer.id, outcome="denied", detail=f"followup ref not this customer's: {ref[:96]}")
        raise UserError("按钮数据与客户不符，未记录跟进；请刷新清单后重试。"
                        " The button's item does not belong to this customer; nothing was recorded.")
    ctx.session.add(
        Contact(customer_id=customer.id, staff_id=ctx.staff.id, at=ctx.now, outcome=outcome,
                channel="chat", ref=ref)
    )
    label = OUTCOMES[outcome]
    done = f"{label} · {ctx.staff.name} {ctx.now:%m-%d %H:%M}"
    return Reply(title="已记录跟进", summary=f"{customer.id} {done}", notes=[f"ref: {ref}"])
