"""Push lists → neutral Replies for a branch group chat: one section per RM, masked, split in parts.

Items hold typed customer values (`bot.core.sensitive`); the masking policy renders them for the
audience (`bot.core.privacy`): in the branch group a name shows its surname and every customer
amount a band (`10–20万`, as /tier), a total over fewer than `masking.group_min_customers`
customers a band too. /maturing and /churn build their items here as well, so a DM shows the same
lines with the exact figures. Parts are small enough that each renders as one message on every
platform, so one outbox row is one platform message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from itertools import groupby
from typing import TypeVar

from bot.core.privacy import resolve
from bot.core.reply import Item, Reply, Section
from bot.core.sensitive import Aggregate, CustomerMoney, CustomerName, Text
from bot.push.kinds import KIND_ZH
from bot.store.push_lists import ChurnRow, DowngradeRow, MaturingRow
from bot.store.tier_run import TierChangeRow
from bot.core.followup import followup_buttons
from rules.churn import LEVEL_ZH, branch_notices
from rules.maturity import due_text
from rules.money import FEN_PER_WAN, fmt_threshold_wan, pct_vs
from rules.policy import Policy

ITEMS_PER_PART = 12
Row = TypeVar("Row", MaturingRow, ChurnRow, DowngradeRow, TierChangeRow)


@dataclass(frozen=True)
class BranchPush:
    kind: str
    branch_id: str
    branch_name: str
    items: int
    parts: list[Reply]
    customers: tuple[str, ...] = ()
    """Every customer the push names, in order: its audit row lists them (PushService._enqueue)."""


def wan1(fen: int) -> str:
    return f"{(Decimal(fen) / FEN_PER_WAN).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}万"


def maturing_item(row: MaturingRow, push_day: date, product: bool = False) -> Item:
    """`product`: name the product too (a chat answer); a push names the kind only, to stay short."""
    when = due_text(row.maturity_date, push_day)  # ⚠ 今天到期 / 明天到期 / 12-05 到期（3 天后）
    what = f"{row.kind}·{row.product_name}" if product and row.product_name else row.kind
    text = Text.of(CustomerName(row.customer_name), f"（{row.customer_id}）· {what} ",
                   CustomerMoney(row.amount_fen, places=1), f" · {when}")
    return Item(text=text, buttons=followup_buttons(row.customer_id, row.ref), ref=row.ref)


def churn_item(row: ChurnRow, policy: Policy) -> Item:
    # Whole percent unless rounding would cross a line: 50.4% of the peak is 关注, never "50%".
    pct = pct_vs(row.current_fen, row.baseline_fen, policy.churn.warning_ratio, policy.churn.watch_ratio)
    text = Text.of(CustomerName(row.customer_name), f"（{row.customer_id}）· {LEVEL_ZH[row.level]} · 资产为近3月高点的 {pct}"
                   " · 现 ", CustomerMoney(row.current_fen, places=1), " / 近3月高点 ", CustomerMoney(row.baseline_fen, places=1))
    if row.other_bank_fen > 0:
        text += Text.of(" · ⚠ 流向他行约 ", CustomerMoney(row.other_bank_fen, places=1))
    return Item(text=text, buttons=followup_buttons(row.customer_id, row.ref), ref=row.ref)


def downgrade_item(row: DowngradeRow, policy: Policy) -> Item:
    text = Text.of(CustomerName(row.customer_name), f"（{row.customer_id}）· {row.tier} · 月日均低于标准已 "
                   f"{row.months_below}/{policy.tiers.downgrade_months} 个月")
    return Item(text=text, buttons=followup_buttons(row.customer_id, row.ref), ref=row.ref)


def tier_change_item(row: TierChangeRow) -> Item:
    """升档/降档 with the rule's numbers; the amount is a typed value, so a group sees its band."""
    if row.change == "downgrade":
        why = Text.of("月日均 ", CustomerMoney(row.basis_fen, places=1), f" < {fmt_threshold_wan(row.line_fen)}，"
                      f"已连续 {row.months_below}/{row.months_required} 个月（缓降）")
        arrow = "⬇ 降档"
    else:
        fast = row.change == "fast_upgrade" and row.point_fen is not None
        label = "时点余额" if fast or row.basis == "point" else "月日均"
        amount = row.point_fen if fast and row.point_fen is not None else row.basis_fen
        why = Text.of(f"{label} ", CustomerMoney(amount, places=1), f" ≥ {fmt_threshold_wan(row.line_fen)}（快升）")
        arrow = "⬆ 升档"
    text = Text.of(CustomerName(row.customer_name), f"（{row.customer_id}）· {arrow} {row.from_tier} → {row.to_tier} · ") + why
    return Item(text=text)


def tier_change_summary(rows: Sequence[TierChangeRow]) -> str:
    down = sum(r.change == "downgrade" for r in rows)
    return f"等级变动：升档 {len(rows) - down} 户、降档 {down} 户（快升缓降，每日定级）"


def branch_push(
    kind: str, branch_id: str, branch_name: str, rows: Sequence[Row], item_of: Callable[[Row], Item],
    push_day: date, data_date: date | None, summary: str, notes: Iterable[str] = (), label: str | None = None,
) -> BranchPush:
    """Sections per RM in list order; parts of at most ITEMS_PER_PART items, an RM may continue."""
    chunks: list[list[Section]] = [[]]
    filled = 0
    for (rm_id, rm_name), group in groupby(rows, key=lambda r: (r.rm_id, r.rm_name)):
        members = list(group)
        total = len(members)
        for n, row in enumerate(members):
            if filled == ITEMS_PER_PART:
                chunks.append([])
                filled = 0
            sections = chunks[-1]
            if not sections or sections[-1].mention != rm_id:
                cont = "（续）" if n > 0 else ""
                sections.append(Section(title=f"{rm_name}（{rm_id}）· {total} 项{cont}", mention=rm_id))
            sections[-1].items.append(item_of(row))
            filled += 1
    parts: list[Reply] = []
    n_parts = len(chunks)
    head = f"【{label or KIND_ZH[kind]}】{branch_name} · {push_day:%Y-%m-%d}"
    for i, sections in enumerate(chunks, start=1):
        title = head if n_parts == 1 else f"{head}（{i}/{n_parts}）"
        reply = Reply(title=title, summary=summary if i == 1 else None, sections=sections, masked=True)
        if i == 1:
            reply.notes.extend(notes)
        reply.notes.append(f"数据日期 {data_date or '—'} · 客户信息已脱敏 · 点击按钮记录跟进（已联系/已承接/已流失）")
        parts.append(reply)
    return BranchPush(kind, branch_id, branch_name, len(rows), parts, tuple(dict.fromkeys(r.customer_id for r in rows)))


def resolved(push: BranchPush, policy: Policy) -> BranchPush:
    """The push with its parts resolved by the masking policy for the group (what the outbox
    stores and every sender renders), so no raw customer value is kept in a queued message."""
    parts = [resolve(part.model_copy(update={"masked": True}), policy) for part in push.parts]
    return replace(push, parts=parts)


def maturing_summary(rows: Sequence[MaturingRow], start: date, end: date) -> Text:
    total = Aggregate(sum(r.amount_fen for r in rows), len({r.customer_id for r in rows}), places=1)
    return Text.of(f"{start:%m-%d} 至 {end:%m-%d} 到期 {len(rows)} 笔，合计 ", total, "，按客户经理、金额从大到小排列")


def churn_summary(rows: Sequence[ChurnRow], counts: tuple[int, int], policy: Policy) -> tuple[Text, list[str]]:
    warn = sum(r.level == "warning" for r in rows)
    other = [r for r in rows if r.other_bank_fen > 0]
    summary = Text.of(f"待跟进 {len(rows)} 户：预警 {warn} 户、关注 {len(rows) - warn} 户")
    if other:
        outflow = Aggregate(sum(r.other_bank_fen for r in other), len({r.customer_id for r in other}), places=1)
        summary += Text.of(f"；其中 {len(other)} 户资金流向他行（约 ", outflow, "），请针对性挽留")
    notes = [f"{n.kind}：{n.reason.text}" for n in branch_notices(counts[0], counts[1], policy.churn)]
    return summary, notes
