"""Manager summary figures (docs/DOMAIN.md §7) as set-based SQL, each with the date it is true on.

Definitions (the 口径 the reply repeats, so nobody has to guess):

* **Snapshots.** Stock figures are read at a *snapshot*: a day with point-in-time balances
  (`balance.as_of`) or the end of a complete month (`aum_monthly.month_end_fen`, months before
  the latest data date's month). The closing snapshot is the latest one on or before the
  period's end (and the data date); the opening one is the latest strictly before the period
  starts (and before the closing one), so 今日 compares with the previous snapshot.
* **Tiers held** are `customer.tier` (individuals), as of the latest data load.
* **升档/降档** are the changes of the *held* tier the daily tier run recorded (`tier_history`,
  bot/store/tier_run.py, 快升缓降) with a run date within the period: customers moved up / down.
* **Tier movement by AUM** compares the ladder row (`rules/tiering.py ladder_row`) of each individual's
  AUM at the opening and the closing snapshot. It is what the money did, without 缓降, so it
  can differ from the held tier. A customer with no opening figure "entered".
* **High-net-worth conversion**: HNW rows are the ladder rows whose line is at least
  the policy's `tiers.hnw_min_yuan` (by default 私人银行客户 and 贵宾客户, the RM-served rows of §2). The rate is the
  share of the customers of the row just below the lowest HNW line at the opening snapshot who
  are HNW at the closing one; `hnw_new` counts every customer who became HNW.
* **New customers**: `opened_on` within the period (up to today), individual and corporate.
* **AUM**: sum of individuals' AUM at each snapshot; change = closing − opening.
* **沉睡** follows `/tier` (`rules/behaviour.py`): AUM at the closing snapshot below the policy
  line, no contact for more than `dormant_no_contact_days` days (counted from today when the
  closing snapshot is the data date, else from the day after it), and AUM below the month-end
  nearest to `dormant_outflow_days` before it (`rules.behaviour.outflow_reference_month`).
* **Churn** counts come from `push_lists._churn_select` at the latest balance day of the period,
  so they equal `/churn` and the 流失预警 push. *Handled* = the item (its ref, level included) has
  a follow-up, as the push's "handled" means.
* **Churn cases** (§3 flagged → contacted → recovered or lost): a customer with a follow-up on a
  `churn:` ref, or on the churn list now. A case was *first flagged* on the earliest of its first
  churn follow-up, the first 流失预警 outbox row naming it, and (for cases on the list with
  neither) the snapshot day. *Recovered*: off the list now and AUM above the watch ratio of the
  baseline it had when flagged (highest month-end of the `baseline_months` months before the
  flag's month; the rolling baseline would forget a fall after three months). *Lost*: not
  recovered and the latest churn follow-up says 已流失. A case unrecovered `recovery_months`
  after its first flag is *overdue* and reported by 支行 with its manager.
* **Maturing**: the holdings `maturing_rows` lists (policy kinds) with a maturity date within the
  whole period; each counted by the latest follow-up of its item. 承接率 = money marked 已承接 /
  money maturing.
* **Follow-up completion per RM**: the period's maturing items and the churn list's items; an
  item is done when it has any follow-up (the same test that keeps it out of the next push).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Literal

from sqlalchemy import (
    String,
    and_,
    case,
    cast,
    distinct,
    exists,
    func,
    literal,
    null,
    or_,
    select,
)
from sqlalchemy.sql import ColumnElement
from sqlmodel import Session

from bot.clock import SHANGHAI, add_months, month_start
from bot.store.customers import latest_data_date
from bot.store.models import (
    AumMonthly,
    Balance,
    Contact,
    Customer,
    Holding,
    Org,
    Outbox,
    Staff,
    TierHistory,
)
from bot.store.push_lists import SCALE, Scope, _branch_cols, _churn_select, _scoped
from bot.store.tier_run import CHANGES_UP
from rules.behaviour import outflow_reference_month
from rules.maturity import ratio_scaled
from rules.money import yuan_to_fen
from rules.policy import Policy

CHUNK = 500

# -- periods ---------------------------------------------------------------------------------

PeriodKind = Literal["today", "week", "last_week", "month", "last_month", "year_month"]
PERIOD_WORDS: dict[str, PeriodKind] = {
    "今日": "today", "今天": "today", "当日": "today", "today": "today",
    "本周": "week", "这周": "week", "week": "week",
    "上周": "last_week", "last-week": "last_week",
    "本月": "month", "当月": "month", "month": "month",
    "上月": "last_month", "last-month": "last_month",
}
_YEAR_MONTH = re.compile(r"^(\d{4})(?:[-/.年])?(\d{1,2})月?$")


@dataclass(frozen=True)
class Period:
    kind: PeriodKind
    start: date
    end: date
    """Inclusive calendar end; may lie after today for the current week or month."""

    @property
    def label(self) -> str:
        names = {"today": "今日", "week": "本周", "last_week": "上周", "month": "本月", "last_month": "上月"}
        if self.kind in ("month", "last_month", "year_month"):
            span = f"{self.start:%Y-%m}"
        elif self.start == self.end:
            span = f"{self.start}"
        else:
            span = f"{self.start} 至 {self.end:%m-%d}"
        return f"{names[self.kind]}（{span}）" if self.kind in names else span

    @property
    def slug(self) -> str:
        """For file names: 2026-11, 2026-11-16_2026-11-22, 2026-11-21."""
        if self.kind in ("month", "last_month", "year_month"):
            return f"{self.start:%Y-%m}"
        return f"{self.start}" if self.start == self.end else f"{self.start}_{self.end}"


def month_end(d: date) -> date:
    return add_months(month_start(d), 1) - timedelta(days=1)


def minus_months(d: date, months: int) -> date:
    """The same day `months` earlier, clamped to the month's last day (05-31 − 3 → 02-28)."""
    first = add_months(month_start(d), -months)
    return first.replace(day=min(d.day, month_end(first).day))


def parse_period(word: str | None, today: date) -> Period:
    """今日 | 本周 | 上周 | 本月 | 上月 | YYYY-MM (also 2026年11月, 202611); default 本月."""
    raw = (word or "本月").strip().lower()
    kind = PERIOD_WORDS.get(raw)
    monday = today - timedelta(days=today.weekday())
    if kind == "today":
        return Period(kind, today, today)
    if kind == "week":
        return Period(kind, monday, monday + timedelta(days=6))
    if kind == "last_week":
        return Period(kind, monday - timedelta(days=7), monday - timedelta(days=1))
    if kind == "month":
        return Period(kind, month_start(today), month_end(today))
    if kind == "last_month":
        first = add_months(month_start(today), -1)
        return Period(kind, first, month_end(first))
    m = _YEAR_MONTH.match(raw)
    if not m or not 1 <= int(m.group(2)) <= 12 or not 2000 <= int(m.group(1)) <= 2100:
        raise ValueError(f"无法识别的期间：{(word or '')[:20]}（可用 今日、本周、上周、本月、上月 或 YYYY-MM）")
    first = date(int(m.group(1)), int(m.group(2)), 1)
    if first > today:
        raise ValueError(f"{first:%Y-%m} 尚未开始，没有数据。That month has not started.")
    return Period("year_month", first, month_end(first))


# -- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    on: date
    source: Literal["balance", "month_end"]

    @property
    def label(self) -> str:
        return f"{self.on} 时点" if self.source == "balance" else f"{self.on:%Y-%m} 月末"


@dataclass
class TierFigures:
    held: list[tuple[str, int]]
    """(tier, individuals holding it), ladder order; customers without a tier under "未定级"."""
    opening: list[tuple[str, int]]
    closing: list[tuple[str, int]]
    """Ladder row of the AUM at each snapshot, ladder order."""
    moves: dict[tuple[str, str], int]
    """(from, to) → customers, for from ≠ to."""
    upgrades: int = 0
    downgrades: int = 0
    """Held-tier changes recorded by the daily tier run in the period (tier_history)."""
    asset_upgrades: int = 0
    asset_downgrades: int = 0
    """Customers whose AUM's ladder row rose / fell between the snapshots (no 缓降)."""
    entered: int = 0
    """Customers with a closing figure and no opening one (new, or no data before)."""
    hnw_names: tuple[str, ...] = ()
    hnw_base_name: str | None = None
    hnw_base: int = 0
    hnw_converted: int = 0
    hnw_new: int = 0

    @property
    def hnw_rate(self) -> float | None:
        return self.hnw_converted / self.hnw_base if self.hnw_base else None


@dataclass
class AumFigures:
    opening_fen: int = 0
    closing_fen: int = 0
    customers: int = 0
    """Individuals with an AUM figure at the closing snapshot."""
    trend: list[tuple[Snapshot, int]] = field(default_factory=list)

    @property
    def change_fen(self) -> int:
        return self.closing_fen - self.opening_fen


@dataclass(frozen=True)
class OverdueBranch:
    branch_id: str
    branch_name: str
    managers: str
    cases: int
    oldest_flag: date


@dataclass
class ChurnFigures:
    as_of: date | None = None
    watch: int = 0
    """At ≤ watch ratio but above the warning ratio (关注)."""
    warning: int = 0
    handled: int = 0
    cases: int = 0
    new_cases: int = 0
    """Cases first flagged within the period."""
    recovered: int = 0
    lost: int = 0
    overdue: list[OverdueBranch] = field(default_factory=list)

    @property
    def listed(self) -> int:
        return self.watch + self.warning

    @property
    def overdue_cases(self) -> int:
        return sum(b.cases for b in self.overdue)


@dataclass
class MaturingFigures:
    start: date
    end: date
    items: int = 0
    total_fen: int = 0
    by_outcome: dict[str, tuple[int, int]] = field(default_factory=dict)
    """latest follow-up outcome ("retained", "contacted", "lost", "" for none) → (items, fen)."""
    customers: int = 0
    """Distinct customers holding the maturing items (a group sees a sum over few as a band)."""
    customers_by_outcome: dict[str, int] = field(default_factory=dict)

    def fen(self, outcome: str) -> int:
        return self.by_outcome.get(outcome, (0, 0))[1]

    @property
    def rate(self) -> float | None:
        """承接率: money marked 已承接 over money maturing."""
        return self.fen("retained") / self.total_fen if self.total_fen else None


@dataclass
class RmFollowup:
    rm_id: str
    rm_name: str
    branch_id: str
    maturing: int = 0
    maturing_done: int = 0
    churn: int = 0
    churn_done: int = 0

    @property
    def total(self) -> int:
        return self.maturing + self.churn

    @property
    def done(self) -> int:
        return self.maturing_done + self.churn_done

    @property
    def open(self) -> int:
        return self.total - self.done


@dataclass
class BranchRow:
    branch_id: str
    branch_name: str
    customers: int = 0
    opening_fen: int = 0
    closing_fen: int = 0
    churn_listed: int = 0
    churn_warning: int = 0
    maturing_fen: int = 0
    retained_fen: int = 0
    items: int = 0
    done: int = 0


@dataclass
class Summary:
    period: Period
    data_date: date | None
    opening: Snapshot | None
    closing: Snapshot | None
    tiers: TierFigures
    aum: AumFigures
    new_individual: int
    new_corporate: int
    new_until: date
    dormant: int | None
    """None when there is no closing snapshot."""
    dormant_ref_day: date | None
    churn: ChurnFigures
    maturing: MaturingFigures
    followups: list[RmFollowup]
    """RMs with items, most open items first."""
    branches: list[BranchRow]

    @property
    def empty(self) -> bool:
        return self.closing is None and not self.maturing.items and not (self.new_individual + self.new_corporate)


# -- the figures -----------------------------------------------------------------------------


def build_summary(session: Session, policy: Policy, scope: Scope, period: Period, today: date) -> Summary:
    """Every figure of the summary for `scope` (see the module docstring for definitions)."""
    data_date = latest_data_date(session)
    closing = opening = None
    if data_date is not None:
        closing, opening = _snapshots(session, period, data_date)
    tiers, aum, per_branch = _tiers_and_aum(session, policy, scope, opening, closing)
    tiers.upgrades, tiers.downgrades = _held_moves(session, scope, period.start, min(period.end, today))
    aum.trend = _trend(session, scope, closing, aum.closing_fen, data_date)
    new_until = min(period.end, today)
    new_ind, new_corp = _new_customers(session, scope, period.start, new_until)
    dormant = ref_day = None
    if closing is not None:
        ref_day = today if closing.on == data_date else closing.on + timedelta(days=1)
        dormant = _dormant(session, policy, scope, closing, ref_day)
    churn_day = _balance_day(session, min(period.end, data_date)) if data_date else None
    churn, churn_by_rm = _churn(session, policy, scope, churn_day, period)
    maturing, maturing_by_rm, maturing_by_branch = _maturing(session, policy, scope, period)
    followups = _followups(session, maturing_by_rm, churn_by_rm)
    branches = _branch_rows(session, per_branch, churn_day, policy, scope, maturing_by_branch, followups)
    return Summary(period, data_date, opening, closing, tiers, aum, new_ind, new_corp, new_until, dormant,
                   ref_day, churn, maturing, followups, branches)


def _loaded_months(session: Session, data_date: date) -> list[date]:
    """The complete months with AUM data. A scan of the whole monthly table, so it is done once
    per session: the weekly push builds a summary for every org in one session."""
    key = ("rmbot.loaded_months", data_date)
    if key not in session.info:
        session.info[key] = sorted(m for (m,) in session.execute(
            select(AumMonthly.month).where(AumMonthly.month < month_start(data_date)).distinct()))
    return session.info[key]


def _snapshots(session: Session, period: Period, data_date: date) -> tuple[Snapshot | None, Snapshot | None]:
    months = _loaded_months(session, data_date)

    def latest(on_or_before: date) -> Snapshot | None:
        bal = session.execute(select(func.max(Balance.as_of)).where(Balance.as_of <= on_or_before)).scalar()
        ends = [month_end(m) for m in months if month_end(m) <= on_or_before]
        candidates = [Snapshot(bal, "balance")] if bal else []
        if ends:
            candidates.append(Snapshot(ends[-1], "month_end"))
        # the latest day wins; on a tie the point-in-time balance (listed first) is kept
        return max(candidates, key=lambda s: s.on, default=None)

    closing = latest(min(period.end, data_date))
    if closing is None:
        return None, None
    return closing, latest(min(period.start, closing.on) - timedelta(days=1))


def _balance_day(session: Session, on_or_before: date) -> date | None:
    return session.execute(select(func.max(Balance.as_of)).where(Balance.as_of <= on_or_before)).scalar()


def _positions(snap: Snapshot, name: str) -> object:
    if snap.source == "balance":
        return (select(Balance.customer_id.label("cid"), Balance.aum_fen.label("fen"))
                .where(Balance.as_of == snap.on).subquery(name))
    return (select(AumMonthly.customer_id.label("cid"), AumMonthly.month_end_fen.label("fen"))
            .where(AumMonthly.month == month_start(snap.on)).subquery(name))


def _rank(fen: ColumnElement, policy: Policy) -> ColumnElement:
    """Index of the ladder row (0 = highest) the amount falls in; NULL without an amount."""
    ladder = policy.tiers.ladder
    whens = [(fen.is_(None), null())] + [(fen >= row.min_fen, literal(i)) for i, row in enumerate(ladder)]
    return case(*whens, else_=literal(len(ladder) - 1))


def _tiers_and_aum(session: Session, policy: Policy, scope: Scope, opening: Snapshot | None,
                   closing: Snapshot | None) -> tuple[TierFigures, AumFigures, dict[str, BranchRow]]:
    ladder = [row.name for row in policy.tiers.ladder]
    org, _branch, branch_id = _branch_cols()
    held_stmt = _scoped(
        select(branch_id.label("b"), func.coalesce(Customer.tier, "未定级").label("tier"))  # type: ignore[attr-defined]
        .select_from(Customer).join(org, org.id == Customer.org_id).where(Customer.kind == "individual"),
        scope, org, branch_id).subquery("held")
    held_counts: dict[str, int] = defaultdict(int)
    per_branch: dict[str, BranchRow] = {}
    for b, tier, n in session.execute(select(held_stmt.c.b, held_stmt.c.tier, func.count())
                                      .group_by(held_stmt.c.b, held_stmt.c.tier)):
        held_counts[tier] += int(n)
        per_branch.setdefault(b, BranchRow(b, "")).customers += int(n)
    extra = sorted(t for t in held_counts if t not in ladder)
    held = [(t, held_counts.get(t, 0)) for t in ladder] + [(t, held_counts[t]) for t in extra]

    tiers = TierFigures(held, [(t, 0) for t in ladder], [(t, 0) for t in ladder], {})
    aum = AumFigures()
    hnw_rows = [i for i, row in enumerate(policy.tiers.ladder) if row.min_fen >= yuan_to_fen(policy.tiers.hnw_min_yuan)]
    tiers.hnw_names = tuple(ladder[i] for i in hnw_rows)
    base_row = max(hnw_rows) + 1 if hnw_rows and max(hnw_rows) + 1 < len(ladder) else None
    tiers.hnw_base_name = ladder[base_row] if base_row is not None else None
    if closing is None:
        return tiers, aum, per_branch

    close_pos = _positions(closing, "pc")
    open_pos = _positions(opening, "po") if opening is not None else None
    open_fen = open_pos.c.fen if open_pos is not None else null()  # type: ignore[attr-defined]
    org, _branch, branch_id = _branch_cols()
    inner = (select(branch_id.label("b"), _rank(open_fen, policy).label("ro"),
                    _rank(close_pos.c.fen, policy).label("rc"),  # type: ignore[attr-defined]
                    func.coalesce(open_fen, 0).label("fo"), func.coalesce(close_pos.c.fen, 0).label("fc"),  # type: ignore[attr-defined]
                    case((close_pos.c.fen.is_(None), 0), else_=1).label("has_c"))  # type: ignore[attr-defined]
             .select_from(Customer).join(org, org.id == Customer.org_id)
             .outerjoin(close_pos, close_pos.c.cid == Customer.id))  # type: ignore[attr-defined]
    present = close_pos.c.cid.is_not(None)  # type: ignore[attr-defined]
    if open_pos is not None:
        inner = inner.outerjoin(open_pos, open_pos.c.cid == Customer.id)  # type: ignore[attr-defined]
        present = or_(present, open_pos.c.cid.is_not(None))  # type: ignore[attr-defined]
    # grouped in an outer query: PostgreSQL would not match the CASE expressions' parameters
    mv = _scoped(inner.where(Customer.kind == "individual", present), scope, org, branch_id).subquery("mv")
    grouped = select(mv.c.b, mv.c.ro, mv.c.rc, func.count(), func.sum(mv.c.fo), func.sum(mv.c.fc),
                     func.sum(mv.c.has_c)).group_by(mv.c.b, mv.c.ro, mv.c.rc)
    opening_n = [0] * len(ladder)
    closing_n = [0] * len(ladder)
    for b, ro, rc, n, fo, fc, has_c in session.execute(grouped):
        n, fo, fc = int(n), int(fo or 0), int(fc or 0)
        aum.opening_fen += fo
        aum.closing_fen += fc
        aum.customers += int(has_c or 0)
        row = per_branch.setdefault(b, BranchRow(b, ""))
        row.opening_fen += fo
        row.closing_fen += fc
        if ro is not None:
            opening_n[ro] += n
        if rc is not None:
            closing_n[rc] += n
        if ro is None and rc is not None:
            tiers.entered += n
        if ro is None or rc is None or ro == rc:
            continue
        key = (ladder[ro], ladder[rc])
        tiers.moves[key] = tiers.moves.get(key, 0) + n
        if rc < ro:
            tiers.asset_upgrades += n
        else:
            tiers.asset_downgrades += n
        if rc in hnw_rows and ro not in hnw_rows:
            tiers.hnw_new += n
            if ro == base_row:
                tiers.hnw_converted += n
    # the conversion base: everyone in the row below the HNW line at the opening snapshot
    if base_row is not None:
        tiers.hnw_base = opening_n[base_row]
    tiers.opening = list(zip(ladder, opening_n))
    tiers.closing = list(zip(ladder, closing_n))
    return tiers, aum, per_branch


def _held_moves(session: Session, scope: Scope, start: date, end: date) -> tuple[int, int]:
    """(customers upgraded, customers downgraded) by the tier run from `start` to `end`."""
    org, _branch, branch_id = _branch_cols()
    up = case((TierHistory.change.in_(CHANGES_UP), TierHistory.customer_id))
    down = case((TierHistory.change == "downgrade", TierHistory.customer_id))
    stmt = _scoped(select(func.count(func.distinct(up)), func.count(func.distinct(down)))
                   .select_from(TierHistory).join(Customer, Customer.id == TierHistory.customer_id)
                   .join(org, org.id == Customer.org_id)  # type: ignore[attr-defined]
                   .where(TierHistory.run_date >= start, TierHistory.run_date <= end), scope, org, branch_id)
    ups, downs = session.execute(stmt).one()
    return int(ups or 0), int(downs or 0)


def _trend(session: Session, scope: Scope, closing: Snapshot | None, closing_fen: int,
           data_date: date | None, months: int = 6) -> list[tuple[Snapshot, int]]:
    """Month-end AUM of up to `months` complete months before the closing snapshot, then it."""
    if closing is None or data_date is None:
        return []
    last = month_start(closing.on) if closing.source == "month_end" else add_months(month_start(closing.on), -1)
    last = min(last, add_months(month_start(data_date), -1))
    first = add_months(last, -(months - 1))
    org, _branch, branch_id = _branch_cols()
    stmt = _scoped(
        select(AumMonthly.month, func.sum(AumMonthly.month_end_fen))
        .select_from(AumMonthly).join(Customer, Customer.id == AumMonthly.customer_id)
        .join(org, org.id == Customer.org_id)
        .where(Customer.kind == "individual", AumMonthly.month >= first, AumMonthly.month <= last),
        scope, org, branch_id).group_by(AumMonthly.month).order_by(AumMonthly.month)
    points = [(Snapshot(month_end(m), "month_end"), int(total or 0)) for m, total in session.execute(stmt)]
    if closing.source == "balance":
        points.append((closing, closing_fen))
    return points


def _new_customers(session: Session, scope: Scope, start: date, end: date) -> tuple[int, int]:
    if end < start:
        return 0, 0
    org, _branch, branch_id = _branch_cols()
    stmt = _scoped(select(Customer.kind, func.count()).select_from(Customer).join(org, org.id == Customer.org_id)
                   .where(Customer.opened_on.between(start, end)), scope, org, branch_id).group_by(Customer.kind)
    counts = {kind: int(n) for kind, n in session.execute(stmt)}
    return counts.get("individual", 0), counts.get("corporate", 0)


def _dormant(session: Session, policy: Policy, scope: Scope, closing: Snapshot, ref_day: date) -> int:
    b = policy.behaviour
    pos = _positions(closing, "pd")
    before_month = outflow_reference_month(closing.on, b)  # as /tier and the campaign audience
    quiet_since = datetime.combine(ref_day - timedelta(days=b.dormant_no_contact_days), time.min, SHANGHAI)
    org, _branch, branch_id = _branch_cols()
    stmt = _scoped(
        select(func.count()).select_from(Customer).join(org, org.id == Customer.org_id)
        .join(pos, pos.c.cid == Customer.id)  # type: ignore[attr-defined]
        .join(AumMonthly, and_(AumMonthly.customer_id == Customer.id, AumMonthly.month == before_month))
        .where(Customer.kind == "individual",
               pos.c.fen < yuan_to_fen(b.dormant_max_aum_yuan),  # type: ignore[attr-defined]
               pos.c.fen < AumMonthly.month_end_fen,  # type: ignore[attr-defined]
               ~exists().where(Contact.customer_id == Customer.id, Contact.at >= quiet_since)),
        scope, org, branch_id)
    return int(session.execute(stmt).scalar() or 0)


# -- churn -----------------------------------------------------------------------------------


@dataclass
class _Case:
    cid: str
    branch_id: str
    first_flag: date
    latest_outcome: str | None
    on_list: bool
    current_fen: int | None


def _churn(session: Session, policy: Policy, scope: Scope, day: date | None,
           period: Period) -> tuple[ChurnFigures, dict[tuple[str, str], list[int]]]:
    """Counts from the churn push's own statement; cases from the follow-up log and the outbox."""
    figures = ChurnFigures(as_of=day)
    by_rm: dict[tuple[str, str], list[int]] = {}
    if day is None:
        return figures, by_rm
    stmt, org, branch_id, (_base, level) = _churn_select(policy, day, scope)
    handled = exists().where(Contact.ref == literal("churn:") + Customer.id + literal(":") + level)  # type: ignore[operator]
    listed = _scoped(stmt.add_columns(case((handled, 1), else_=0).label("handled")), scope, org, branch_id)
    sub = listed.subquery("cl")
    for b, rm, lvl, n, done in session.execute(
            select(sub.c.branch_id, sub.c.rm_id, sub.c.level, func.count(), func.sum(sub.c.handled))
            .group_by(sub.c.branch_id, sub.c.rm_id, sub.c.level)):
        n, done = int(n), int(done or 0)
        if lvl == "warning":
            figures.warning += n
        else:
            figures.watch += n
        figures.handled += done
        counts = by_rm.setdefault((b, rm), [0, 0])
        counts[0] += n
        counts[1] += done
    cases = _cases(session, policy, scope, day, sub)
    figures.cases = len(cases)
    watch = ratio_scaled(policy.churn.watch_ratio, SCALE)
    baselines = _flag_baselines(session, policy, cases)
    overdue_line = minus_months(day, policy.churn.recovery_months)
    overdue: dict[str, list[date]] = defaultdict(list)
    for case_ in cases:
        if period.start <= case_.first_flag <= period.end:
            figures.new_cases += 1
        base = baselines.get(case_.cid)
        recovered = (not case_.on_list and case_.current_fen is not None
                     and (base is None or case_.current_fen * SCALE > base * watch))
        if recovered:
            figures.recovered += 1
            continue
        if case_.latest_outcome == "lost":
            figures.lost += 1
        if case_.first_flag <= overdue_line:
            overdue[case_.branch_id].append(case_.first_flag)
    figures.overdue = _named_branches(session, overdue)
    return figures, by_rm


def _cases(session: Session, policy: Policy, scope: Scope, day: date, listed: object) -> list[_Case]:
    org, _branch, branch_id = _branch_cols()
    ranked = (select(Contact.customer_id.label("cid"), Contact.outcome.label("outcome"), Contact.at.label("at"),
                     func.row_number().over(partition_by=Contact.customer_id,
                                            order_by=(Contact.at.desc(), Contact.id.desc())).label("rn"),
                     func.min(Contact.at).over(partition_by=Contact.customer_id).label("first_at"))
              .where(Contact.ref.like("churn:%")).subquery("cc"))
    contacted = _scoped(
        select(ranked.c.cid, branch_id.label("b"), ranked.c.first_at, ranked.c.outcome)
        .select_from(ranked).join(Customer, Customer.id == ranked.c.cid).join(org, org.id == Customer.org_id)
        .where(ranked.c.rn == 1), scope, org, branch_id)
    cases: dict[str, _Case] = {}
    for cid, b, first_at, outcome in session.execute(contacted):
        cases[cid] = _Case(cid, b, first_at.date(), outcome, False, None)
    for cid, b in session.execute(select(listed.c.id, listed.c.branch_id)):  # type: ignore[attr-defined]
        if cid in cases:
            cases[cid].on_list = True
        else:
            cases[cid] = _Case(cid, b, day, None, True, None)
    ids = sorted(cases)
    for i in range(0, len(ids), CHUNK):
        chunk = ids[i:i + CHUNK]
        for cid, fen in session.execute(select(Balance.customer_id, Balance.aum_fen)
                                        .where(Balance.as_of == day, Balance.customer_id.in_(chunk))):
            cases[cid].current_fen = int(fen)
    _first_pushed(session, cases, day)
    return list(cases.values())


_PUSHED_REF = re.compile(r'"churn:([^":]+):(?:watch|warning)"')


def _first_pushed(session: Session, cases: dict[str, _Case], until: date) -> None:
    """Move each case's first flag back to the first 流失预警 push that listed it.

    One pass over the churn outbox rows of the cases' 支行, oldest first, reading the item refs
    out of the payloads, and stopping once every case was seen: a LIKE per customer would read
    every payload once per customer. Only items not yet handled are pushed, so a case nobody
    ever followed up is found here (and becomes overdue) however long it has been ignored.
    """
    waiting = set(cases)
    branches = sorted({c.branch_id for c in cases.values()})
    if not waiting:
        return
    stmt = (select(Outbox.push_date, Outbox.payload)
            .where(Outbox.kind == "churn", Outbox.org_id.in_(branches), Outbox.push_date <= until)
            .order_by(Outbox.push_date, Outbox.id).execution_options(yield_per=200))
    result = session.execute(stmt)
    try:
        for push_date, payload in result:
            for cid in set(_PUSHED_REF.findall(payload)) & waiting:
                waiting.discard(cid)
                cases[cid].first_flag = min(cases[cid].first_flag, push_date)
            if not waiting:
                break
    finally:
        result.close()


def _flag_baselines(session: Session, policy: Policy, cases: Sequence[_Case]) -> dict[str, int]:
    """Each case's baseline when first flagged: one statement per distinct flag month."""
    by_month: dict[date, list[str]] = defaultdict(list)
    for c in cases:
        if not c.on_list:  # on the list means unrecovered whatever the baseline
            by_month[month_start(c.first_flag)].append(c.cid)
    out: dict[str, int] = {}
    n = policy.churn.baseline_months
    for month, ids in by_month.items():
        for i in range(0, len(ids), CHUNK):
            stmt = (select(AumMonthly.customer_id, func.max(AumMonthly.month_end_fen))
                    .where(AumMonthly.customer_id.in_(ids[i:i + CHUNK]), AumMonthly.month >= add_months(month, -n),
                           AumMonthly.month < month).group_by(AumMonthly.customer_id))
            out.update({cid: int(v) for cid, v in session.execute(stmt) if v is not None})
    return out


def _named_branches(session: Session, overdue: dict[str, list[date]]) -> list[OverdueBranch]:
    if not overdue:
        return []
    names = dict(session.execute(select(Org.id, Org.name).where(Org.id.in_(list(overdue)))).all())
    managers: dict[str, list[str]] = defaultdict(list)
    for org_id, name in session.execute(select(Staff.org_id, Staff.name).where(
            Staff.org_id.in_(list(overdue)), Staff.role == "branch_manager", Staff.active.is_(True)).order_by(Staff.id)):
        managers[org_id].append(name)
    rows = [OverdueBranch(b, names.get(b, b), "、".join(managers.get(b, [])) or "—", len(days), min(days))
            for b, days in overdue.items()]
    return sorted(rows, key=lambda r: (-r.cases, r.branch_id))


# -- maturing and follow-ups ------------------------------------------------------------------


def _maturing(session: Session, policy: Policy, scope: Scope, period: Period) -> tuple[
        MaturingFigures, dict[tuple[str, str], list[int]], dict[str, list[int]]]:
    """The maturing push's rows (same joins and kinds), counted by their latest follow-up."""
    figures = MaturingFigures(period.start, period.end)
    org, branch, branch_id = _branch_cols()
    latest = (select(Contact.ref.label("ref"), Contact.outcome.label("outcome"),
                     func.row_number().over(partition_by=Contact.ref,
                                            order_by=(Contact.at.desc(), Contact.id.desc())).label("rn"))
              .where(Contact.ref.like("maturing:%")).subquery("lf"))
    ref = literal("maturing:") + cast(Holding.id, String)
    rows = _scoped(
        select(branch_id.label("b"), Customer.rm_id.label("rm"), func.coalesce(latest.c.outcome, "").label("outcome"),
               Holding.amount_fen.label("fen"), Customer.id.label("c"))
        .select_from(Holding)
        .join(Customer, Customer.id == Holding.customer_id)
        .join(org, org.id == Customer.org_id)
        .join(branch, branch.id == branch_id)
        .join(Staff, Staff.id == Customer.rm_id)
        .outerjoin(latest, and_(latest.c.ref == ref, latest.c.rn == 1))
        .where(Holding.maturity_date.between(period.start, period.end), Holding.kind.in_(policy.maturity.kinds)),
        scope, org, branch_id).subquery("mt")
    by_rm: dict[tuple[str, str], list[int]] = {}
    by_branch: dict[str, list[int]] = {}
    stmt = select(rows.c.b, rows.c.rm, rows.c.outcome, func.count(), func.sum(rows.c.fen)).group_by(
        rows.c.b, rows.c.rm, rows.c.outcome)
    for b, rm, outcome, n, fen in session.execute(stmt):
        n, fen = int(n), int(fen or 0)
        figures.items += n
        figures.total_fen += fen
        items, money = figures.by_outcome.get(outcome, (0, 0))
        figures.by_outcome[outcome] = (items + n, money + fen)
        counts = by_rm.setdefault((b, rm), [0, 0])
        counts[0] += n
        counts[1] += n if outcome else 0
        money_row = by_branch.setdefault(b, [0, 0])
        money_row[0] += fen
        money_row[1] += fen if outcome == "retained" else 0
    if figures.items:  # distinct customers, for the masking policy's few-customers rule
        figures.customers = int(session.execute(select(func.count(distinct(rows.c.c)))).scalar_one())
        figures.customers_by_outcome = {o: int(n) for o, n in session.execute(
            select(rows.c.outcome, func.count(distinct(rows.c.c))).group_by(rows.c.outcome))}
    return figures, by_rm, by_branch


def _followups(session: Session, maturing: dict[tuple[str, str], list[int]],
               churn: dict[tuple[str, str], list[int]]) -> list[RmFollowup]:
    keys = set(maturing) | set(churn)
    if not keys:
        return []
    names = dict(session.execute(select(Staff.id, Staff.name).where(Staff.id.in_(sorted({rm for _, rm in keys})))).all())
    out = []
    for b, rm in keys:
        m = maturing.get((b, rm), [0, 0])
        c = churn.get((b, rm), [0, 0])
        out.append(RmFollowup(rm, names.get(rm, rm), b, m[0], m[1], c[0], c[1]))
    return sorted(out, key=lambda r: (-r.open, -r.total, r.rm_id, r.branch_id))


def _branch_rows(session: Session, per_branch: dict[str, BranchRow], churn_day: date | None, policy: Policy,
                 scope: Scope, maturing: dict[str, list[int]], followups: Iterable[RmFollowup]) -> list[BranchRow]:
    if churn_day is not None:
        from bot.store.push_lists import churn_counts

        for b, (listed, warning) in churn_counts(session, policy, churn_day, scope).items():
            row = per_branch.setdefault(b, BranchRow(b, ""))
            row.churn_listed, row.churn_warning = listed, warning
    for b, (fen, retained) in maturing.items():
        row = per_branch.setdefault(b, BranchRow(b, ""))
        row.maturing_fen, row.retained_fen = fen, retained
    for f in followups:
        row = per_branch.setdefault(f.branch_id, BranchRow(f.branch_id, ""))
        row.items += f.total
        row.done += f.done
    if not per_branch:
        return []
    names = dict(session.execute(select(Org.id, Org.name).where(Org.id.in_(list(per_branch)))).all())
    for b, row in per_branch.items():
        row.branch_name = names.get(b, b)
    return [per_branch[b] for b in sorted(per_branch)]
