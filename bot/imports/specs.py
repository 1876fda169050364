"""What each importable file holds: its columns, their types and aliases, keys and references.

One `Kind` per extract. The same specs drive the import (header matching, row parsing, the
set-based checks and the upsert), the export (header and cell formats, so export → import
round-trips) and docs/IMPORT.md, so the three cannot drift apart.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from bot.clock import SHANGHAI
from bot.imports import fields as f
from bot.imports import forms
from bot.store.models import ORG_LEVEL_ZH, ROLE_ZH

Cell = Any


@dataclass(frozen=True)
class Column:
    name: str
    """Canonical header, written by the export; also the error report's column name."""
    zh: str
    """Chinese header (export --header zh); accepted on import like every alias."""
    target: str
    """Column of the store table."""
    parse: f.Parser
    required: bool = False
    default: Any = None
    aliases: tuple[str, ...] = ()
    kind: str = "text"
    """Type shown in docs: text, code, date, month, datetime, money, int, bool, choice."""
    example: str = ""
    doc: str = ""
    out: Callable[[Any, bool], Cell] | None = None
    """Store value → exported cell (bool: Chinese labels); None exports the value as it is."""
    form: forms.Form | None = None
    """Canonical spelling the import's fast path converts in SQL (forms.py); None: always the parser."""

    def headers(self) -> tuple[str, ...]:
        return (self.name, self.zh, *self.aliases)


@dataclass(frozen=True)
class Ref:
    """A column that must name an existing row: in the store, or (self) earlier in the same file."""

    column: str
    table: str
    reason: str
    where: str = ""
    """Extra SQL condition on the referenced row `r` (e.g. the customer must be corporate)."""
    same_file: bool = False


@dataclass(frozen=True)
class Kind:
    name: str
    zh: str
    table: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    """Target columns identifying a row: the upsert's conflict target (or match, see `unique_key`)."""
    refs: tuple[Ref, ...] = ()
    date_column: str | None = None
    """Target column whose maximum is the data date when --data-date is not given."""
    unique_key: bool = True
    """False when the table has no unique index on `key` (contacts): match and insert instead."""
    prefixes: tuple[str, ...] = ()
    """File-name prefixes that mark a file in a directory as this kind."""
    check_row: Callable[[list[Any], dict[str, int], Context], list[tuple[str, str]]] | None = None
    """Cross-column checks on one parsed row (values, target → index): [(column name, reason)]."""
    doc: str = ""
    extra_targets: tuple[str, ...] = ()
    """Store columns filled after parsing (org.path)."""
    partition: str | None = None
    """An indexed key column (balances' as_of): when no stored row has any of the file's values in
    it, every row is new and a plain INSERT does (the daily case, ~40% faster than an upsert)."""
    row_sql: str = ""
    """`check_row` as an SQL condition over the target columns, true when the row passes: lets the
    fast path (fastpath.py) take the kind. Empty with a check_row: the kind always uses the parser."""

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(c.target for c in self.columns) + self.extra_targets


@dataclass(frozen=True)
class Context:
    """What row checks may need beyond the row: the policy's tier names."""

    tier_names: frozenset[str] = frozenset()


def norm_header(text: str) -> str:
    """Header cells are matched after folding width, case, spaces and the unit suffix."""
    value = unicodedata.normalize("NFKC", str(text)).replace("\ufeff", "").strip().lower()
    value = "".join(value.split())
    for unit in ("(元)", "(单位:元)", "(人民币元)"):
        value = value.removesuffix(unit)
    return value


# ---- cell values for export (the writers render them per format) ------------------------------

def _yuan(fen: int | None, _zh: bool) -> Decimal | None:
    return None if fen is None else Decimal(fen).scaleb(-2)


def _month(value: date | None, _zh: bool) -> str | None:
    return None if value is None else f"{value:%Y-%m}"


def _moment(value: datetime | None, _zh: bool) -> datetime | None:
    """Shanghai wall-clock time, without zone, as the import reads it."""
    if value is None:
        return None
    return value.astimezone(SHANGHAI).replace(tzinfo=None) if value.tzinfo else value


def _bool(value: bool | None, zh: bool) -> str | None:
    if value is None:
        return None
    return ("是" if value else "否") if zh else ("true" if value else "false")


def _label(labels: dict[str, str]) -> Callable[[Any, bool], Cell]:
    return lambda value, zh: labels.get(value, value) if zh else value


# ---- column builders ---------------------------------------------------------------------------

def code_col(name: str, zh: str, target: str, max_len: int, *aliases: str, required: bool = True,
             example: str = "", doc: str = "") -> Column:
    return Column(name, zh, target, f.code(max_len), required, None, aliases, "code", example, doc,
                  form=forms.code(max_len))


def org_col(name: str, zh: str, target: str, *aliases: str, required: bool = True, example: str = "SB01",
            doc: str = "") -> Column:
    """A 机构号 (an org's own code or a reference to one): upper-case letters, digits and - only."""
    doc = "; ".join(d for d in ("A-Z, 0-9 and - only", doc) if d)
    return Column(name, zh, target, f.org_code(16), required, None, aliases, "code", example, doc,
                  form=forms.ORG_ID)


def text_col(name: str, zh: str, target: str, max_len: int, *aliases: str, required: bool = False,
             example: str = "", doc: str = "") -> Column:
    return Column(name, zh, target, f.text(max_len), required, None, aliases, "text", example, doc)


def money_col(name: str, zh: str, target: str, *aliases: str, required: bool = False, default: int | None = None,
              example: str = "", doc: str = "") -> Column:
    return Column(name, zh, target, f.money(), required, default, aliases, "money", example, doc, _yuan,
                  form=forms.MONEY)


def date_col(name: str, zh: str, target: str, *aliases: str, required: bool = False, not_future: bool = False,
             example: str = "", doc: str = "") -> Column:
    return Column(name, zh, target, f.day(not_future), required, None, aliases, "date", example, doc,
                  form=forms.MAPPED)


def month_col(*aliases: str) -> Column:
    return Column("month", "月份", "month", f.month(), True, None, ("数据月份", "统计月份", "年月", *aliases),
                  "month", "2026-10", "YYYY-MM, YYYYMM or any day of the month; not after this month", _month,
                  form=forms.MAPPED)


def int_col(name: str, zh: str, target: str, low: int, high: int, *aliases: str, required: bool = False,
            default: int | None = None, example: str = "", doc: str = "") -> Column:
    return Column(name, zh, target, f.integer(low, high), required, default, aliases, "int", example, doc,
                  form=forms.Int(low, high))


def choice_col(name: str, zh: str, target: str, options: dict[str, str], labels: dict[str, str], *aliases: str,
               required: bool = True, default: str | None = None, example: str = "", doc: str = "") -> Column:
    return Column(name, zh, target, f.choice(options), required, default, aliases, "choice", example, doc,
                  _label(labels))


def customer_col(*aliases: str) -> Column:
    return Column("customer_id", "客户号", "customer_id", f.customer_code(), True, None,
                  ("客户编号", "客户代码", "客户号码", "cust_id", "cust_no", *aliases), "code", "C0000001",
                  "must exist (import customers first)", form=forms.CUSTOMER_ID)


def _labelled(labels: dict[str, str], *extra: tuple[str, str]) -> dict[str, str]:
    """Accept the code, its Chinese label and a few common synonyms."""
    options = {code: code for code in labels}
    options.update({zh: code for code, zh in labels.items()})
    options.update(dict(extra))
    return options


# ---- row checks --------------------------------------------------------------------------------

# They run on every row, so they take the parsed values and a target → index map, not a dict.

def _org_row(v: list[Any], at: dict[str, int], _ctx: Context) -> list[tuple[str, str]]:
    level, parent = v[at["level"]], v[at["parent_id"]]
    if level == "branch" and parent:
        return [("parent_id", "分行不应有上级机构")]
    if level != "branch" and not parent:
        return [("parent_id", "支行和网点必须填写上级机构")]
    if parent == v[at["id"]]:
        return [("parent_id", "上级机构不能是自己")]
    return []


def _customer_row(v: list[Any], at: dict[str, int], ctx: Context) -> list[tuple[str, str]]:
    tier = v[at["tier"]]
    if tier and ctx.tier_names and tier not in ctx.tier_names:
        return [("tier", f"客户等级应为 {'、'.join(sorted(ctx.tier_names))} 之一")]
    return []


def _holding_row(v: list[Any], at: dict[str, int], _ctx: Context) -> list[tuple[str, str]]:
    maturity = v[at["maturity_date"]]
    if maturity is not None and maturity < v[at["start_date"]]:
        return [("maturity_date", "到期日早于起始日")]
    return []


def _balance_row(v: list[Any], at: dict[str, int], _ctx: Context) -> list[tuple[str, str]]:
    if v[at["deposit_fen"]] > v[at["aum_fen"]]:
        return [("deposit", "存款余额大于金融资产（AUM 含存款）")]
    return []


# ---- the kinds -----------------------------------------------------------------------------------

ORG = Kind(
    "org", "机构", "org",
    (
        org_col("id", "机构号", "id", "机构编号", "机构代码", "org_id"),
        text_col("name", "机构名称", "name", 64, "名称", required=True, example="西湖支行"),
        choice_col("level", "机构层级", "level", _labelled(ORG_LEVEL_ZH, ("营业网点", "outlet"), ("一级支行", "sub_branch")),
                   ORG_LEVEL_ZH, "层级", "级别", example="sub_branch",
                   doc="branch 分行 / sub_branch 支行 / outlet 网点"),
        org_col("parent_id", "上级机构号", "parent_id", "上级机构", "上级机构编号", "parent",
                required=False, example="BR01",
                doc="empty for a 分行; a 支行's parent is a 分行, a 网点's a 支行; in the store or this file"),
    ),
    key=("id",),
    refs=(Ref("parent_id", "org", "上级机构不存在（数据库和本文件中都没有）", same_file=True),),
    prefixes=("org", "orgs", "机构"),
    check_row=_org_row,
    extra_targets=("path",),
    doc="The org tree 分行 → 支行 → 网点. Paths are computed; moving a 支行 moves its 网点 with it.",
)

STAFF = Kind(
    "staff", "员工", "staff",
    (
        code_col("id", "员工号", "id", 16, "工号", "员工编号", "柜员号", "staff_id", example="RM001"),
        text_col("name", "姓名", "name", 32, "员工姓名", required=True, example="王芳"),
        choice_col("role", "角色", "role", _labelled(ROLE_ZH, ("支行长", "branch_manager"), ("支行行长", "branch_manager"),
                                                    ("理财经理", "rm"), ("分行管理员", "regional_manager")),
                   ROLE_ZH, "岗位", "职务", example="rm",
                   doc="rm 客户经理 / branch_manager 支行负责人 / regional_manager 分行管理者"),
        org_col("org_id", "所属机构", "org_id", "机构号", "所属机构号", doc="must exist"),
        Column("active", "在职", "active", f.boolean(), False, True, ("是否在职", "状态", "有效"), "bool", "是",
               "是/否, true/false, 1/0, 在职/离职; default 是", _bool),
        Column("email", "邮箱", "email", f.email(), aliases=("电子邮箱", "工作邮箱", "e-mail", "mail"),
               example="wangfang@bank.example", doc="optional; `rmbot staff sync slack` links by it"),
        Column("slack_user_id", "Slack成员ID", "slack_user_id", f.slack_user_id(), aliases=("slack_id", "slack"),
               example="U04ABCDEF", doc="optional; linked on import (audited), as `rmbot staff link slack`"),
        Column("wecom_userid", "企业微信账号", "wecom_userid", f.wecom_userid(),
               aliases=("企业微信userid", "wecom_id", "userid"), example="wangfang",
               doc="optional; linked on import (audited); empty with WECOM_USERID_FROM_STAFF_ID=true: the 员工号"),
    ),
    key=("id",),
    refs=(Ref("org_id", "org", "所属机构不存在"),),
    prefixes=("staff", "员工"),
    doc="Staff and their org. 离职 staff stay (their customers' history refers to them) with active = 否; "
        "they lose access at their next message. The chat account columns are linked on import.",
)

CUSTOMERS = Kind(
    "customers", "客户", "customer",
    (
        Column("id", "客户号", "id", f.customer_code(), True, None, ("客户编号", "客户代码", "customer_id", "cust_id", "cust_no"),
               "code", "C0000001", "letters, digits and -, 2–20 characters (what /tier accepts)",
               form=forms.CUSTOMER_ID),
        choice_col("kind", "客户类型", "kind", _labelled({"individual": "个人", "corporate": "对公"},
                                                       ("企业", "corporate"), ("公司", "corporate"), ("单位", "corporate"),
                                                       ("零售", "individual")),
                   {"individual": "个人", "corporate": "对公"}, "类型", example="individual",
                   doc="individual 个人 / corporate 对公"),
        text_col("name", "客户名称", "name", 64, "客户姓名", "姓名", "名称", required=True, example="张伟"),
        text_col("phone", "联系电话", "phone", 20, "手机号", "电话", "手机", example="13800001111"),
        text_col("id_no", "证件号码", "id_no", 32, "证件号", "身份证号", "统一社会信用代码", example="330102199001011234"),
        code_col("rm_id", "客户经理", "rm_id", 16, "管户客户经理", "客户经理号", "管户经理", example="RM001",
                 doc="员工号; must exist"),
        org_col("org_id", "所属机构", "org_id", "开户机构", "管户机构", "机构号", doc="must exist"),
        date_col("opened_on", "开户日期", "opened_on", "开户日", required=True, not_future=True, example="2019-03-15"),
        text_col("tier", "客户等级", "tier", 16, "等级", "持有等级", example="贵宾客户",
                 doc="the tier held; one of the policy's ladder names"),
        date_col("tier_since", "定级日期", "tier_since", "等级起始日", not_future=True, example="2026-05-01"),
        text_col("industry", "行业", "industry", 32, "所属行业", example="制造业", doc="corporate"),
        int_col("employees", "从业人员", "employees", 0, 10_000_000, "员工人数", "从业人数", example="120", doc="corporate"),
        money_col("revenue", "营业收入", "revenue_fen", example="40000000.00", doc="元, corporate"),
        money_col("assets", "资产总额", "assets_fen", example="90000000.00", doc="元, corporate"),
        Column("strategic", "战略客户", "strategic", f.boolean(), False, False, ("是否战略客户",), "bool", "否",
               "是/否; default 否", _bool),
    ),
    key=("id",),
    refs=(Ref("rm_id", "staff", "客户经理不存在"), Ref("org_id", "org", "所属机构不存在")),
    prefixes=("customers", "customer", "客户信息", "客户"),
    check_row=_customer_row,
    doc="Customers, individual and corporate, with their RM and org (a new RM moves the customer).",
)

_HOLDING_KINDS = ("活期", "定期存款", "大额存单", "结构性存款", "理财", "基金", "保险", "储蓄国债")

HOLDINGS = Kind(
    "holdings", "持仓", "holding",
    (
        int_col("holding_id", "持仓编号", "id", 1, 2**31 - 1, "持仓号", "合约号", "id", required=True, example="100001",
                doc="the core system's numeric holding/contract id: the business key"),
        customer_col(),
        choice_col("kind", "产品类型", "kind", {k: k for k in _HOLDING_KINDS} | {"定期": "定期存款", "大额存单(CD)": "大额存单",
                                                                       "结构存款": "结构性存款", "国债": "储蓄国债"},
                   {}, "产品类别", example="定期存款", doc="、".join(_HOLDING_KINDS)),
        text_col("product_name", "产品名称", "product_name", 64, "产品", required=True, example="定期存款12个月"),
        money_col("amount", "持有金额", "amount_fen", "金额", "余额", required=True, example="200000.00", doc="元"),
        date_col("start_date", "起始日", "start_date", "起息日", "购买日", "开始日期", required=True, example="2025-12-01"),
        date_col("maturity_date", "到期日", "maturity_date", "到期日期", example="2026-11-30", doc="not before start_date"),
        int_col("term_months", "期限月数", "term_months", 1, 600, "期限", "期限(月)", example="12"),
        choice_col("risk_level", "风险等级", "risk_level", {f"R{i}": f"R{i}" for i in range(1, 6)}, {}, "产品风险等级",
                   required=False, example="R2", doc="R1–R5"),
    ),
    key=("id",),
    refs=(Ref("customer_id", "customer", "客户号不存在"),),
    prefixes=("holdings", "holding", "持仓"),
    check_row=_holding_row,
    doc="Products held. Keyed by holding_id, so a re-sent or corrected row replaces the old one.",
)

BALANCES = Kind(
    "balances", "时点余额", "balance",
    (
        customer_col(),
        date_col("as_of", "数据日期", "as_of", "余额日期", "日期", "data_date", required=True, not_future=True,
                 example="2026-11-20"),
        money_col("aum", "金融资产", "aum_fen", "aum余额", "时点aum", "时点金融资产", "金融资产余额", "aum_yuan",
                  required=True, example="323600.00", doc="元, point-in-time 时点 AUM"),
        money_col("deposit", "存款余额", "deposit_fen", "存款", "deposit_yuan", default=0, example="123600.00",
                  doc="元, default 0; not above aum"),
        money_col("outflow_other_bank", "他行转出", "outflow_other_bank_fen", "近30天转他行", "转出他行金额", default=0,
                  example="0.00", doc="元 moved to other banks over the last 30 days; default 0"),
    ),
    key=("customer_id", "as_of"),
    refs=(Ref("customer_id", "customer", "客户号不存在"),),
    date_column="as_of",
    partition="as_of",
    prefixes=("balances", "balance", "时点余额", "余额"),
    check_row=_balance_row,
    row_sql="deposit_fen <= aum_fen",
    doc="The nightly point-in-time (时点) AUM extract, one row per customer and data date.",
)

AUM_MONTHLY = Kind(
    "aum_monthly", "月日均", "aum_monthly",
    (
        customer_col(),
        month_col(),
        money_col("avg_daily", "月日均", "avg_daily_fen", "月日均余额", "月日均aum", "日均", required=True,
                  example="318000.00", doc="元, the month's average daily AUM"),
        money_col("month_end", "月末余额", "month_end_fen", "月末aum", "月末时点", required=True, example="320000.00", doc="元"),
        int_col("txn_count", "交易笔数", "txn_count", 0, 1_000_000, "交易次数", default=0, example="6", doc="default 0"),
    ),
    key=("customer_id", "month"),
    refs=(Ref("customer_id", "customer", "客户号不存在"),),
    date_column="month",
    prefixes=("aum_monthly", "月日均"),
    doc="Monthly AUM: 月日均 (the tier basis), month-end balance and activity; the current month may be partial.",
)

CORPORATE_MONTHLY = Kind(
    "corporate_monthly", "对公月度", "corporate_monthly",
    (
        customer_col(),
        month_col(),
        money_col("avg_deposit", "日均存款", "avg_deposit_fen", "对公日均存款", default=0, example="120000000.00", doc="元"),
        money_col("point_deposit", "时点存款", "point_deposit_fen", "对公时点存款", default=0, example="144000000.00", doc="元"),
        money_col("pos_settlement", "POS结算", "pos_settlement_fen", "pos结算金额", "pos月结算", default=0,
                  example="2000000.00", doc="元"),
        int_col("payroll_headcount", "代发人数", "payroll_headcount", 0, 10_000_000, "代发工资人数", default=0, example="60"),
        money_col("payroll", "代发金额", "payroll_fen", "代发工资金额", default=0, example="400000.00", doc="元"),
        int_col("credit_cards", "信用卡数", "credit_cards", 0, 1_000_000, "公务卡数", "信用卡", default=0, example="5"),
        money_col("loan_balance", "贷款余额", "loan_balance_fen", default=0, example="30000000.00", doc="元"),
    ),
    key=("customer_id", "month"),
    refs=(Ref("customer_id", "customer", "客户号不存在"),
          Ref("customer_id", "customer", "不是对公客户", where="r.kind = 'corporate'")),
    date_column="month",
    prefixes=("corporate_monthly", "corporate", "对公"),
    doc="Corporate monthly metrics behind the corporate class (优质/战略/持续贡献/潜在合作).",
)

CONTACTS = Kind(
    "contacts", "联系记录", "contact",
    (
        customer_col(),
        code_col("staff_id", "员工号", "staff_id", 16, "客户经理", "联系人员", "工号", example="RM001", doc="must exist"),
        Column("at", "联系时间", "at", f.moment(), True, None, ("时间", "联系日期"), "datetime", "2026-11-10 10:30",
               "Asia/Shanghai; YYYY-MM-DD HH:MM[:SS]; not in the future", _moment),
        choice_col("outcome", "结果", "outcome",
                   _labelled({"contacted": "已联系", "retained": "已挽留", "lost": "已流失", "note": "备注"},
                             ("联系", "contacted"), ("挽留成功", "retained"), ("流失", "lost")),
                   {"contacted": "已联系", "retained": "已挽留", "lost": "已流失", "note": "备注"}, "联系结果",
                   example="contacted", doc="contacted 已联系 / retained 已挽留 / lost 已流失 / note 备注"),
        choice_col("channel", "渠道", "channel",
                   _labelled({"chat": "聊天", "phone": "电话", "visit": "面访", "import": "导入"},
                             ("微信", "chat"), ("企业微信", "chat"), ("拜访", "visit"), ("上门", "visit")),
                   {"chat": "聊天", "phone": "电话", "visit": "面访", "import": "导入"}, "联系方式", "联系渠道",
                   required=False, default="import", example="phone",
                   doc="chat 聊天 / phone 电话 / visit 面访 / import 导入; default import"),
        text_col("ref", "关联事项", "ref", 96, "事项", example="maturing:H123", doc="the pushed item answered, if any"),
        text_col("note", "备注", "note", 500, "说明", "联系内容", example="客户表示到期后续存"),
    ),
    key=("customer_id", "staff_id", "at", "channel"),
    refs=(Ref("customer_id", "customer", "客户号不存在"), Ref("staff_id", "staff", "员工号不存在")),
    date_column="at",
    unique_key=False,
    prefixes=("contacts", "contact", "联系记录", "客户联系"),
    doc="The CRM follow-up log. A contact is identified by customer, staff, time and channel.",
)

KINDS: dict[str, Kind] = {k.name: k for k in (ORG, STAFF, CUSTOMERS, HOLDINGS, BALANCES, AUM_MONTHLY, CORPORATE_MONTHLY, CONTACTS)}
"""In dependency order: importing a directory with `all` follows it."""

KIND_ALIASES = {"orgs": "org", "机构": "org", "员工": "staff", "customer": "customers", "客户": "customers",
                "holding": "holdings", "持仓": "holdings", "balance": "balances", "时点余额": "balances",
                "余额": "balances", "月日均": "aum_monthly", "corporate": "corporate_monthly",
                "对公": "corporate_monthly", "contact": "contacts", "联系记录": "contacts"}


def find_kind(name: str) -> Kind | None:
    key = name.strip().lower()
    return KINDS.get(KIND_ALIASES.get(key, key))


def kind_of_file(filename: str) -> Kind | None:
    """The kind whose longest prefix starts the file name (客户联系… is contacts, not customers)."""
    lowered = unicodedata.normalize("NFKC", filename).lower()
    best: tuple[int, Kind] | None = None
    for kind in KINDS.values():
        for prefix in kind.prefixes:
            if lowered.startswith(prefix) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), kind)
    return best[1] if best else None
