"""The synthetic demo bank: deterministic, realistic in shape, and fast enough for 1M customers.

Retail AUM is long-tailed (most customers under 5万, a few percent at 50万+, private banking
well under 0.1%: docs/DOMAIN.md §2), histories include churning, recovering, dormant and growing
customers, and a fixed set of showcase customers (C0000001…) guarantees every tier and state is
there to demo and test, whatever the size.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import insert
from sqlalchemy.engine import Engine

from bot.clock import SHANGHAI, add_months, month_start
from bot.store.bulk import bulk_insert
from bot.store.models import DataLoad
from rules.policy import Policy

SUB_BRANCH_NAMES = ["西湖", "滨江", "拱墅", "上城", "萧山", "余杭", "临平", "钱塘", "富阳", "临安", "桐庐", "淳安", "建德"]
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
COMPOUND = ["欧阳", "司马", "诸葛", "上官", "东方", "慕容"]
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建文辉玉兰志红国荣晓燕海波斌宇浩凯鹏飞婷雪琳欣怡子涵梓轩思远嘉")
CORP_WORDS = ["云帆", "恒信", "万通", "华泰", "鼎盛", "新源", "博远", "安康", "瑞丰", "德润", "星河", "锦程"]
CORP_INDUSTRY = [("制造业", "制造"), ("批发业", "贸易"), ("零售业", "商贸"), ("软件和信息技术服务业", "科技"),
                 ("建筑业", "建设"), ("餐饮业", "餐饮"), ("交通运输业", "物流"), ("租赁和商务服务业", "商务服务")]
STAFF_GIVEN = ["芳", "伟", "敏", "静", "磊", "洋", "丽", "强", "婷", "杰", "琳", "浩"]

# (kind, term months, share of AUM weight) for the products a customer may hold.
TERM_PRODUCTS = [("定期存款", [3, 6, 12, 24, 36, 60]), ("大额存单", [12, 24, 36]), ("结构性存款", [3, 6]),
                 ("理财", [3, 6, 12]), ("储蓄国债", [36, 60])]
OPEN_PRODUCTS = ["基金", "保险"]

REGIONAL_ID = "REG01"


@dataclass
class SeedSummary:
    customers: int
    staff: int
    sub_branches: int
    rows: int
    data_date: date
    examples: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Showcase:
    """A customer built to show one state; `months` are complete month-end balances, oldest first."""

    desc: str
    months: tuple[float, ...]  # yuan, 6 complete months oldest → newest
    point: float  # yuan, on the data date
    held: str | None = None
    txn: int = 6
    contact_days: int | None = 10
    maturing_in: int | None = None
    other_bank_share: float = 0.0
    corporate: str | None = None  # class to build for corporate showcases
    rm: int = 0
    sub_branch: int = 0


SHOWCASES: list[Showcase] = [
    Showcase("贵宾客户，定期 3 天后到期", (300e3, 305e3, 310e3, 312e3, 318e3, 320e3), 323_600, held="贵宾客户", maturing_in=3),
    Showcase("私人银行客户", (8.2e6, 8.3e6, 8.4e6, 8.4e6, 8.5e6, 8.5e6), 8_520_000, held="私人银行客户"),
    Showcase("流失预警（资金流向他行）", (580e3, 590e3, 600e3, 600e3, 600e3, 590e3), 210_000, held="贵宾客户",
             other_bank_share=0.7, txn=12),
    Showcase("流失关注", (118e3, 119e3, 120e3, 120e3, 119e3, 118e3), 90_000, held="潜力客户", txn=3, contact_days=60),
    Showcase("沉睡客户", (75e3, 72e3, 70e3, 68e3, 65e3, 62e3), 60_000, held="潜力客户", txn=0, contact_days=300),
    Showcase("降级风险：月日均低于 20 万已 2 个月", (250e3, 240e3, 235e3, 230e3, 182e3, 182e3), 185_000, held="贵宾客户"),
    Showcase("资产回流（挽回）", (400e3, 400e3, 180e3, 200e3, 390e3, 400e3), 405_000, held="贵宾客户"),
    Showcase("潜力客户，接近贵宾", (150e3, 155e3, 160e3, 165e3, 168e3, 170e3), 172_000, held="潜力客户", txn=4, contact_days=90),
    Showcase("长尾客户", (20e3, 20e3, 21e3, 21e3, 22e3, 22e3), 22_000, held="长尾客户", txn=2, contact_days=None),
    Showcase("对公 优质客户", (), 0, corporate="优质客户"),
    Showcase("对公 战略客户", (), 0, corporate="战略客户"),
    Showcase("对公 持续贡献客户（无贷户）", (), 0, corporate="持续贡献客户"),
    Showcase("对公 潜在合作客户", (), 0, corporate="潜在合作客户"),
    Showcase("同支行另一客户经理的客户", (60e3, 61e3, 62e3, 63e3, 64e3, 65e3), 65_000, held="潜力客户", rm=1),
    Showcase("另一支行的客户", (260e3, 260e3, 261e3, 262e3, 262e3, 263e3), 263_000, held="贵宾客户", sub_branch=1),
]


def customer_id(n: int) -> str:
    return f"C{n:07d}"


def seed_bank(
    engine: Engine,
    policy: Policy,
    customers: int = 2000,
    seed: int = 42,
    data_date: date | None = None,
    progress: Callable[[int], None] | None = None,
    outbox_dir: str | None = None,
) -> SeedSummary:
    """Write the whole bank in one transaction: a seed either lands completely or not at all."""
    if customers < len(SHOWCASES):
        raise ValueError(f"at least {len(SHOWCASES)} customers are needed for the showcase set")
    if data_date is None:
        data_date = (datetime.now(SHANGHAI) - timedelta(days=1)).date()
    gen = _Generator(policy, customers, seed, data_date)
    rows = 0
    with engine.begin() as conn:
        rows += bulk_insert(conn, "org", ["id", "name", "level", "parent_id", "path"], gen.orgs())
        rows += bulk_insert(conn, "staff", ["id", "name", "role", "org_id", "active"], gen.staff())
        buffers = _Buffers()
        for chunk_start in range(1, customers + 1, 20_000):
            chunk_end = min(customers, chunk_start + 19_999)
            for n in range(chunk_start, chunk_end + 1):
                gen.customer(n, buffers)
            rows += buffers.flush(conn)
            if progress:
                progress(chunk_end - chunk_start + 1)
        if outbox_dir:  # the demo's pushes land in files, one folder per branch
            rows += bulk_insert(conn, "push_destination", ["org_id", "platform", "target"],
                                [(sb, "file", f"{outbox_dir}/{sb}") for sb in gen.sub_branches])
        conn.execute(insert(DataLoad).values(
            kind="seed", data_date=data_date, loaded_at=datetime.now(SHANGHAI),
            source=f"rmbot seed --customers {customers} --seed {seed}", rows=rows))
    return SeedSummary(customers, len(gen.staff_rows), len(gen.sub_branches), rows, data_date, gen.examples())


class _Buffers:
    TABLES = {
        "customer": ["id", "kind", "name", "phone", "id_no", "rm_id", "org_id", "opened_on", "tier", "tier_since",
                     "industry", "employees", "revenue_fen", "assets_fen", "strategic"],
        "balance": ["customer_id", "as_of", "aum_fen", "deposit_fen", "outflow_other_bank_fen"],
        "aum_monthly": ["customer_id", "month", "avg_daily_fen", "month_end_fen", "txn_count"],
        "holding": ["customer_id", "kind", "product_name", "amount_fen", "start_date", "maturity_date", "term_months", "risk_level"],
        "corporate_monthly": ["customer_id", "month", "avg_deposit_fen", "point_deposit_fen", "pos_settlement_fen",
                              "payroll_headcount", "payroll_fen", "credit_cards", "loan_balance_fen"],
        "contact": ["customer_id", "staff_id", "at", "outcome", "channel", "ref", "note"],
    }

    def __init__(self) -> None:
        self.rows: dict[str, list[tuple[object, ...]]] = {t: [] for t in self.TABLES}

    def add(self, table: str, row: tuple[object, ...]) -> None:
        self.rows[table].append(row)

    def flush(self, conn: object) -> int:
        written = 0
        for table, cols in self.TABLES.items():  # parents first: foreign keys hold at every step
            if self.rows[table]:
                written += bulk_insert(conn, table, cols, self.rows[table])  # type: ignore[arg-type]
                self.rows[table].clear()
        return written


class _Generator:
    def __init__(self, policy: Policy, customers: int, seed: int, data_date: date) -> None:
        self.policy = policy
        self.rng = random.Random(seed)
        self.total = customers
        self.data_date = data_date
        self.current_month = month_start(data_date)
        # 6 complete months, oldest first, then the current (partial) month.
        self.months = [add_months(self.current_month, k) for k in range(-6, 0)]
        n_sub = max(3, min(len(SUB_BRANCH_NAMES) + 47, 5 + customers // 20_000))
        self.sub_branches = [f"SB{i + 1:02d}" for i in range(n_sub)]
        n_rm = max(2 * n_sub, customers // 400)
        width = max(3, len(str(n_rm)))
        self.rm_ids = [f"RM{i + 1:0{width}d}" for i in range(n_rm)]
        # RMs are dealt to sub-branches round robin: RM001 and RM00(1+n_sub) share SB01.
        self.rms_of: dict[str, list[str]] = {sb: self.rm_ids[i::n_sub] for i, sb in enumerate(self.sub_branches)}
        self.staff_rows: list[tuple[object, ...]] = []
        self.picked: dict[str, str] = {}
        self.ladder = [(row.min_fen, row.name) for row in policy.tiers.ladder]

    # ---- org and staff -------------------------------------------------------------------
    def orgs(self) -> Iterator[tuple[object, ...]]:
        yield ("BR01", "示范银行杭州分行", "branch", None, "/BR01/")
        for i, sb in enumerate(self.sub_branches):
            name = SUB_BRANCH_NAMES[i] if i < len(SUB_BRANCH_NAMES) else f"第{i + 1}"
            yield (sb, f"{name}支行", "sub_branch", "BR01", f"/BR01/{sb}/")
            yield (f"OU{i + 1:02d}1", f"{name}营业部", "outlet", sb, f"/BR01/{sb}/OU{i + 1:02d}1/")

    def staff(self) -> Iterator[tuple[object, ...]]:
        rows: list[tuple[object, ...]] = [(REGIONAL_ID, "周建国", "regional_manager", "BR01", True)]
        for i, sb in enumerate(self.sub_branches):
            rows.append((f"BM{i + 1:02d}", self._person_name(), "branch_manager", sb, True))
        for i, rm in enumerate(self.rm_ids):
            sb = self.sub_branches[i % len(self.sub_branches)]
            rows.append((rm, self.rng.choice(SURNAMES) + self.rng.choice(STAFF_GIVEN), "rm", sb, True))
        self.staff_rows = rows
        return iter(rows)

    # ---- customers -----------------------------------------------------------------------
    def customer(self, n: int, out: _Buffers) -> None:
        rng = self.rng
        cid = customer_id(n)
        show = SHOWCASES[n - 1] if n <= len(SHOWCASES) else None
        if show is not None:
            sb = self.sub_branches[show.sub_branch]
            rm = self.rms_of[sb][show.rm]
            self.picked[cid] = show.desc
        else:
            sb = self.sub_branches[rng.randrange(len(self.sub_branches))]
            rm = rng.choice(self.rms_of[sb])
        org = sb if rng.random() < 0.7 else f"OU{self.sub_branches.index(sb) + 1:02d}1"
        opened = self.data_date - timedelta(days=rng.randint(200, 6000))
        corporate = show.corporate if show else (self._corp_class() if rng.random() < 0.03 else None)
        if corporate is not None:
            self._corporate(cid, rm, org, opened, corporate, out)
            return
        name = self._person_name()
        phone = f"1{rng.choice('3456789')}{rng.randrange(10 ** 9):09d}"
        id_no = f"3301{rng.randint(1, 9):02d}{rng.randint(1950, 2004)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randrange(1000):03d}{rng.choice('0123456789X')}"
        if show is not None:
            month_ends = [int(v * 100) for v in show.months]
            point = int(show.point * 100)
            txn, contact_days, other_share = show.txn, show.contact_days, show.other_bank_share
            held = show.held
        else:
            month_ends, point, txn, contact_days, other_share = self._trajectory()
            held = self._held_tier(month_ends, point)
        out.add("customer", (cid, "individual", name, phone, id_no, rm, org, opened, held,
                             self.months[0], None, None, None, None, False))
        for i, month in enumerate(self.months):
            end = month_ends[i]
            avg = int(end * rng.uniform(0.985, 1.015))
            out.add("aum_monthly", (cid, month, avg, end, max(0, txn + rng.randint(-1, 1)) if txn else 0))
        mtd = int((month_ends[-1] + point) / 2)
        out.add("aum_monthly", (cid, self.current_month, mtd, point, txn))
        outflow = int(max(0, max(month_ends[-3:]) - point) * other_share)
        deposit = self._holdings(cid, point, show.maturing_in if show else None, out)
        out.add("balance", (cid, self.data_date, point, deposit, outflow))
        if contact_days is not None:
            at = datetime.combine(self.data_date - timedelta(days=contact_days), time(10, rng.randint(0, 59)), SHANGHAI)
            out.add("contact", (cid, rm, at, "contacted", rng.choice(["phone", "visit", "chat"]), None, None))

    def _trajectory(self) -> tuple[list[int], int, int, int | None, float]:
        rng = self.rng
        level = math.exp(rng.gauss(math.log(20_000), 1.8))
        level = min(max(level, 100.0), 80_000_000.0)
        kind = rng.random()
        txn = rng.choice([0, 1, 2, 3, 4, 6, 9, 12])
        contact: int | None = rng.choice([None, 5, 20, 45, 90, 150, 200, 320])
        other = 0.0
        if kind < 0.06:  # churning: steady, then a recent fall to 20–80%
            ends = [level * rng.uniform(0.97, 1.03) for _ in range(6)]
            point = level * rng.uniform(0.2, 0.82)
            other = rng.choice([0.0, 0.5, 0.8])
        elif kind < 0.09:  # recovering: dipped two-three months ago, back now
            ends = [level, level, level * 0.5, level * 0.6, level * 0.9, level]
            point = level * rng.uniform(0.95, 1.05)
        elif kind < 0.15:  # dormant-like: small, shrinking, nobody calls
            level = min(level, 95_000.0)
            ends = [level * (1.03 ** (6 - i)) for i in range(6)]
            point = level * 0.97
            txn, contact = 0, rng.choice([None, 200, 400])
        elif kind < 0.20:  # growing
            ends = [level * (1.05 ** i) for i in range(6)]
            point = level * 1.3
        else:  # stable
            ends = [level * rng.uniform(0.95, 1.05) for _ in range(6)]
            point = level * rng.uniform(0.96, 1.04)
        return [int(e * 100) for e in ends], int(point * 100), txn, contact, other

    def _held_tier(self, month_ends: list[int], point: int) -> str:
        """Walk the history with 快升缓降 so held tiers (and downgrade risks) look real."""
        def tier_of(fen: int) -> int:
            return next(i for i, (line, _) in enumerate(self.ladder) if fen >= line)

        held = tier_of(month_ends[0])
        below = 0
        for end in month_ends[1:] + [point]:
            t = tier_of(end)
            if t < held:
                held, below = t, 0
            elif t > held:
                below += 1
                if below >= self.policy.tiers.downgrade_months:
                    held, below = t, 0
            else:
                below = 0
        return self.ladder[held][1]

    def _holdings(self, cid: str, point: int, maturing_in: int | None, out: _Buffers) -> int:
        """Split the AUM over products; returns the deposit part. Amounts add up to the AUM."""
        rng = self.rng
        n_term = 0 if point < 500_000 else rng.choice([1, 1, 2, 2, 3])
        products: list[tuple[str, int | None]] = [("活期", None)]
        for _ in range(n_term):
            kind, terms = rng.choice(TERM_PRODUCTS)
            if kind == "大额存单" and point < 40_000_000:
                kind, terms = "定期存款", TERM_PRODUCTS[0][1]
            products.append((kind, rng.choice(terms)))
        if point > 2_000_000 and rng.random() < 0.4:
            products.append((rng.choice(OPEN_PRODUCTS), None))
        if maturing_in is not None and len(products) == 1:
            products.append(("定期存款", 12))
        weights = [rng.uniform(0.3, 1.0) if kind != "活期" else rng.uniform(0.1, 0.5) for kind, _ in products]
        total_w = sum(weights)
        remaining = point
        deposit = 0
        for i, ((kind, term), w) in enumerate(zip(products, weights)):
            amount = remaining if i == len(products) - 1 else int(point * w / total_w)
            remaining -= amount
            if kind in ("活期", "定期存款", "大额存单", "结构性存款"):
                deposit += amount
            maturity = start = None
            if term is not None:
                days_left = maturing_in if (maturing_in is not None and i == 1) else rng.randint(0, term * 30)
                maturity = self.data_date + timedelta(days=days_left)
                start = maturity - timedelta(days=term * 30)
            start = start or (self.data_date - timedelta(days=rng.randint(30, 2000)))
            risk = rng.choice(["R1", "R2", "R2", "R3"]) if kind == "理财" else None
            name = f"{kind}{term}个月" if term else {"活期": "活期储蓄", "基金": "稳健混合基金", "保险": "年金保险（期交）"}[kind]
            out.add("holding", (cid, kind, name, amount, start, maturity, term, risk))
        return deposit

    # ---- corporate -----------------------------------------------------------------------
    def _corp_class(self) -> str:
        r = self.rng.random()
        return "战略客户" if r < 0.03 else "优质客户" if r < 0.13 else "持续贡献客户" if r < 0.35 else "潜在合作客户" if r < 0.55 else "一般"

    def _corporate(self, cid: str, rm: str, org: str, opened: date, cls: str, out: _Buffers) -> None:
        rng = self.rng
        industry, word = rng.choice(CORP_INDUSTRY)
        name = f"杭州{rng.choice(CORP_WORDS)}{word}有限公司"
        employees = rng.choice([8, 35, 120, 260, 450, 1200])
        revenue = rng.choice([200, 900, 4000, 25_000, 60_000]) * 1_000_000  # 万元 → 分
        assets = rng.choice([150, 3000, 9000, 90_000]) * 1_000_000
        out.add("customer", (cid, "corporate", name, f"0571{rng.randrange(10 ** 8):08d}",
                             f"91330100{rng.randrange(10 ** 10):010d}", rm, org, opened, None, None,
                             industry, employees, revenue, assets, cls == "战略客户"))
        if cls == "潜在合作客户":
            return
        wan = 1_000_000
        base = {"优质客户": 12_000, "战略客户": 30_000, "持续贡献客户": 8_500}.get(cls, rng.choice([30, 80, 600, 2_000]))
        has_loan = cls != "持续贡献客户" and rng.random() < 0.5
        for month in self.months[-3:]:
            avg = int(base * wan * rng.uniform(0.98, 1.05))
            out.add("corporate_monthly", (cid, month, avg, int(avg * 1.2), rng.choice([0, 50, 200]) * wan,
                                          rng.choice([0, 20, 60]), rng.choice([0, 15, 40]) * wan // 10,
                                          rng.choice([0, 2, 5]), rng.choice([0, 500, 3000]) * wan if has_loan else 0))

    # ---- names and examples ----------------------------------------------------------------
    def _person_name(self) -> str:
        rng = self.rng
        surname = rng.choice(COMPOUND) if rng.random() < 0.01 else rng.choice(SURNAMES)
        return surname + "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2, 2])))

    def examples(self) -> dict[str, str]:
        first_rm = self.rms_of[self.sub_branches[0]][0]
        out = {
            first_rm: "客户经理（SB01），下面的示例客户都归其管理",
            "BM01": "支行负责人（SB01）",
            REGIONAL_ID: "分行管理者",
        }
        out.update({cid: desc for cid, desc in self.picked.items()})
        return out
