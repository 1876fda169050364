"""Reads behind `/tier`: one customer's profile in a handful of indexed queries.

Each query hits a primary key or an index on customer_id, so a lookup stays in milliseconds on
a million-customer bank; nothing here scans the customer table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from datetime import date

from sqlalchemy import Integer, Select, and_, bindparam, func, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from bot.clock import month_start
from bot.store.data_dates import current_data_date, current_date_select
from bot.store.models import AumMonthly, Balance, Contact, CorporateMonthly, Customer, Holding, Org, Staff


@dataclass(frozen=True)
class BalanceView:
    as_of: date
    aum_fen: int
    deposit_fen: int
    outflow_other_bank_fen: int


@dataclass(frozen=True)
class Profile:
    customer: Customer
    org: Org
    rm: Staff
    data_date: date | None
    balance: BalanceView | None
    months: list[Any]
    """Rows (month, avg_daily_fen, month_end_fen, txn_count), most recent first, including the
    current (partial) month if loaded."""
    holdings: list[Any]
    """Rows (id, kind, product_name, amount_fen, start_date, maturity_date, term_months,
    risk_level) still held on the data date, largest first."""
    last_contact: date | None
    corporate: CorporateMonthly | None

    def complete_months(self) -> list[Any]:
        if self.data_date is None:
            return self.months
        current = month_start(self.data_date)
        return [m for m in self.months if m.month < current]


def latest_data_date(session: Session) -> date | None:
    """The current data date: decided by bot/store/data_dates.py alone (partial loads skipped)."""
    return current_data_date(session)


_LATEST = aliased(Balance, name="latest")
_MONTHS = (select(AumMonthly.month, AumMonthly.avg_daily_fen, AumMonthly.month_end_fen, AumMonthly.txn_count)
           .where(AumMonthly.customer_id == bindparam("cid")).order_by(AumMonthly.month.desc())
           .limit(bindparam("n", type_=Integer)))
_HOLDINGS = (select(Holding.id, Holding.kind, Holding.product_name, Holding.amount_fen, Holding.start_date,
                    Holding.maturity_date, Holding.term_months, Holding.risk_level)
             .where(Holding.customer_id == bindparam("cid"),
                    (Holding.maturity_date.is_(None)) | (Holding.maturity_date >= bindparam("as_of")))
             .order_by(Holding.amount_fen.desc()))


def with_profile_head(stmt: Select) -> Select:
    """Adds (data date, last contact, latest balance) to a statement selecting one Customer."""
    # The newest balance up to the current data date: a partial date's rows are not read yet.
    newest_as_of = (select(func.max(_LATEST.as_of))
                    .where(_LATEST.customer_id == Customer.id, _LATEST.as_of <= current_date_select())
                    .scalar_subquery())
    return (stmt.add_columns(
        current_date_select(),
        select(func.max(Contact.at)).where(Contact.customer_id == Customer.id).scalar_subquery(),
        Balance.as_of, Balance.aum_fen, Balance.deposit_fen, Balance.outflow_other_bank_fen,
    ).outerjoin(Balance, and_(Balance.customer_id == Customer.id, Balance.as_of == newest_as_of)))


def load_profile(session: Session, customer: Customer, org: Org, rm: Staff, head: tuple[object, ...],
                 history_months: int) -> Profile:
    """`head` comes from `with_profile_head` on the access check's own statement; two more round
    trips (monthly AUM, holdings) with prebuilt statements, rows kept as rows (no model objects)."""
    data_date, last_at, as_of, aum, deposit, outflow = head
    conn = session.connection()
    balance = None if as_of is None else BalanceView(as_of, aum, deposit, outflow)  # type: ignore[arg-type]
    months = list(conn.execute(_MONTHS, {"cid": customer.id, "n": history_months + 1}))
    holdings = list(conn.execute(_HOLDINGS, {"cid": customer.id, "as_of": data_date or date.min}))
    corporate = None
    if customer.kind == "corporate":
        corporate = session.execute(
            select(CorporateMonthly).where(CorporateMonthly.customer_id == customer.id)
            .order_by(CorporateMonthly.month.desc()).limit(1)
        ).scalar_one_or_none()
    last_contact = last_at.date() if last_at is not None else None  # type: ignore[attr-defined]
    return Profile(customer, org, rm, data_date, balance, months, holdings, last_contact, corporate)  # type: ignore[arg-type]
