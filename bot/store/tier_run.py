"""The daily tier run: 快升缓降 applied to every individual customer in a few set-based statements.

`customer.tier` is the tier *held*. Without this run it only changes when an import sets it, so
a customer who reached 20万 stayed 潜力客户 and one below the line for a year stayed 贵宾客户.
The run is the SQL twin of `rules.tiering.classify_tier` (tests check they agree on generated
histories), with the same policy thresholds:

* basis = 月日均 of the latest *complete* month before the run date's month, else the latest
  point-in-time balance on or before the run date; customers with neither are left alone;
* upgrade at once when the basis or the point balance reaches a higher line (快升; the change is
  `fast_upgrade` when only the point balance got there); a customer without a (known) tier gets one (`new`);
* downgrade only when the held tier's line was missed by `tiers.downgrade_months` consecutive
  complete months (缓降), to the row of the basis.

Every change is one `tier_history` row keyed by (run date, customer): rerunning a day changes
nothing more (idempotent). Nothing is loaded into Python, so memory stays flat at 1,000,000
customers. Run it before the day's pushes (`PushService.build` does, `rmbot tier run` by hand).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, case, func, literal, null, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from bot.clock import month_start
from bot.store.models import AumMonthly, Balance, Customer, Staff, TierHistory
from bot.store.push_lists import ListRow, Scope, _branch_cols, _scoped, _stream
from rules.policy import TierPolicy

CHANGES_UP = ("upgrade", "fast_upgrade")


class TierRunOrderError(ValueError):
    """A later day was already run: running an earlier one would move tiers backwards in time."""


@dataclass(frozen=True)
class TierRunResult:
    run_date: date
    new: int
    upgrades: int
    downgrades: int


def _rank(fen: ColumnElement, policy: TierPolicy) -> ColumnElement:
    """Ladder row index (0 = highest) of an amount."""
    ladder = policy.ladder
    return case(*[(fen >= row.min_fen, literal(i)) for i, row in enumerate(ladder[:-1])],
                else_=literal(len(ladder) - 1))


def _held(col: ColumnElement, policy: TierPolicy, what: str) -> ColumnElement:
    """Rank or line of the held tier name; NULL for no tier or a name the ladder does not know
    (`policy.row` gives None for it, and the pure rule then assigns a tier as for a new customer)."""
    return case(*[(col == row.name, literal(i if what == "rank" else row.min_fen))
                  for i, row in enumerate(policy.ladder)], else_=null())


def run_tiers(session: Session, policy: TierPolicy, run_date: date) -> TierRunResult:
    """Apply 快升缓降 as of `run_date` and record the changes; commits nothing (the caller does)."""
    later = session.execute(select(func.max(TierHistory.run_date))).scalar()
    if later is not None and later > run_date:
        raise TierRunOrderError(f"{later} 的定级已运行，不能再运行更早的 {run_date}")
    current = month_start(run_date)
    held_rank = _held(Customer.tier, policy, "rank")
    held_line = _held(Customer.tier, policy, "line")

    bmax = (select(Balance.customer_id.label("cid"), func.max(Balance.as_of).label("d"))
            .where(Balance.as_of <= run_date).group_by(Balance.customer_id).subquery("bmax"))
    bal = (select(Balance.customer_id.label("cid"), Balance.aum_fen.label("fen"))
           .join(bmax, and_(bmax.c.cid == Balance.customer_id, bmax.c.d == Balance.as_of)).subquery("bal"))
    mmax = (select(AumMonthly.customer_id.label("cid"), func.max(AumMonthly.month).label("m"))
            .where(AumMonthly.month < current).group_by(AumMonthly.customer_id).subquery("mmax"))
    mon = (select(AumMonthly.customer_id.label("cid"), AumMonthly.avg_daily_fen.label("fen"))
           .join(mmax, and_(mmax.c.cid == AumMonthly.customer_id, mmax.c.m == AumMonthly.month)).subquery("mon"))
    # the latest complete month at or above the held line, then the complete months after it
    above = (select(AumMonthly.customer_id.label("cid"), func.max(AumMonthly.month).label("m"))
             .join(Customer, Customer.id == AumMonthly.customer_id)
             .where(AumMonthly.month < current, AumMonthly.avg_daily_fen >= held_line)
             .group_by(AumMonthly.customer_id).subquery("above"))
    below = (select(AumMonthly.customer_id.label("cid"), func.count().label("n"))
             .outerjoin(above, above.c.cid == AumMonthly.customer_id)
             .where(AumMonthly.month < current, AumMonthly.month > func.coalesce(above.c.m, date(1, 1, 1)))
             .group_by(AumMonthly.customer_id).subquery("below"))

    basis_fen = func.coalesce(mon.c.fen, bal.c.fen)
    point_fen = func.coalesce(bal.c.fen, mon.c.fen)
    best_fen = case((point_fen > basis_fen, point_fen), else_=basis_fen)
    d = (select(Customer.id.label("cid"), Customer.tier.label("held"), held_rank.label("hr"),
                held_line.label("hl"), case((mon.c.fen.is_(None), literal("point")), else_=literal("month_avg"))
                .label("basis"), basis_fen.label("bf"), bal.c.fen.label("pf"),
                _rank(basis_fen, policy).label("rb"), _rank(best_fen, policy).label("rt"),
                func.coalesce(below.c.n, 0).label("mb"))
         .select_from(Customer)
         .outerjoin(bal, bal.c.cid == Customer.id).outerjoin(mon, mon.c.cid == Customer.id)
         .outerjoin(below, below.c.cid == Customer.id)
         .where(Customer.kind == "individual", or_none(mon.c.fen, bal.c.fen)).subquery("d"))

    required = policy.downgrade_months
    up = d.c.hr.is_(None) | (d.c.rt < d.c.hr)
    down = and_(d.c.rb > d.c.hr, d.c.mb >= required)
    change = case((d.c.hr.is_(None), literal("new")),
                  (and_(d.c.rt < d.c.hr, d.c.rt != d.c.rb), literal("fast_upgrade")),
                  (d.c.rt < d.c.hr, literal("upgrade")),
                  else_=literal("downgrade"))
    to_rank = case((up, d.c.rt), else_=d.c.rb)
    names = case(*[(to_rank == i, literal(row.name)) for i, row in enumerate(policy.ladder)])
    lines = case(*[(to_rank == i, literal(row.min_fen)) for i, row in enumerate(policy.ladder)])
    line_fen = case((up, lines), else_=d.c.hl)
    pick = (select(literal(run_date), d.c.cid, d.c.held, names, change, d.c.basis, d.c.bf, d.c.pf, line_fen,
                   case((up, 0), else_=d.c.mb), literal(required))
            .where(up | down))
    # a rerun of the day skips what it recorded (ON CONFLICT DO NOTHING / OR IGNORE): a NOT EXISTS
    # on tier_history would rescan the pages this very INSERT is writing, once per row
    ins = (pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert)(TierHistory)
    session.execute(ins.on_conflict_do_nothing().from_select(
        ["run_date", "customer_id", "from_tier", "to_tier", "change", "basis", "basis_fen", "point_fen",
         "line_fen", "months_below", "months_required"], pick))

    if session.get_bind().dialect.name == "postgresql":
        # fresh rows: without statistics the planner loops over tier_history once per customer
        session.execute(text("ANALYZE tier_history"))
    # UPDATE … FROM (PostgreSQL, SQLite ≥ 3.33): one join, not a subquery per customer
    session.execute(update(Customer)
                    .where(TierHistory.customer_id == Customer.id, TierHistory.run_date == run_date,
                           TierHistory.to_tier != func.coalesce(Customer.tier, ""))
                    .values(tier=TierHistory.to_tier, tier_since=run_date)
                    .execution_options(synchronize_session=False))
    return tier_run_result(session, run_date)


def or_none(*cols: ColumnElement) -> ColumnElement:
    """True when any of the figures exists: a customer with no data at all is not tiered."""
    return func.coalesce(*cols).is_not(None)


def tier_run_result(session: Session, run_date: date) -> TierRunResult:
    counts = dict(session.execute(select(TierHistory.change, func.count()).where(TierHistory.run_date == run_date)
                                  .group_by(TierHistory.change)).all())
    return TierRunResult(run_date, int(counts.get("new", 0)),
                         int(sum(counts.get(c, 0) for c in CHANGES_UP)), int(counts.get("downgrade", 0)))


@dataclass(frozen=True)
class TierChangeRow(ListRow):
    """An upgrade or downgrade the run recorded, for the RM's next push."""

    from_tier: str
    to_tier: str
    change: str
    basis: str
    basis_fen: int
    point_fen: int | None
    line_fen: int
    months_below: int
    months_required: int


def tier_change_rows(session: Session, run_date: date, scope: Scope | None = None) -> Iterator[TierChangeRow]:
    """The day's upgrades and downgrades by branch and RM, streamed. A first tier (`new`) is not
    news to the RM and is left out."""
    org, branch, branch_id = _branch_cols()
    stmt = (select(branch_id.label("branch_id"), branch.name, Customer.rm_id, Staff.name, Customer.id, Customer.name,  # type: ignore[attr-defined]
                   TierHistory.from_tier, TierHistory.to_tier, TierHistory.change, TierHistory.basis,
                   TierHistory.basis_fen, TierHistory.point_fen, TierHistory.line_fen, TierHistory.months_below, TierHistory.months_required)
            .select_from(TierHistory).join(Customer, Customer.id == TierHistory.customer_id)
            .join(org, org.id == Customer.org_id).join(branch, branch.id == branch_id)  # type: ignore[attr-defined]
            .join(Staff, Staff.id == Customer.rm_id)
            .where(TierHistory.run_date == run_date, TierHistory.change != "new")
            .order_by(branch_id, Customer.rm_id, TierHistory.change, Customer.id))
    for row in _stream(session, _scoped(stmt, scope, org, branch_id)):
        yield TierChangeRow(*row)
