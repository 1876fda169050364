"""The current data date, decided in ONE place, and the completeness check that guards it.

Every answer, push and campaign reads its figures "as of the data date". A new balance date must
not become that date on the strength of a partial file (one row of a 400-customer bank turned
`/churn` from 15 customers into 1 and a branch's 金融资产 into 0.10万). So:

* `current_date_select()` / `current_data_date()` are the only definition of the current data
  date: the newest loaded date that is not marked `partial` in `data_day`.
* `assess_balances()` runs inside the import's transaction after a balance file landed: a date
  newer than the current one (or one still partial) is measured against the previous data date
  with two set-based counts (`balance` is keyed by (customer_id, as_of) and indexed on as_of) and
  recorded as complete, partial, or allowed (partial, accepted by `--allow-partial`). A top-up
  import for the same date measures again and promotes it once complete.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from bot.clock import now as clock_now
from bot.store.models import Balance, DataDay, DataLoad

COMPLETE = "complete"
PARTIAL = "partial"
ALLOWED = "allowed"


def _partial_days() -> ColumnElement[bool]:
    return DataLoad.data_date.not_in(select(DataDay.day).where(DataDay.status == PARTIAL))


def current_date_select() -> ColumnElement[date]:
    """The current data date as a scalar subquery, for statements that embed it."""
    return select(func.max(DataLoad.data_date)).where(_partial_days()).scalar_subquery()


def current_data_date(db: Session | Connection) -> date | None:
    """The newest loaded data date that is not a partial load (None before any load)."""
    return db.execute(select(func.max(DataLoad.data_date)).where(_partial_days())).scalar_one_or_none()


@dataclass(frozen=True)
class Coverage:
    """How complete one balance date's load is, against the previous data date."""

    day: date
    previous: date | None
    covered: int
    expected: int
    threshold: Decimal
    status: str
    promoted: bool = False
    """The date was partial before this import and is not any more (a top-up completed it)."""

    @property
    def ratio(self) -> Decimal | None:
        return None if self.expected == 0 else Decimal(self.covered) / Decimal(self.expected)

    def describe(self) -> str:
        """Chinese first: the counts and the share, for the operator."""
        if self.ratio is None:
            return f"{self.day} 余额覆盖 {self.covered} 户（无上一数据日期可比）"
        pct = (self.ratio * 100).quantize(Decimal("0.1"))
        need = (self.threshold * 100).normalize()
        return (f"{self.day} 余额覆盖 {self.covered} / {self.expected} 户 = {pct}%"
                f"（上一数据日期 {self.previous}，要求 ≥ {need}%）")


def assess_balances(conn: Connection, day: date, before: date | None, threshold: Decimal,
                    allow_partial: bool, source: str) -> Coverage | None:
    """Decides whether `day` may become current; `before` is the current date before this import.
    None when `day` is not a new date (a re-sent or older day changes nothing here)."""
    known = conn.execute(select(DataDay.status).where(DataDay.day == day)).scalar_one_or_none()
    if known != PARTIAL and before is not None and day <= before:
        return None
    previous = conn.execute(select(func.max(DataLoad.data_date))
                            .where(DataLoad.data_date < day, _partial_days())).scalar_one_or_none()
    covered = _customers_on(conn, day)
    expected = _customers_on(conn, previous) if previous is not None else 0
    complete = expected == 0 or Decimal(covered) >= threshold * expected
    status = COMPLETE if complete else ALLOWED if allow_partial else PARTIAL
    values = {"status": status, "covered": covered, "expected": expected, "previous": previous,
              "decided_at": clock_now(), "source": source[:200]}
    if known is None:
        conn.execute(DataDay.__table__.insert().values(day=day, **values))  # type: ignore[attr-defined]
    else:
        conn.execute(DataDay.__table__.update().where(DataDay.day == day).values(**values))  # type: ignore[attr-defined]
    return Coverage(day, previous, covered, expected, threshold, status, promoted=known == PARTIAL and
                    status != PARTIAL)


def _customers_on(conn: Connection, day: date) -> int:
    """Distinct customers with a balance row on `day` (the key makes count(*) distinct)."""
    return int(conn.execute(select(func.count()).select_from(Balance).where(Balance.as_of == day)).scalar_one())
