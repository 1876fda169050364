"""Push lists three ways on the 1M-customer bank: rmbot's queries, a hand-written SQL floor,
and a pandas script over CSV extracts (what banks do today). The lists must be identical.

`python -m bench.push_lists_compare sqlite|postgres` prints JSON.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from datetime import date
from pathlib import Path

from sqlmodel import Session

from bench.common import DATA, postgres_bank, sqlite_bank
from bot.calendar_data import load_calendar
from bot.clock import add_months, month_start
from bot.store.push_lists import churn_counts, churn_rows, downgrade_rows, maturing_rows
from bot.testing import DEMO_DATA_DATE
from rules.maturity import maturity_window, ratio_scaled
from rules.money import yuan_to_fen
from rules.policy import Policy, default_policy

PUSH_DAY = date(2026, 11, 23)
Lists = dict[str, set[tuple[object, ...]]]


def window(policy: Policy) -> tuple[date, date]:
    w = maturity_window(PUSH_DAY, load_calendar(), policy.maturity.window_days)
    return w.start, w.end


def ours(engine, policy: Policy) -> tuple[float, Lists]:  # noqa: ANN001
    start, end = window(policy)
    t = time.perf_counter()
    with Session(engine) as s:
        mat = {(r.holding_id, r.customer_id, r.rm_id, r.branch_id) for r in maturing_rows(s, policy, start, end)}
        churn_counts(s, policy, DEMO_DATA_DATE)
        chu = {(r.customer_id, r.level) for r in churn_rows(s, policy, DEMO_DATA_DATE)}
        dow = {(r.customer_id, r.months_below) for r in downgrade_rows(s, policy, DEMO_DATA_DATE)}
    return time.perf_counter() - t, {"maturing": mat, "churn": chu, "downgrade": dow}


def floor_sql(policy: Policy) -> dict[str, str]:
    start, end = window(policy)
    m0 = month_start(DEMO_DATA_DATE)
    p = policy.churn
    kinds = ", ".join(f"'{k}'" for k in policy.maturity.kinds)
    lines = " UNION ALL ".join(f"SELECT '{r.name}' AS tier, {r.min_fen} AS line" for r in policy.tiers.ladder)
    first = add_months(m0, -policy.tiers.downgrade_months)
    watch, warn = ratio_scaled(p.watch_ratio), ratio_scaled(p.warning_ratio)
    return {
        "maturing": f"""
            SELECT h.id, c.id, c.rm_id, CASE WHEN o.level = 'outlet' THEN o.parent_id ELSE o.id END
            FROM holding h JOIN customer c ON c.id = h.customer_id JOIN org o ON o.id = c.org_id
            WHERE h.maturity_date BETWEEN '{start}' AND '{end}' AND h.kind IN ({kinds})
              AND NOT EXISTS (SELECT 1 FROM contact k WHERE k.ref = 'maturing:' || CAST(h.id AS VARCHAR))""",
        "churn_counts": f"""
            WITH base AS (SELECT customer_id, max(month_end_fen) AS baseline FROM aum_monthly
                          WHERE month >= '{add_months(m0, -p.baseline_months)}' AND month < '{m0}' GROUP BY customer_id)
            SELECT count(*) FROM balance b JOIN base ON base.customer_id = b.customer_id
            WHERE b.as_of = '{DEMO_DATA_DATE}' AND base.baseline >= {yuan_to_fen(p.min_baseline_yuan)}
              AND b.aum_fen * 1000000 <= base.baseline * {watch}""",
        "churn": f"""
            WITH base AS (SELECT customer_id, max(month_end_fen) AS baseline FROM aum_monthly
                          WHERE month >= '{add_months(m0, -p.baseline_months)}' AND month < '{m0}' GROUP BY customer_id),
            hits AS (SELECT b.customer_id, CASE WHEN b.aum_fen * 1000000 <= base.baseline * {warn}
                                                 THEN 'warning' ELSE 'watch' END AS level
                     FROM balance b JOIN base ON base.customer_id = b.customer_id
                     WHERE b.as_of = '{DEMO_DATA_DATE}' AND base.baseline >= {yuan_to_fen(p.min_baseline_yuan)}
                       AND b.aum_fen * 1000000 <= base.baseline * {watch})
            SELECT customer_id, level FROM hits
            WHERE NOT EXISTS (SELECT 1 FROM contact k WHERE k.ref = 'churn:' || hits.customer_id || ':' || hits.level)""",
        "downgrade": f"""
            WITH lines AS ({lines}),
            cand AS (SELECT c.id, l.line FROM customer c JOIN lines l ON l.tier = c.tier
                     JOIN aum_monthly a ON a.customer_id = c.id AND a.month = '{add_months(m0, -1)}'
                     WHERE c.kind = 'individual' AND a.avg_daily_fen < l.line),
            last_ok AS (SELECT a.customer_id, max(a.month) AS m FROM aum_monthly a JOIN cand ON cand.id = a.customer_id
                        WHERE a.month >= '{first}' AND a.month < '{m0}' AND a.avg_daily_fen >= cand.line
                        GROUP BY a.customer_id)
            SELECT cand.id, count(a.month) FROM cand
            JOIN aum_monthly a ON a.customer_id = cand.id AND a.month >= '{first}' AND a.month < '{m0}'
            LEFT JOIN last_ok ON last_ok.customer_id = cand.id
            WHERE last_ok.m IS NULL OR a.month > last_ok.m
            GROUP BY cand.id""",
    }


def floor(engine, policy: Policy) -> tuple[float, Lists]:  # noqa: ANN001
    sql = floor_sql(policy)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        t = time.perf_counter()
        out: Lists = {}
        for name, stmt in sql.items():
            cur.execute(stmt)
            out[name] = {tuple(r) for r in cur.fetchall()}
        elapsed = time.perf_counter() - t
    finally:
        raw.close()
    out.pop("churn_counts")
    return elapsed, out


def export_csv(engine) -> Path:  # noqa: ANN001
    """The bank's nightly extracts, as a pandas user would get them (not timed)."""
    folder = DATA / "csv"
    if (folder / "done").exists():
        return folder
    folder.mkdir(exist_ok=True)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for table in ("customer", "org", "balance", "aum_monthly", "holding", "contact"):
            cur.execute(f"SELECT * FROM {table}")
            with open(folder / f"{table}.csv", "w", newline="", encoding="utf-8") as f:
                w = csv.writer(f)
                w.writerow([d[0] for d in cur.description])
                while rows := cur.fetchmany(50_000):
                    w.writerows(rows)
    finally:
        raw.close()
    (folder / "done").touch()
    return folder


def pandas_lists(folder: Path, policy: Policy) -> tuple[float, Lists]:
    import pandas as pd

    start, end = window(policy)
    m0 = month_start(DEMO_DATA_DATE)
    p = policy.churn
    t = time.perf_counter()
    cust = pd.read_csv(folder / "customer.csv", usecols=["id", "kind", "rm_id", "org_id", "tier"])
    org = pd.read_csv(folder / "org.csv", usecols=["id", "level", "parent_id"])
    hold = pd.read_csv(folder / "holding.csv", usecols=["id", "customer_id", "kind", "maturity_date"])
    bal = pd.read_csv(folder / "balance.csv", usecols=["customer_id", "as_of", "aum_fen"])
    aum = pd.read_csv(folder / "aum_monthly.csv", usecols=["customer_id", "month", "avg_daily_fen", "month_end_fen"])
    contact = pd.read_csv(folder / "contact.csv", usecols=["ref"])
    handled = set(contact["ref"].dropna())
    org["branch"] = org["parent_id"].where(org["level"] == "outlet", org["id"])
    cust = cust.merge(org[["id", "branch"]].rename(columns={"id": "org_id"}), on="org_id")

    h = hold[(hold["maturity_date"] >= str(start)) & (hold["maturity_date"] <= str(end)) & hold["kind"].isin(policy.maturity.kinds)]
    h = h.merge(cust[["id", "rm_id", "branch"]].rename(columns={"id": "customer_id"}), on="customer_id")
    h = h[~("maturing:" + h["id"].astype(str)).isin(handled)]
    mat = set(zip(h["id"], h["customer_id"], h["rm_id"], h["branch"]))

    prev = aum[(aum["month"] >= str(add_months(m0, -p.baseline_months))) & (aum["month"] < str(m0))]
    base = prev.groupby("customer_id")["month_end_fen"].max().rename("baseline").reset_index()
    b = bal[bal["as_of"] == str(DEMO_DATA_DATE)].merge(base, on="customer_id")
    b = b[(b["baseline"] >= yuan_to_fen(p.min_baseline_yuan)) & (b["aum_fen"] * 1_000_000 <= b["baseline"] * ratio_scaled(p.watch_ratio))]
    b = b.assign(level=(b["aum_fen"] * 1_000_000 <= b["baseline"] * ratio_scaled(p.warning_ratio)).map({True: "warning", False: "watch"}))
    b = b[~("churn:" + b["customer_id"] + ":" + b["level"]).isin(handled)]
    chu = set(zip(b["customer_id"], b["level"]))

    lines = {r.name: r.min_fen for r in policy.tiers.ladder}
    ind = cust[(cust["kind"] == "individual") & cust["tier"].notna()][["id", "tier"]].rename(columns={"id": "customer_id"})
    ind["line"] = ind["tier"].map(lines)
    first = add_months(m0, -policy.tiers.downgrade_months)
    hist = aum[(aum["month"] >= str(first)) & (aum["month"] < str(m0))].merge(ind, on="customer_id")
    latest = hist[hist["month"] == str(add_months(m0, -1))]
    cand = set(latest.loc[latest["avg_daily_fen"] < latest["line"], "customer_id"])
    hist = hist[hist["customer_id"].isin(cand)]
    last_ok = hist[hist["avg_daily_fen"] >= hist["line"]].groupby("customer_id")["month"].max().rename("last_ok")
    hist = hist.merge(last_ok, on="customer_id", how="left")
    below = hist[hist["last_ok"].isna() | (hist["month"] > hist["last_ok"])].groupby("customer_id").size()
    dow = {(cid, int(n)) for cid, n in below.items()}
    return time.perf_counter() - t, {"maturing": mat, "churn": chu, "downgrade": dow}


def main(which: str) -> dict[str, object]:
    bank = sqlite_bank() if which == "sqlite" else postgres_bank()
    policy = default_policy()
    floor(bank.engine, policy)  # warm the caches the same way for both
    t_ours, l_ours = ours(bank.engine, policy)
    t_floor, l_floor = floor(bank.engine, policy)
    result: dict[str, object] = {
        "database": bank.name, "ours_s": round(t_ours, 2), "sql_floor_s": round(t_floor, 2),
        "ratio_to_floor": round(t_ours / t_floor, 2),
        "rows": {k: len(v) for k, v in l_ours.items()},
        "identical_to_floor": l_ours == l_floor,
    }
    if which == "sqlite":
        folder = export_csv(bank.engine)
        t_pd, l_pd = pandas_lists(folder, policy)
        result.update(pandas_s=round(t_pd, 2), identical_to_pandas=l_ours == l_pd,
                      faster_than_pandas=t_ours < t_pd)
    return result


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1] if len(sys.argv) > 1 else "sqlite"), ensure_ascii=False))
