"""`/tier` latency in process on a 1M-customer bank: each lookup made by the customer's own RM.

Goes through the whole core (middlewares, access check, audit write, queries, rules, reply),
exactly as an adapter calls it; only the chat platform is left out.
"""

from __future__ import annotations

import random
import time

from sqlalchemy import select

from bot.core.app import Rmbot
from bot.core.request import Request
from bot.store.models import Customer
from bench.common import Bank, percentile
from bot.testing import DEMO_NOW
from rules.policy import default_policy


def run(bank: Bank, lookups: int = 3000, warmup: int = 300) -> dict[str, object]:
    rng = random.Random(7)
    with bank.engine.connect() as conn:
        max_n = conn.execute(select(Customer.id).order_by(Customer.id.desc()).limit(1)).scalar_one()
        picks = [f"C{rng.randint(1, int(max_n[1:])):07d}" for _ in range(lookups + warmup)]
        owners = dict(conn.execute(select(Customer.id, Customer.rm_id).where(Customer.id.in_(picks))).all())
    bot = Rmbot(bank.engine, default_policy())
    samples: list[float] = []
    errors = 0
    for i, cid in enumerate(picks):
        req = Request(text=f"/tier {cid}", platform="console", user_id=owners[cid], received_at=DEMO_NOW)
        start = time.perf_counter()
        reply = bot.handle(req)
        elapsed = time.perf_counter() - start
        if reply.kind != "info":
            errors += 1
        if i >= warmup:
            samples.append(elapsed * 1000)
    return {
        "database": bank.name, "lookups": lookups, "errors": errors,
        "p50_ms": round(percentile(samples, 50), 2), "p95_ms": round(percentile(samples, 95), 2),
        "p99_ms": round(percentile(samples, 99), 2), "max_ms": round(max(samples), 2),
    }
