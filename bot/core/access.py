"""Least privilege for customer data (docs/DOMAIN.md §8), in one place.

An RM sees their own customers, a branch manager their 支行 (and its 网点), a regional manager
every branch below their 分行. A refused lookup answers exactly like an unknown customer so
nobody learns that a customer exists elsewhere, and both are written to the audit log.
"""

from __future__ import annotations

import re

from collections.abc import Callable

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import aliased
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.core.context import Context, StaffView
from bot.core.errors import UserError
from bot.store.models import AuditLog, ChatIdentity, Customer, Org, Staff
from bot.store.scope import is_under
from bot.store.staff import lookup_ids

_CUSTOMER_NO = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,19}$")


def load_staff(session: Session, platform: str, user_id: str) -> StaffView | None:
    """Console callers are staff ids; chat users are looked up in `chat_identity` under their
    normalised id (WeCom userids are case-insensitive: bot.store.staff). An account linked to two
    staff members in two spellings (rows from before normalising) is nobody: no guessing whose
    customers it sees."""
    stmt = select(Staff, Org).join(Org, Org.id == Staff.org_id)
    if platform == "console":
        stmt = stmt.where(Staff.id == user_id.strip().upper())
    else:
        stmt = stmt.join(ChatIdentity, ChatIdentity.staff_id == Staff.id).where(
            ChatIdentity.platform == platform, ChatIdentity.external_id.in_(lookup_ids(platform, user_id))
        )
    rows = session.execute(stmt.where(Staff.active.is_(True))).all()
    if not rows or len({r[0].id for r in rows}) > 1:
        return None
    staff, org = rows[0]
    return StaffView(staff.id, staff.name, staff.role, org.id, org.path, org.name)


def can_see(staff: StaffView, customer_rm_id: str, customer_org_path: str) -> bool:
    if staff.role == "rm":
        return customer_rm_id == staff.id
    return is_under(customer_org_path, staff.org_path)


def parse_customer_no(raw: str, usage: str) -> str:
    value = raw.strip().upper()
    if not _CUSTOMER_NO.match(value):
        raise UserError(f"客户号格式不正确：{raw[:30]}（应为字母和数字，如 C0000001）", usage)
    return value


_RM = aliased(Staff, name="rm")
_CUSTOMER_STMT = (select(Customer, Org, _RM).join(Org, Org.id == Customer.org_id).join(_RM, _RM.id == Customer.rm_id)
                  .where(Customer.id == bindparam("customer_no")))
_EXTENDED: dict[Callable[[Select], Select], Select] = {}
"""Statements are built once and reused with a bound customer number: hot paths skip rebuilding."""


def fetch_customer(ctx: Context, customer_no: str,
                   extend: Callable[[Select], Select] | None = None) -> tuple[Customer, Org, Staff]:
    """The customer, their org and RM if the caller may see them; audited either way.

    `extend` adds columns to the same statement (e.g. the start of a profile), so a lookup costs
    one round trip; read them back with `fetched_extra(ctx)`."""
    stmt = _CUSTOMER_STMT
    if extend is not None:
        stmt = _EXTENDED.get(extend)  # type: ignore[assignment]
        if stmt is None:
            stmt = _EXTENDED.setdefault(extend, extend(_CUSTOMER_STMT))
    row = ctx.session.execute(stmt, {"customer_no": customer_no}).first()
    if row is not None and extend is not None:
        ctx.extras["fetched_extra"] = tuple(row[3:])
    if row is None:
        stage_audit(ctx, target=customer_no, outcome="not_found")
    elif not can_see(ctx.staff, row[0].rm_id, row[1].path):
        stage_audit(ctx, target=customer_no, outcome="denied")
    else:
        stage_audit(ctx, target=customer_no, outcome="allowed")
        return row[0], row[1], row[2]
    raise UserError(f"未找到客户 {customer_no}，或您无权查看该客户。Customer not found or not accessible.")


def fetched_extra(ctx: Context) -> tuple[object, ...]:
    return ctx.extras["fetched_extra"]  # type: ignore[return-value]


def stage_audit(ctx: Context, *, target: str | None, outcome: str, detail: str | None = None) -> None:
    """Staged on the context; committed with the command, or on its own if the command fails."""
    req = ctx.request
    if outcome == "denied":  # every refusal of the core is audited here, so counted here (bot/metrics.py)
        from bot import metrics

        metrics.refusal(req.platform, "role" if (detail or "").startswith("role ") else "scope")
    ctx.audit.append(AuditLog(
        at=ctx.now,
        staff_id=ctx.staff.id,
        platform=req.platform,
        user_ref=req.user_id[:64],
        channel_kind=req.channel_kind,
        channel_id=req.channel_id[:64] if req.channel_id else None,
        action=ctx.command[:32],
        target=target[:64] if target else None,
        outcome=outcome,
        detail=detail or None,  # never cut: a list's entry names every customer it showed
    ))


def write_audit_now(engine: Engine, entries: list[object]) -> None:
    """For entries whose command failed: a transaction of their own, so no lookup goes unlogged."""
    if not entries:
        return
    with Session(engine) as session:
        session.add_all(entries)
        session.commit()
