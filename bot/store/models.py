"""The store's tables (SQLModel). Alembic migrations in `migrations/` are the schema's truth.

Money is integer 分 (BIGINT), never float. Timestamps are Asia/Shanghai wall-clock time,
stored without zone (see `ShanghaiDateTime`) so SQLite and PostgreSQL behave the same.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Index, Text, UniqueConstraint, event, text
from sqlalchemy.orm import Session as SASession
from sqlalchemy.types import DateTime, TypeDecorator
from sqlmodel import Field, SQLModel

from bot.clock import SHANGHAI


class ShanghaiDateTime(TypeDecorator[datetime]):
    """Store aware datetimes as naive Asia/Shanghai time; load them back as aware."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store: use bot.clock.now()")
        return value.astimezone(SHANGHAI).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else value.replace(tzinfo=SHANGHAI)


# Org levels: 分行 → 支行 → 网点
ORG_LEVELS = ("branch", "sub_branch", "outlet")
ORG_LEVEL_ZH = {"branch": "分行", "sub_branch": "支行", "outlet": "网点"}
# Staff roles, least to most privileged.
ROLES = ("rm", "branch_manager", "regional_manager")
ROLE_ZH = {"rm": "客户经理", "branch_manager": "支行负责人", "regional_manager": "分行管理者"}


class Org(SQLModel, table=True):
    __tablename__ = "org"
    id: str = Field(primary_key=True, max_length=16)
    name: str = Field(max_length=64)
    level: str = Field(max_length=16)
    parent_id: str | None = Field(default=None, foreign_key="org.id", index=True, max_length=16)
    path: str = Field(index=True, max_length=128)
    """Materialised path "/BR01/SB01/" so scope checks are one prefix comparison."""


class Staff(SQLModel, table=True):
    __tablename__ = "staff"
    id: str = Field(primary_key=True, max_length=16)
    name: str = Field(max_length=32)
    role: str = Field(max_length=24)
    org_id: str = Field(foreign_key="org.id", index=True, max_length=16)
    active: bool = True
    email: str | None = Field(default=None, max_length=254)
    """Work e-mail from the staff extract: `rmbot staff sync slack` finds the Slack account by it."""
    slack_user_id: str | None = Field(default=None, max_length=64)
    wecom_userid: str | None = Field(default=None, max_length=64)
    """The chat accounts the staff extract names. The import links them (chat_identity, audited),
    which is what access is decided by; these columns only keep what the extract said, so an
    export round-trips."""


class ChatIdentity(SQLModel, table=True):
    """Which staff member a Slack or WeCom user is; the console uses staff ids directly."""

    __tablename__ = "chat_identity"
    platform: str = Field(primary_key=True, max_length=16)
    external_id: str = Field(primary_key=True, max_length=64)
    staff_id: str = Field(foreign_key="staff.id", index=True, max_length=16)


class Customer(SQLModel, table=True):
    __tablename__ = "customer"
    __table_args__ = (Index("ix_customer_org_rm", "org_id", "rm_id"),)
    id: str = Field(primary_key=True, max_length=20)
    kind: str = Field(max_length=12)  # individual | corporate
    name: str = Field(max_length=64)
    phone: str | None = Field(default=None, max_length=20)
    id_no: str | None = Field(default=None, max_length=32)
    rm_id: str = Field(foreign_key="staff.id", index=True, max_length=16)
    org_id: str = Field(foreign_key="org.id", max_length=16)
    opened_on: date
    tier: str | None = Field(default=None, max_length=16)
    """The tier currently held (individuals); rules decide whether it should change."""
    tier_since: date | None = None
    industry: str | None = Field(default=None, max_length=32)
    employees: int | None = None
    revenue_fen: int | None = Field(default=None, sa_type=BigInteger)
    assets_fen: int | None = Field(default=None, sa_type=BigInteger)
    strategic: bool = False
    """Manual 战略客户 flag (央企/省属龙头/500强/战略合作协议)."""


class Balance(SQLModel, table=True):
    """Point-in-time AUM (时点) per data date, from the nightly balance extract."""

    __tablename__ = "balance"
    customer_id: str = Field(foreign_key="customer.id", primary_key=True, max_length=20)
    as_of: date = Field(primary_key=True, index=True)
    aum_fen: int = Field(sa_type=BigInteger)
    deposit_fen: int = Field(default=0, sa_type=BigInteger)
    outflow_other_bank_fen: int = Field(default=0, sa_type=BigInteger)
    """Money moved to other banks (他行) over the last 30 days, when the extract has it."""


class AumMonthly(SQLModel, table=True):
    """Monthly AUM: 月日均 (average daily balance), month-end balance and activity."""

    __tablename__ = "aum_monthly"
    customer_id: str = Field(foreign_key="customer.id", primary_key=True, max_length=20)
    month: date = Field(primary_key=True)  # first day of the month
    avg_daily_fen: int = Field(sa_type=BigInteger)
    month_end_fen: int = Field(sa_type=BigInteger)
    txn_count: int = 0


class TierHistory(SQLModel, table=True):
    """One change of a customer's held tier by the daily tier run (快升缓降, bot/store/tier_run.py).

    Keyed by (run date, customer) so a rerun of a day never records a change twice; the numbers
    the rule used are kept so the push and `/summary` can say why without recomputing.
    """

    __tablename__ = "tier_history"
    run_date: date = Field(primary_key=True)
    customer_id: str = Field(foreign_key="customer.id", primary_key=True, max_length=20, index=True)
    from_tier: str | None = Field(default=None, max_length=16)
    to_tier: str = Field(max_length=16)
    change: str = Field(max_length=16)  # new | upgrade | fast_upgrade | downgrade
    basis: str = Field(max_length=12)  # month_avg | point
    basis_fen: int = Field(sa_type=BigInteger)
    point_fen: int | None = Field(default=None, sa_type=BigInteger)
    line_fen: int = Field(sa_type=BigInteger)
    """The line crossed: the new tier's minimum (up) or the held tier's minimum (down)."""
    months_below: int = 0
    months_required: int = 0


class Holding(SQLModel, table=True):
    __tablename__ = "holding"
    __table_args__ = (Index("ix_holding_maturity", "maturity_date"),)
    id: int | None = Field(default=None, primary_key=True)
    customer_id: str = Field(foreign_key="customer.id", index=True, max_length=20)
    kind: str = Field(max_length=16)  # 活期 定期存款 大额存单 结构性存款 理财 基金 保险 储蓄国债
    product_name: str = Field(max_length=64)
    amount_fen: int = Field(sa_type=BigInteger)
    start_date: date
    maturity_date: date | None = None
    term_months: int | None = None
    risk_level: str | None = Field(default=None, max_length=4)


class CorporateMonthly(SQLModel, table=True):
    __tablename__ = "corporate_monthly"
    customer_id: str = Field(foreign_key="customer.id", primary_key=True, max_length=20)
    month: date = Field(primary_key=True)
    avg_deposit_fen: int = Field(default=0, sa_type=BigInteger)
    point_deposit_fen: int = Field(default=0, sa_type=BigInteger)
    pos_settlement_fen: int = Field(default=0, sa_type=BigInteger)
    payroll_headcount: int = 0
    payroll_fen: int = Field(default=0, sa_type=BigInteger)
    credit_cards: int = 0
    loan_balance_fen: int = Field(default=0, sa_type=BigInteger)


class Contact(SQLModel, table=True):
    """The RM contact / follow-up log: every call, visit and button click on a pushed item."""

    __tablename__ = "contact"
    __table_args__ = (
        Index("ix_contact_customer_at", "customer_id", "at"),
        # Only answers to push items carry a ref; a full index misled SQLite's planner (migration 0007).
        Index("ix_contact_ref", "ref", sqlite_where=text("ref IS NOT NULL"), postgresql_where=text("ref IS NOT NULL")),
    )
    id: int | None = Field(default=None, primary_key=True)
    customer_id: str = Field(foreign_key="customer.id", max_length=20)
    staff_id: str = Field(foreign_key="staff.id", index=True, max_length=16)
    at: datetime = Field(sa_type=ShanghaiDateTime)
    outcome: str = Field(max_length=16)  # contacted | retained | lost | note
    channel: str = Field(default="chat", max_length=16)  # chat | phone | visit | import
    ref: str | None = Field(default=None, max_length=96)
    """The pushed item this follow-up answers (e.g. maturing:H123), if any."""
    note: str | None = Field(default=None, max_length=500)


class AuditLog(SQLModel, table=True):
    """Append-only and tamper-evident: who looked at what, and the answer.

    Triggers (migrations 0001, 0008) refuse UPDATE, DELETE and out-of-order inserts; each row is
    chained to the one before by `mac` (bot.store.audit_chain, computed on flush for every
    session), and `rmbot audit verify` checks the chain against the head kept in `audit_head`."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ux_audit_log_seq", "seq", unique=True),)
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=ShanghaiDateTime, index=True)
    staff_id: str | None = Field(default=None, max_length=16, index=True)
    platform: str = Field(max_length=16)
    user_ref: str = Field(max_length=64)
    channel_kind: str = Field(max_length=8)
    channel_id: str | None = Field(default=None, max_length=64)
    action: str = Field(max_length=32)
    target: str | None = Field(default=None, max_length=64)
    outcome: str = Field(max_length=16)  # allowed | denied | not_found | error
    detail: str | None = Field(default=None, sa_type=Text)
    """Unbounded (migration 0008): a disclosure names every customer it showed."""
    seq: int | None = Field(default=None, sa_type=BigInteger, nullable=False)
    """1, 2, 3 … without gaps: the row's place in the chain (set on flush, never by callers)."""
    key_id: str | None = Field(default=None, max_length=16, nullable=False)
    """Which key signed `mac` (derived from the key; "demo" for the public demo key)."""
    mac: str | None = Field(default=None, max_length=64, nullable=False)
    """HMAC-SHA256 (hex) over the row's fields, seq, key id and the previous row's mac."""


class AuditHead(SQLModel, table=True):
    """The chain head, kept apart from the log: the newest seq and mac. Advanced only by the
    insert trigger, so emptying or cutting the log's tail leaves a head that no longer matches."""

    __tablename__ = "audit_head"
    id: int = Field(primary_key=True)
    seq: int = Field(sa_type=BigInteger)
    mac: str = Field(max_length=64)


@event.listens_for(SASession, "before_flush")
def _chain_audit_rows(session: SASession, _flush_context: object, _instances: object) -> None:
    """Every session that adds AuditLog rows chains them here: no write path can forget it."""
    from bot.store.audit_chain import chain_pending

    chain_pending(session)


class DataLoad(SQLModel, table=True):
    """Each load of data (seed or import) with its data date: answers show where figures come from."""

    __tablename__ = "data_load"
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=24)
    data_date: date
    loaded_at: datetime = Field(sa_type=ShanghaiDateTime)
    source: str = Field(max_length=200)
    rows: int = 0


class DataDay(SQLModel, table=True):
    """How complete a new balance date's load is (bot/store/data_dates.py): a partial date is kept
    but never becomes the current data date, so one short file cannot rewrite every answer."""

    __tablename__ = "data_day"
    day: date = Field(primary_key=True)
    status: str = Field(max_length=12)  # complete | partial | allowed (partial, --allow-partial)
    covered: int = 0
    """Distinct customers with a balance row on `day`."""
    expected: int = 0
    """Distinct customers with a balance row on `previous`."""
    previous: date | None = None
    decided_at: datetime = Field(sa_type=ShanghaiDateTime)
    source: str = Field(max_length=200)


class PushDestination(SQLModel, table=True):
    """Where a 支行's pushes go: a Slack channel, a WeCom app chat or robot, or a file (demo)."""

    __tablename__ = "push_destination"
    org_id: str = Field(foreign_key="org.id", primary_key=True, max_length=16)
    platform: str = Field(primary_key=True, max_length=16)  # slack | wecom_appchat | wecom_robot | file
    target: str = Field(max_length=200)
    """Slack channel id, WeCom chatid, robot webhook key, or a directory for files."""


class Outbox(SQLModel, table=True):
    """Every push message is a row here before anything is sent: the unit of exactly-once delivery."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("key", name="uq_outbox_key"),
        Index("ix_outbox_status_next", "status", "next_attempt_at"),
        Index("ix_outbox_push_date", "push_date"),
        Index("ix_outbox_channel", "platform", "target", "id"),
        Index("ix_outbox_unsent", "platform", "target", "id",  # what claims read (bot.store.outbox)
              sqlite_where=text("status IN ('pending', 'claimed', 'sending', 'verifying')"),
              postgresql_where=text("status IN ('pending', 'claimed', 'sending', 'verifying')")),
    )
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=160)
    """kind:org:date:platform:part — the same message is never enqueued twice."""
    kind: str = Field(max_length=24)
    org_id: str = Field(foreign_key="org.id", max_length=16)
    push_date: date
    platform: str = Field(max_length=16)
    target: str = Field(max_length=200)
    payload: str
    """The neutral Reply as JSON; rendered per platform at delivery unless `rendered` is set."""
    rendered: str | None = Field(default=None, sa_type=Text)
    """The platform's message(s) rendered from `payload` when the push was built (a sender's
    `render`), so delivery only posts them; NULL: render at send."""
    status: str = Field(default="pending", max_length=12)  # pending | sending | sent | dead
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=ShanghaiDateTime)
    claimed_by: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_type=ShanghaiDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=ShanghaiDateTime)
    message_id: str | None = Field(default=None, max_length=128)
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(sa_type=ShanghaiDateTime)


from sqlalchemy import Text  # noqa: E402  (kept with the campaign tables it serves)


# Campaign drafts (issue 6). Draft statuses: 草稿 → 待审批 → 已审批 / 已驳回 (a rejected draft may be
# edited, which makes it a draft again). Texts, lint results and options are JSON documents: they
# are kept whole for the approval record, never queried inside.
CAMPAIGN_STATUS_ZH = {"draft": "草稿", "pending": "待审批", "approved": "已审批", "rejected": "已驳回"}


class CampaignDraft(SQLModel, table=True):
    """One campaign copy draft for one 支行, in every channel variant, with its approval record."""

    __tablename__ = "campaign_draft"
    __table_args__ = (Index("ix_campaign_draft_branch_status", "branch_id", "status"),)
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=24)
    branch_id: str = Field(foreign_key="org.id", max_length=16)
    author_id: str = Field(foreign_key="staff.id", max_length=16)
    status: str = Field(default="draft", max_length=12)
    options: str = Field(default="{}", sa_type=Text)
    """The options as given (日期, 地点, 产品 …), JSON."""
    texts: str = Field(sa_type=Text)
    """{variant: text} for group / dm / sms, JSON."""
    lint: str = Field(sa_type=Text)
    """{variant: [finding, …]} from the last lint of `texts`, JSON."""
    lint_version: str = Field(default="", max_length=32)
    blocked: bool = False
    """Any blocking finding in any variant: such a draft cannot be submitted or approved."""
    audience_total: int = 0
    audience: str = Field(default="{}", sa_type=Text)
    """Counts behind the draft when it was made (per RM, per tier/status), JSON; no customer data."""
    data_date: date | None = None
    created_at: datetime = Field(sa_type=ShanghaiDateTime)
    updated_at: datetime = Field(sa_type=ShanghaiDateTime)
    submitted_at: datetime | None = Field(default=None, sa_type=ShanghaiDateTime)
    decided_by: str | None = Field(default=None, foreign_key="staff.id", max_length=16)
    decided_at: datetime | None = Field(default=None, sa_type=ShanghaiDateTime)
    reason: str | None = Field(default=None, max_length=500)
    """Why it was rejected (or an approver's remark)."""
    final_text: str | None = Field(default=None, sa_type=Text)
    """{variant: text} exactly as approved, JSON: the only copy that may be posted or handed out."""
    posted_at: datetime | None = Field(default=None, sa_type=ShanghaiDateTime)
    """When the approved copy was queued for the branch channel (outbox kind "campaign")."""


class CampaignEvent(SQLModel, table=True):
    """The approval trail: every change of a draft, with a snapshot, kept beside the audit log."""

    __tablename__ = "campaign_event"
    id: int | None = Field(default=None, primary_key=True)
    draft_id: int = Field(foreign_key="campaign_draft.id", index=True)
    at: datetime = Field(sa_type=ShanghaiDateTime)
    staff_id: str = Field(foreign_key="staff.id", max_length=16)
    event: str = Field(max_length=16)  # created | edited | submitted | approved | rejected | posted
    detail: str | None = Field(default=None, sa_type=Text)


class SeenKey(SQLModel, table=True):
    """Deliveries already processed (event ids, WeCom MsgIds): shared by every bot replica."""

    __tablename__ = "seen_key"
    key: str = Field(primary_key=True, max_length=200)
    seen_at: datetime = Field(sa_type=ShanghaiDateTime, index=True)


class PushBuild(SQLModel, table=True):
    """A (push kind, day) built: the scheduler's catch-up skips it, `rmbot push status` shows
    days due without one. Written after the build, under the build lock (bot/push/catchup.py)."""

    __tablename__ = "push_build"
    kind: str = Field(primary_key=True, max_length=20)
    push_date: date = Field(primary_key=True)
    built_at: datetime = Field(sa_type=ShanghaiDateTime)
    built_by: str = Field(max_length=120)
    enqueued: int = 0
    note: str | None = Field(default=None, max_length=200)


class InboxRow(SQLModel, table=True):
    """An accepted inbound message (WeCom callback, Slack event, slow slash command), written with
    its dedupe key in the transaction that accepts it, before the platform is answered: the
    unit of "nothing acknowledged is lost" (bot/store/inbox.py). Unfinished rows of one user are
    handled oldest first, one at a time; the reply goes out through the outbox."""

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("key", name="uq_inbox_key"),
        Index("ix_inbox_open", "platform", "user_id", "id",  # what claims read
              sqlite_where=text("state IN ('pending', 'working')"),
              postgresql_where=text("state IN ('pending', 'working')")),
        Index("ix_inbox_created", "created_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200)
    """The platform's dedupe key (msg:<MsgId>, evt:…, event id): a retry finds it and is refused."""
    platform: str = Field(max_length=16)
    user_id: str = Field(max_length=200)
    payload: str = Field(sa_type=Text)
    """The inbound message as JSON, as the adapter's handler reads it back."""
    state: str = Field(default="pending", max_length=12)  # pending | working | done | dead
    attempts: int = 0
    claimed_by: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_type=ShanghaiDateTime)
    created_at: datetime = Field(sa_type=ShanghaiDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=ShanghaiDateTime)
    request_id: str | None = Field(default=None, max_length=64)
    last_error: str | None = Field(default=None, max_length=500)
