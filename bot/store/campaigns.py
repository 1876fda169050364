"""Campaign audiences as set-based SQL, and the drafts' persistence (docs/DOMAIN.md §6).

Each audience rule is one SELECT over the branch's customers; counts are GROUP BYs over the same
statement, so the numbers in a draft and the rows of its CSV export can never disagree. Rules use
the policy's thresholds and compare integers, exactly as `rules/behaviour.py` does, so a customer
is in the 沉睡 audience here if and only if `/tier` calls them 沉睡客户 (tests check this).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import String, and_, cast, exists, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement, Select
from sqlmodel import Session

from bot.campaigns.catalogue import AudienceSpec
from bot.clock import SHANGHAI, add_months, month_start
from bot.store.models import (
    AumMonthly,
    Balance,
    CampaignDraft,
    CampaignEvent,
    Contact,
    CorporateMonthly,
    Customer,
    Org,
    Outbox,
    PushDestination,
    Staff,
)
from bot.store.scope import org_ids_under, under
from rules.behaviour import DORMANT, outflow_reference_month
from rules.maturity import ratio_scaled
from rules.money import yuan_to_fen
from rules.policy import Policy

SCALE = 1_000_000
CORPORATE_LABEL = "对公客户"


@dataclass(frozen=True)
class AudienceRow:
    customer_id: str
    customer_name: str
    customer_kind: str
    rm_id: str
    rm_name: str
    org_id: str
    tier: str | None
    label: str
    """Why the customer is in the audience (沉睡客户, 60岁及以上, 生日 12-05 …)."""


@dataclass(frozen=True)
class AudienceCounts:
    total: int
    per_rm: list[tuple[str, str, int]]
    """(rm id, rm name, customers), largest first."""
    per_tier: list[tuple[str, int]]
    """(held tier, or 对公客户, customers), largest first."""

    def to_json(self) -> dict[str, object]:
        return {"total": self.total, "per_rm": [list(r) for r in self.per_rm], "per_tier": [list(t) for t in self.per_tier]}


# ---- audiences ----------------------------------------------------------------------------------


def years_before(day: date, years: int) -> date:
    """The same calendar day `years` earlier; 29 Feb becomes 28 Feb in a common year."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def birthday_keys(today: date, days: int) -> list[str]:
    """MMDD of the next `days` days from today; 0229 rides along with 28 Feb in common years."""
    keys: list[str] = []
    for n in range(days):
        d = today + timedelta(days=n)
        keys.append(f"{d:%m%d}")
        if d.month == 2 and d.day == 28 and (d + timedelta(days=1)).month == 3:
            keys.append("0229")
    return keys


def _birth(column: object) -> ColumnElement[str]:
    """YYYYMMDD from a resident ID number (GB 11643: birth date at positions 7–14)."""
    return func.substr(column, 7, 8)


def audience_select(spec: AudienceSpec, policy: Policy, branch_path: str, today: date,
                    data_date: date | None) -> Select:
    """One statement: the branch's customers (incl. its 网点) who fit `spec`, with their RM."""
    label: ColumnElement[str]
    stmt = (
        select(Customer.id.label("customer_id"), Customer.name.label("customer_name"),
               Customer.kind.label("customer_kind"), Customer.rm_id.label("rm_id"), Staff.name.label("rm_name"),
               Customer.org_id.label("org_id"), Customer.tier.label("tier"))
        .select_from(Customer)
        .join(Org, Org.id == Customer.org_id)
        .join(Staff, Staff.id == Customer.rm_id)
        .where(under(Org.path, branch_path), Customer.org_id.in_(org_ids_under(branch_path)))
    )
    individual = Customer.kind == "individual"
    if spec.rule == "dormant":
        stmt, label = _dormant(stmt, policy, today, data_date)
    elif spec.rule == "tiers":
        stmt, label = stmt.where(individual, Customer.tier.in_(spec.tiers)), func.coalesce(Customer.tier, "")
    elif spec.rule == "age":
        stmt = stmt.where(individual, func.length(Customer.id_no) == 18)
        if spec.min_age is not None:
            stmt = stmt.where(_birth(Customer.id_no) <= f"{years_before(today, spec.min_age):%Y%m%d}")
        if spec.max_age is not None:
            stmt = stmt.where(_birth(Customer.id_no) > f"{years_before(today, spec.max_age + 1):%Y%m%d}")
        label = literal(_age_label(spec.min_age, spec.max_age))
    elif spec.rule == "birthday":
        mmdd = func.substr(Customer.id_no, 11, 4)
        stmt = stmt.where(individual, func.length(Customer.id_no) == 18, mmdd.in_(birthday_keys(today, spec.days)))
        label = literal("生日 ") + func.substr(Customer.id_no, 11, 2) + literal("-") + func.substr(Customer.id_no, 13, 2)
    elif spec.rule in ("payroll", "merchant"):
        stmt, label = _corporate(stmt, spec.rule)
    elif spec.rule == "inflow":
        stmt, label = _inflow(stmt, spec, data_date)
    else:  # pragma: no cover  (the catalogue validates rule names)
        raise ValueError(f"unknown audience rule {spec.rule}")
    return stmt.add_columns(label.label("label"))


def _age_label(lo: int | None, hi: int | None) -> str:
    if lo is not None and hi is not None:
        return f"{lo}–{hi}岁"
    return f"{lo}岁及以上" if lo is not None else f"{hi}岁及以下"


def _dormant(stmt: Select, policy: Policy, today: date, data_date: date | None) -> tuple[Select, ColumnElement[str]]:
    """沉睡客户 (seed 000): AUM below the line, no RM contact in N days, net outflow over M days."""
    p = policy.behaviour
    if data_date is None:
        return stmt.where(literal(False)), literal(DORMANT)
    ref_month = outflow_reference_month(data_date, p)  # as /tier and /summary
    before = aliased(AumMonthly, name="before")
    quiet_since = datetime.combine(today - timedelta(days=p.dormant_no_contact_days), time(0), SHANGHAI)
    stmt = (
        stmt.join(Balance, and_(Balance.customer_id == Customer.id, Balance.as_of == data_date))
        .join(before, and_(before.customer_id == Customer.id, before.month == ref_month))
        .where(Customer.kind == "individual",
               Balance.aum_fen < yuan_to_fen(p.dormant_max_aum_yuan),
               Balance.aum_fen < before.month_end_fen,
               ~exists().where(Contact.customer_id == Customer.id, Contact.at >= quiet_since))
    )
    return stmt, literal(DORMANT)


def _corporate(stmt: Select, rule: str) -> tuple[Select, ColumnElement[str]]:
    """代发单位 (payroll headcount > 0) or POS 收单商户, by each company's latest month."""
    latest = (select(CorporateMonthly.customer_id.label("cid"), func.max(CorporateMonthly.month).label("m"))
              .group_by(CorporateMonthly.customer_id).subquery("latest"))
    cm = aliased(CorporateMonthly, name="cm")
    stmt = (stmt.join(latest, latest.c.cid == Customer.id)
            .join(cm, and_(cm.customer_id == Customer.id, cm.month == latest.c.m))
            .where(Customer.kind == "corporate"))
    if rule == "payroll":
        label = literal("代发 ") + cast(cm.payroll_headcount, String) + literal(" 人")
        return stmt.where(cm.payroll_headcount > 0), label
    return stmt.where(cm.pos_settlement_fen > 0), literal("POS 收单商户")


def _inflow(stmt: Select, spec: AudienceSpec, data_date: date | None) -> tuple[Select, ColumnElement[str]]:
    """Large recent inflows (拆迁款 arriving): AUM up by at least X元 and Y% on last month-end."""
    label = literal("近期大额资金流入")
    if data_date is None:
        return stmt.where(literal(False)), label
    last = aliased(AumMonthly, name="last")
    ratio = ratio_scaled(spec.min_ratio, SCALE)
    stmt = (
        stmt.join(Balance, and_(Balance.customer_id == Customer.id, Balance.as_of == data_date))
        .join(last, and_(last.customer_id == Customer.id, last.month == add_months(month_start(data_date), -1)))
        .where(Customer.kind == "individual",
               Balance.aum_fen - last.month_end_fen >= yuan_to_fen(spec.min_inflow_yuan),
               Balance.aum_fen * SCALE >= last.month_end_fen * (SCALE + ratio))
    )
    return stmt, label


def audience_counts(session: Session, stmt: Select) -> AudienceCounts:
    sub = stmt.subquery("aud")
    n = func.count().label("n")
    per_rm = [(r, name, int(c)) for r, name, c in session.execute(
        select(sub.c.rm_id, sub.c.rm_name, n).group_by(sub.c.rm_id, sub.c.rm_name).order_by(n.desc(), sub.c.rm_id))]
    tier = func.coalesce(sub.c.tier, CORPORATE_LABEL)
    per_tier = [(t, int(c)) for t, c in session.execute(
        select(tier, n).group_by(tier).order_by(n.desc(), tier))]
    return AudienceCounts(sum(c for _, _, c in per_rm), per_rm, per_tier)


def audience_rows(session: Session, stmt: Select) -> Iterator[AudienceRow]:
    """Streamed, by RM then customer: a whole branch never sits in memory."""
    ordered = stmt.order_by(Customer.rm_id, Customer.id).execution_options(stream_results=True, yield_per=2000)
    for row in session.execute(ordered):
        yield AudienceRow(*row)


# ---- orgs ---------------------------------------------------------------------------------------


def sub_branch_of(session: Session, org_id: str) -> Org | None:
    """The 支行 an org belongs to: itself, or a 网点's parent; None for a 分行."""
    org = session.get(Org, org_id)
    if org is None:
        return None
    if org.level == "outlet" and org.parent_id:
        return session.get(Org, org.parent_id)
    return org if org.level == "sub_branch" else None


def sub_branches_under(session: Session, path: str, limit: int = 20) -> list[Org]:
    return list(session.execute(select(Org).where(Org.level == "sub_branch", under(Org.path, path))
                                .order_by(Org.id).limit(limit)).scalars())


def destinations(session: Session, org_id: str) -> list[tuple[str, str]]:
    return [(d.platform, d.target) for d in session.execute(
        select(PushDestination).where(PushDestination.org_id == org_id).order_by(PushDestination.platform)).scalars()]


# ---- drafts -------------------------------------------------------------------------------------


def add_draft(session: Session, draft: CampaignDraft) -> CampaignDraft:
    session.add(draft)
    session.flush()  # the id is the 草稿号 the reply shows
    return draft


def add_event(session: Session, draft_id: int, at: datetime, staff_id: str, event: str, detail: str | None = None) -> None:
    session.add(CampaignEvent(draft_id=draft_id, at=at, staff_id=staff_id, event=event, detail=detail))


def draft_with_branch(session: Session, draft_id: int) -> tuple[CampaignDraft, Org] | None:
    row = session.execute(select(CampaignDraft, Org).join(Org, Org.id == CampaignDraft.branch_id)
                          .where(CampaignDraft.id == draft_id)).first()
    return (row[0], row[1]) if row else None


def move_draft(session: Session, draft_id: int, expect: Sequence[str], **values: object) -> bool:
    """Change a draft only if it is still in an expected status: two approvers cannot both win."""
    result = session.execute(update(CampaignDraft).where(CampaignDraft.id == draft_id,
                                                         CampaignDraft.status.in_(tuple(expect))).values(**values))
    return result.rowcount == 1  # type: ignore[attr-defined]


def drafts_under(session: Session, path: str, statuses: Sequence[str] | None = None,
                 limit: int = 20) -> list[tuple[CampaignDraft, Org, str]]:
    """Latest drafts of the branches under `path`, with the branch and the author's name."""
    stmt = (select(CampaignDraft, Org, Staff.name).join(Org, Org.id == CampaignDraft.branch_id)
            .join(Staff, Staff.id == CampaignDraft.author_id).where(under(Org.path, path)))
    if statuses:
        stmt = stmt.where(CampaignDraft.status.in_(tuple(statuses)))
    return [(d, o, n) for d, o, n in session.execute(stmt.order_by(CampaignDraft.id.desc()).limit(limit))]


def enqueue_in_session(session: Session, rows: Sequence[dict[str, object]], now: datetime) -> int:
    """Outbox rows in the caller's transaction, so approval and posting commit together; a key
    already there is skipped (the same approval never posts twice)."""
    if not rows:
        return 0
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    values = [dict(r, status="pending", attempts=0, next_attempt_at=now, created_at=now) for r in rows]
    stmt = insert(Outbox).on_conflict_do_nothing(index_elements=["key"]).returning(Outbox.id)
    return len(session.execute(stmt, values).all())
