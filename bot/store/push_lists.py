"""The push lists as set-based SQL (docs/DOMAIN.md §3, §4): one statement per list, rows streamed.

The same statements run on SQLite and PostgreSQL. Thresholds come from the policy and are
compared as integers, exactly as `rules/churn.py` does with Decimals, so a customer is on the
list here if and only if the rule says so (tests check this on the seeded bank).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import String, and_, case, cast, exists, func, literal, or_, select, text
from sqlalchemy.orm import aliased
from sqlalchemy.sql import Select
from sqlmodel import Session

from bot.clock import add_months, month_start
from bot.store.models import AumMonthly, Balance, Contact, Customer, Holding, Org, Staff
from bot.store.scope import org_ids_under, under
from rules.maturity import ratio_scaled
from rules.money import yuan_to_fen
from rules.policy import Policy

SCALE = 1_000_000


@dataclass(frozen=True)
class Scope:
    """Whose customers: one RM's, or everything under an org path; None fields mean no limit."""

    rm_id: str | None = None
    org_path: str | None = None
    branch_ids: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ListRow:
    """What every push list row has first: where it goes (branch, RM) and whose it is."""

    branch_id: str
    branch_name: str
    rm_id: str
    rm_name: str
    customer_id: str
    customer_name: str


@dataclass(frozen=True)
class MaturingRow(ListRow):
    holding_id: int
    kind: str
    product_name: str
    amount_fen: int
    maturity_date: date

    @property
    def ref(self) -> str:
        return f"maturing:{self.holding_id}"


@dataclass(frozen=True)
class ChurnRow(ListRow):
    current_fen: int
    baseline_fen: int
    level: str  # watch | warning
    other_bank_fen: int

    @property
    def ref(self) -> str:
        """The level is part of the item: an escalation to 预警 is pushed again."""
        return f"churn:{self.customer_id}:{self.level}"


@dataclass(frozen=True)
class DowngradeRow(ListRow):
    tier: str
    line_fen: int
    latest_avg_fen: int
    months_below: int

    @property
    def ref(self) -> str:
        return f"downgrade:{self.customer_id}:{self.months_below}"


def _branch_cols() -> tuple[object, object, object]:
    org = aliased(Org, name="o")
    branch = aliased(Org, name="sb")
    branch_id = case((org.level == "outlet", org.parent_id), else_=org.id)
    return org, branch, branch_id


def _scoped(stmt: Select, scope: Scope | None, org: object, branch_id: object) -> Select:
    if scope is None:
        return stmt
    if scope.rm_id is not None:
        stmt = stmt.where(Customer.rm_id == scope.rm_id)
    if scope.org_path is not None:
        # Also as a list of org ids: lets the planner start from the branch's customers (index on
        # customer.org_id) instead of the whole bank's balances or months.
        stmt = stmt.where(under(org.path, scope.org_path),  # type: ignore[attr-defined]
                          Customer.org_id.in_(org_ids_under(scope.org_path)))
    if scope.branch_ids is not None:
        stmt = stmt.where(branch_id.in_(scope.branch_ids))  # type: ignore[attr-defined]
    return stmt


def _not_handled(ref: object) -> object:
    return ~exists().where(Contact.ref == ref)


def _stream(session: Session, stmt: Select) -> Iterator[tuple]:
    """Rows in batches, never the whole list in memory. On PostgreSQL that is a server-side
    cursor, for which the planner by default optimises the first 10% of rows (nested loops over
    a million customers); these lists are always read to the end, so plan for all of them."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL cursor_tuple_fraction = 1.0"))
    result = session.execute(stmt.execution_options(stream_results=True, yield_per=2000))
    yield from result


def maturing_rows(session: Session, policy: Policy, start: date, end: date, scope: Scope | None = None,
                  exclude_handled: bool = True) -> Iterator[MaturingRow]:
    org, branch, branch_id = _branch_cols()
    ref = literal("maturing:") + cast(Holding.id, String)
    stmt = (
        select(branch_id.label("branch_id"), branch.name, Customer.rm_id, Staff.name, Customer.id, Customer.name,
               Holding.id, Holding.kind, Holding.product_name, Holding.amount_fen, Holding.maturity_date)
        .select_from(Holding)
        .join(Customer, Customer.id == Holding.customer_id)
        .join(org, org.id == Customer.org_id)
        .join(branch, branch.id == branch_id)
        .join(Staff, Staff.id == Customer.rm_id)
        .where(Holding.maturity_date.between(start, end), Holding.kind.in_(policy.maturity.kinds))
        # Per RM, what matures on the first day of the window (today) comes first whatever its
        # amount (rules.maturity.is_urgent); then largest first, as docs/DOMAIN.md §4 asks.
        .order_by(branch_id, Customer.rm_id, case((Holding.maturity_date <= start, 0), else_=1),
                  Holding.amount_fen.desc(), Holding.id)
    )
    if exclude_handled:
        stmt = stmt.where(_not_handled(ref))
    for row in _stream(session, _scoped(stmt, scope, org, branch_id)):
        yield MaturingRow(*row)


def _scope_customers(scope: Scope) -> Select:
    """Ids of the customers in scope, to narrow an aggregate before it runs over the whole bank."""
    org, _branch, branch_id = _branch_cols()
    return _scoped(select(Customer.id).join(org, org.id == Customer.org_id), scope, org, branch_id)


def _churn_select(policy: Policy, data_date: date, scope: Scope | None = None) -> tuple[Select, object, object, object]:
    org, branch, branch_id = _branch_cols()
    p = policy.churn
    current_month = month_start(data_date)
    base_stmt = (
        select(AumMonthly.customer_id.label("cid"), func.max(AumMonthly.month_end_fen).label("baseline"))
        .where(AumMonthly.month >= add_months(current_month, -p.baseline_months), AumMonthly.month < current_month)
        .group_by(AumMonthly.customer_id)
    )
    if scope is not None:  # a branch's summary reads its own customers' history, not the bank's
        base_stmt = base_stmt.where(AumMonthly.customer_id.in_(_scope_customers(scope)))
    base = base_stmt.subquery("base")
    watch, warn = ratio_scaled(p.watch_ratio, SCALE), ratio_scaled(p.warning_ratio, SCALE)
    level = case((Balance.aum_fen * SCALE <= base.c.baseline * warn, literal("warning")), else_=literal("watch"))
    stmt = (
        select(branch_id.label("branch_id"), branch.name, Customer.rm_id, Staff.name, Customer.id, Customer.name,
               Balance.aum_fen, base.c.baseline, level.label("level"), Balance.outflow_other_bank_fen)
        .select_from(Balance)
        .join(base, base.c.cid == Balance.customer_id)
        .join(Customer, Customer.id == Balance.customer_id)
        .join(org, org.id == Customer.org_id)
        .join(branch, branch.id == branch_id)
        .join(Staff, Staff.id == Customer.rm_id)
        .where(Balance.as_of == data_date, base.c.baseline >= yuan_to_fen(p.min_baseline_yuan),
               Balance.aum_fen * SCALE <= base.c.baseline * watch)
    )
    return stmt, org, branch_id, (base, level)


def churn_rows(session: Session, policy: Policy, data_date: date, scope: Scope | None = None,
               exclude_handled: bool = True) -> Iterator[ChurnRow]:
    stmt, org, branch_id, (base, level) = _churn_select(policy, data_date, scope)
    stmt = stmt.order_by(branch_id, Customer.rm_id, (base.c.baseline - Balance.aum_fen).desc(), Customer.id)  # type: ignore[attr-defined]
    if exclude_handled:
        stmt = stmt.where(_not_handled(literal("churn:") + Customer.id + literal(":") + level))
    for row in _stream(session, _scoped(stmt, scope, org, branch_id)):
        yield ChurnRow(*row)


def churn_counts(session: Session, policy: Policy, data_date: date, scope: Scope | None = None) -> dict[str, tuple[int, int]]:
    """Per 支行: (customers at ≤ watch ratio, of whom at ≤ warning ratio), handled or not."""
    stmt, org, branch_id, _ = _churn_select(policy, data_date, scope)
    sub = _scoped(stmt, scope, org, branch_id).subquery("churn")
    counts = select(sub.c.branch_id, func.count(), func.sum(case((sub.c.level == "warning", 1), else_=0))).group_by(sub.c.branch_id)
    return {b: (int(n), int(w or 0)) for b, n, w in session.execute(counts)}


def downgrade_rows(session: Session, policy: Policy, data_date: date, scope: Scope | None = None) -> Iterator[DowngradeRow]:
    """Customers whose latest complete 月日均 is under their held tier's line (缓降 in progress)."""
    org, branch, branch_id = _branch_cols()
    current_month = month_start(data_date)
    months = policy.tiers.downgrade_months
    first = add_months(current_month, -months)
    line = case(*[(Customer.tier == row.name, row.min_fen) for row in policy.tiers.ladder], else_=0)
    latest = aliased(AumMonthly, name="latest")
    ok = aliased(AumMonthly, name="ok")
    below = aliased(AumMonthly, name="below")
    last_ok = (
        select(func.max(ok.month)).where(ok.customer_id == Customer.id, ok.month >= first, ok.month < current_month,
                                         ok.avg_daily_fen >= line).correlate(Customer).scalar_subquery()
    )
    months_below = (
        select(func.count()).where(below.customer_id == Customer.id, below.month >= first, below.month < current_month,
                                   or_(last_ok.is_(None), below.month > last_ok)).correlate(Customer).scalar_subquery()
    ).label("months_below")
    stmt = (
        select(branch_id.label("branch_id"), branch.name, Customer.rm_id, Staff.name, Customer.id, Customer.name,
               Customer.tier, line.label("line"), latest.avg_daily_fen, months_below)
        .select_from(Customer)
        .join(latest, and_(latest.customer_id == Customer.id, latest.month == add_months(current_month, -1)))
        .join(org, org.id == Customer.org_id)
        .join(branch, branch.id == branch_id)
        .join(Staff, Staff.id == Customer.rm_id)
        .where(Customer.kind == "individual", Customer.tier.is_not(None), latest.avg_daily_fen < line)
        .order_by(branch_id, Customer.rm_id, months_below.desc(), Customer.id)
    )
    for row in _stream(session, _scoped(stmt, scope, org, branch_id)):
        yield DowngradeRow(*row)


def branches(session: Session, branch_ids: Sequence[str] | None = None) -> list[tuple[str, str]]:
    stmt = select(Org.id, Org.name).where(Org.level == "sub_branch").order_by(Org.id)
    if branch_ids:
        stmt = stmt.where(Org.id.in_(branch_ids))
    return [(r[0], r[1]) for r in session.execute(stmt)]


def days_until(d: date, today: date) -> int:
    return (d - today).days


