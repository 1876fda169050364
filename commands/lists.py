"""Shared shape of the list commands (/maturing, /churn): whose customers, audited, masked."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import groupby
from typing import TypeVar

from bot.core.access import stage_audit
from bot.exports.audit import customer_list
from bot.core.context import Context
from bot.core.reply import Item, Reply, Section
from bot.core.sensitive import Rich
from bot.store.followups import latest_followups
from bot.store.push_lists import Scope
from bot.core.followup import OUTCOMES

MAX_ITEMS = 60
"""A chat answer lists at most this many items (largest first) and says how many more there are."""
R = TypeVar("R")


def caller_scope(ctx: Context) -> Scope:
    """RMs see their own customers; managers everything under their org."""
    if ctx.staff.role == "rm":
        return Scope(rm_id=ctx.staff.id)
    return Scope(org_path=ctx.staff.org_path)


def list_reply(ctx: Context, title: str, summary: Rich, rows: Sequence[R], item: Callable[[R], Item],
               notes: Sequence[str]) -> Reply:
    """Items grouped by RM; an item already followed up shows who did what instead of buttons."""
    shown = rows[:MAX_ITEMS]
    done = latest_followups(ctx.session, [getattr(r, "ref") for r in shown])
    stage_audit(ctx, target=f"list:{ctx.command}", outcome="allowed",
                detail=f"{len(rows)} items, {len(shown)} shown; "
                + customer_list(list(dict.fromkeys(getattr(r, "customer_id") for r in shown))))
    reply = Reply(title=title, summary=summary, masked=ctx.masked)
    by_rm = groupby(shown, key=lambda r: (getattr(r, "rm_id"), getattr(r, "rm_name")))
    for (rm_id, rm_name), group in by_rm:
        section = Section(title=f"{rm_name}（{rm_id}）")
        for row in group:
            it = item(row)
            if it.ref in done:
                outcome, name, at = done[it.ref]
                it.done_by, it.buttons = f"{OUTCOMES.get(outcome, outcome)} · {name} {at:%m-%d %H:%M}", []
            section.items.append(it)
        reply.sections.append(section)
    if len(rows) > MAX_ITEMS:
        reply.notes.append(f"共 {len(rows)} 项，此处列出前 {MAX_ITEMS} 项；完整清单见每日推送或 `rmbot push run --dry-run`。")
    reply.notes.extend(notes)
    return reply
