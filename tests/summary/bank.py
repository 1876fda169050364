"""A small hand-built bank whose summary figures are worked out by hand below.

Data date 2026-11-20 (requests on 2026-11-21 09:00). Amounts in 万. Two 支行: 西湖 (SB01, with an
outlet OU011) and 滨江 (SB02). Complete months Jul–Oct (H and I also Apr–Jun).

| id  | who / where    | held    | Jul–Oct month ends | 11-20 | story                                        |
|-----|----------------|---------|--------------------|-------|----------------------------------------------|
| C01 | RM001 SB01     | 贵宾     | 30 30 30 30        | 32    | steady; 定期 10万 matures 11-25, 已承接          |
| C02 | RM001 OU011    | 潜力     | 15 15 15 18        | 25    | 潜力 → 贵宾 (HNW conversion); 理财 5万 11-10, 已联系 |
| C03 | RM001 SB01     | 贵宾     | 50 50 50 50        | 20    | 预警 (40%), handled 11-19; 定期 30万 matures 12-05 |
| C04 | RM002 SB01     | 潜力     | 8 8 8 8            | 6     | 关注 (75%), 沉睡 (never contacted); 大额存单 20万 11-28 |
| C05 | RM002 SB01     | 潜力     | 6 6 6 6            | 4     | 关注 (67%); 潜力 → 长尾; contacted 10-01 (not 沉睡) |
| C06 | RM001 SB01     | 长尾     | —                  | 2     | opened 2026-11-05: new, "entered"            |
| C07 | RM001 SB01     | corporate, opened 2026-11-10: new corporate                          |
| C08 | RM002 SB01     | 贵宾     | (Apr–Jun 40) 15 18 35 40 | 41 | case flagged 07-15, recovered             |
| C09 | RM001 SB01     | 贵宾     | (Apr–Jun 30) 5 5 5 5 | 5   | case flagged 07-10, 已流失 07-20: overdue      |
| C10 | RM003 SB02     | 私人银行  | 700 700 700 700    | 650   | 结构性存款 100万 matures 11-22, 已流失           |
| C11 | RM003 SB02     | 长尾     | 3 3 3 3            | 2     | 关注 (67%), 沉睡                               |
| C12 | RM003 SB02     | 贵宾     | 40 40 40 40        | 10    | 预警 (25%), first pushed 08-01: overdue; 贵宾 → 潜力 |
"""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.clock import SHANGHAI
from bot.store.migrate import upgrade
from bot.store.models import (
    AumMonthly,
    Balance,
    Contact,
    Customer,
    DataLoad,
    Holding,
    Org,
    Outbox,
    PushDestination,
    Staff,
)

DATA_DATE = date(2026, 11, 20)
WAN = 1_000_000
MONTHS = [date(2026, m, 1) for m in (4, 5, 6, 7, 8, 9, 10)]
H = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}


def at(d: date, hh: int = 10) -> datetime:
    return datetime.combine(d, time(hh, 0), SHANGHAI)


# id: (rm, org, held, month ends Apr..Oct (None = no row), point at 11-20, opened)
INDIVIDUALS: dict[str, tuple[str, str, str, list[int | None], int, date]] = {
    "C01": ("RM001", "SB01", "贵宾客户", [None, None, None, 30, 30, 30, 30], 32, date(2020, 1, 1)),
    "C02": ("RM001", "OU011", "潜力客户", [None, None, None, 15, 15, 15, 18], 25, date(2020, 1, 1)),
    "C03": ("RM001", "SB01", "贵宾客户", [None, None, None, 50, 50, 50, 50], 20, date(2020, 1, 1)),
    "C04": ("RM002", "SB01", "潜力客户", [None, None, None, 8, 8, 8, 8], 6, date(2020, 1, 1)),
    "C05": ("RM002", "SB01", "潜力客户", [None, None, None, 6, 6, 6, 6], 4, date(2020, 1, 1)),
    "C06": ("RM001", "SB01", "长尾客户", [None] * 7, 2, date(2026, 11, 5)),
    "C08": ("RM002", "SB01", "贵宾客户", [40, 40, 40, 15, 18, 35, 40], 41, date(2020, 1, 1)),
    "C09": ("RM001", "SB01", "贵宾客户", [30, 30, 30, 5, 5, 5, 5], 5, date(2020, 1, 1)),
    "C10": ("RM003", "SB02", "私人银行客户", [None, None, None, 700, 700, 700, 700], 650, date(2020, 1, 1)),
    "C11": ("RM003", "SB02", "长尾客户", [None, None, None, 3, 3, 3, 3], 2, date(2020, 1, 1)),
    "C12": ("RM003", "SB02", "贵宾客户", [None, None, None, 40, 40, 40, 40], 10, date(2020, 1, 1)),
}


def build_bank(engine: Engine, *, migrate: bool = True) -> Engine:
    if migrate:
        upgrade(engine)
    with Session(engine) as s:
        s.add(Org(id="BR01", name="测试分行", level="branch", path="/BR01/"))
        s.flush()
        s.add_all([Org(id="SB01", name="西湖支行", level="sub_branch", parent_id="BR01", path="/BR01/SB01/"),
                   Org(id="SB02", name="滨江支行", level="sub_branch", parent_id="BR01", path="/BR01/SB02/")])
        s.flush()
        s.add(Org(id="OU011", name="西湖营业部", level="outlet", parent_id="SB01", path="/BR01/SB01/OU011/"))
        s.flush()
        s.add_all([
            Staff(id="REG01", name="周建国", role="regional_manager", org_id="BR01"),
            Staff(id="BM01", name="钱支行", role="branch_manager", org_id="SB01"),
            Staff(id="BM02", name="孙支行", role="branch_manager", org_id="SB02"),
            Staff(id="RM001", name="王芳", role="rm", org_id="SB01"),
            Staff(id="RM002", name="李强", role="rm", org_id="SB01"),
            Staff(id="RM003", name="赵敏", role="rm", org_id="SB02"),
        ])
        s.flush()
        for cid, (rm, org, held, ends, point, opened) in INDIVIDUALS.items():
            s.add(Customer(id=cid, kind="individual", name=f"客户{cid}", rm_id=rm, org_id=org, opened_on=opened,
                           tier=held))
        s.add(Customer(id="C07", kind="corporate", name="杭州测试有限公司", rm_id="RM001", org_id="SB01",
                       opened_on=date(2026, 11, 10)))
        s.flush()
        for cid, (_rm, _org, _held, ends, point, _opened) in INDIVIDUALS.items():
            for month, end in zip(MONTHS, ends):
                if end is not None:
                    s.add(AumMonthly(customer_id=cid, month=month, avg_daily_fen=end * WAN, month_end_fen=end * WAN))
            s.add(AumMonthly(customer_id=cid, month=date(2026, 11, 1), avg_daily_fen=point * WAN,
                             month_end_fen=point * WAN))
            s.add(Balance(customer_id=cid, as_of=DATA_DATE, aum_fen=point * WAN))
        s.add_all([
            Holding(id=1, customer_id="C01", kind="定期存款", product_name="定期存款1年", amount_fen=10 * WAN,
                    start_date=date(2025, 11, 25), maturity_date=date(2026, 11, 25), term_months=12),
            Holding(id=2, customer_id="C02", kind="理财", product_name="理财6个月", amount_fen=5 * WAN,
                    start_date=date(2026, 5, 10), maturity_date=date(2026, 11, 10), term_months=6),
            Holding(id=3, customer_id="C04", kind="大额存单", product_name="大额存单1年", amount_fen=20 * WAN,
                    start_date=date(2025, 11, 28), maturity_date=date(2026, 11, 28), term_months=12),
            Holding(id=4, customer_id="C10", kind="结构性存款", product_name="结构性存款3个月", amount_fen=100 * WAN,
                    start_date=date(2026, 8, 22), maturity_date=date(2026, 11, 22), term_months=3),
            Holding(id=5, customer_id="C01", kind="基金", product_name="稳健混合基金", amount_fen=3 * WAN,
                    start_date=date(2025, 11, 15), maturity_date=date(2026, 11, 15)),
            Holding(id=6, customer_id="C03", kind="定期存款", product_name="定期存款1年", amount_fen=30 * WAN,
                    start_date=date(2025, 12, 5), maturity_date=date(2026, 12, 5), term_months=12),
        ])
        s.add_all([
            Contact(customer_id="C01", staff_id="RM001", at=at(date(2026, 11, 18)), outcome="contacted", ref="maturing:1"),
            Contact(customer_id="C01", staff_id="RM001", at=at(date(2026, 11, 19)), outcome="retained", ref="maturing:1"),
            Contact(customer_id="C02", staff_id="RM001", at=at(date(2026, 11, 8)), outcome="contacted", ref="maturing:2"),
            Contact(customer_id="C10", staff_id="RM003", at=at(date(2026, 11, 19)), outcome="lost", ref="maturing:4"),
            Contact(customer_id="C03", staff_id="RM001", at=at(date(2026, 11, 19)), outcome="contacted",
                    ref="churn:C03:warning"),
            Contact(customer_id="C05", staff_id="RM002", at=at(date(2026, 10, 1)), outcome="contacted", channel="phone"),
            Contact(customer_id="C08", staff_id="RM002", at=at(date(2026, 7, 15)), outcome="contacted",
                    ref="churn:C08:warning"),
            Contact(customer_id="C09", staff_id="RM001", at=at(date(2026, 7, 10)), outcome="contacted",
                    ref="churn:C09:warning"),
            Contact(customer_id="C09", staff_id="RM001", at=at(date(2026, 7, 20)), outcome="lost",
                    ref="churn:C09:warning"),
        ])
        s.add(Outbox(key="churn:SB02:2026-08-01:file:1", kind="churn", org_id="SB02", push_date=date(2026, 8, 1),
                     platform="file", target="/tmp/x", status="sent", next_attempt_at=at(date(2026, 8, 1), 8),
                     created_at=at(date(2026, 8, 1), 8),
                     payload='{"title":"【流失预警】滨江支行","sections":[{"items":[{"text":"客户C12","ref":"churn:C12:watch"}]}]}'))
        s.add(DataLoad(kind="seed", data_date=DATA_DATE, loaded_at=at(DATA_DATE, 23), source="tests/summary/bank.py"))
        s.commit()
    return engine


def add_destinations(engine: Engine, folder: str) -> None:
    with Session(engine) as s:
        for org in ("SB01", "SB02"):
            s.add(PushDestination(org_id=org, platform="file", target=f"{folder}/{org}"))
        s.commit()
