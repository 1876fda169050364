"""Reads behind `/tier`: one customer's profile in a handful of indexed queries.

Each query hits a primary key or an index on customer_id, so a lookup stays in milliseconds on
a million-customer bank; nothing here scans the customer table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlmodel import Session

from bot.clock import month_start
from bot.store.models import AumMonthly, Balance, Contact, CorporateMonthly, Customer, DataLoad, Holding, Org, Staff


@dataclass(frozen=True)
class Profile:
    customer: Customer
    org: Org
    rm: Staff
    data_date: date | None
    balance: Balance | None
    months: list[AumMonthly]
    """Most recent first, including the current (partial) month if loaded."""
    holdings: list[Holding]
    """Holdings still held on the data date (not yet matured)."""
    last_contact: date | None
    corporate: CorporateMonthly | None

    def complete_months(self) -> list[AumMonthly]:
        if self.data_date is None:
            return self.months
        current = month_start(self.data_date)
        return [m for m in self.months if m.month < current]


def latest_data_date(session: Session) -> date | None:
    return session.execute(select(func.max(DataLoad.data_date))).scalar_one_or_none()


def load_profile(session: Session, customer: Customer, org: Org, rm: Staff, history_months: int) -> Profile:
    data_date, last_at = session.execute(select(
        select(func.max(DataLoad.data_date)).scalar_subquery(),
        select(func.max(Contact.at)).where(Contact.customer_id == customer.id).scalar_subquery(),
    )).one()
    balance = session.execute(
        select(Balance).where(Balance.customer_id == customer.id).order_by(Balance.as_of.desc()).limit(1)
    ).scalar_one_or_none()
    months = list(session.execute(
        select(AumMonthly).where(AumMonthly.customer_id == customer.id)
        .order_by(AumMonthly.month.desc()).limit(history_months + 1)
    ).scalars())
    as_of = data_date or date.min
    holdings = list(session.execute(
        select(Holding).where(
            Holding.customer_id == customer.id,
            (Holding.maturity_date.is_(None)) | (Holding.maturity_date >= as_of),
        ).order_by(Holding.amount_fen.desc())
    ).scalars())
    corporate = None
    if customer.kind == "corporate":
        corporate = session.execute(
            select(CorporateMonthly).where(CorporateMonthly.customer_id == customer.id)
            .order_by(CorporateMonthly.month.desc()).limit(1)
        ).scalar_one_or_none()
    last_contact = last_at.date() if last_at is not None else None
    return Profile(customer, org, rm, data_date, balance, months, holdings, last_contact, corporate)
