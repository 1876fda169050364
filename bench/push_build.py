"""Build every push list for every branch of the 1M-customer bank, as the 08:30 job does.

Runs in its own process (`python -m bench.push_build sqlite|postgres`) so the peak RSS it
reports is the build's own. The outbox rows it writes are deleted afterwards.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from datetime import date, datetime, time as dtime
from pathlib import Path

from sqlalchemy import delete

from bench.common import postgres_bank, sqlite_bank
from bot.calendar_data import load_calendar
from bot.clock import SHANGHAI
from bot.push.service import PushService
from bot.store.models import Outbox
from bot.testing import add_file_destinations
from rules.policy import default_policy

PUSH_DAY = date(2026, 11, 23)  # the Monday after the bench bank's data date: every list kind is due
LIST_KINDS = ("maturing", "churn", "downgrade")
"""The push lists of docs/DOMAIN.md §3/§4 (the weekly manager summary is a report, measured apart)."""


def main(which: str) -> dict[str, object]:
    bank = sqlite_bank() if which == "sqlite" else postgres_bank()
    add_file_destinations(bank.engine, Path(tempfile.mkdtemp()))
    with bank.engine.begin() as conn:
        conn.execute(delete(Outbox))
    service = PushService(bank.engine, default_policy(), load_calendar())
    now = datetime.combine(PUSH_DAY, dtime(8, 30), SHANGHAI)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    per_kind = {}
    start = time.perf_counter()
    items = rows = 0
    for kind in LIST_KINDS:
        t = time.perf_counter()
        result = service.build(kind, PUSH_DAY, now=now)
        per_kind[kind] = round(time.perf_counter() - t, 2)
        items += sum(b.items for b in result.branches)
        rows += sum(b.enqueued for b in result.branches)
    total = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with bank.engine.begin() as conn:
        conn.execute(delete(Outbox))
    return {"database": bank.name, "seconds": round(total, 2), "per_kind_seconds": per_kind, "items": items,
            "outbox_rows": rows, "peak_rss_mb": round(peak / 1024), "rss_growth_mb": round((peak - rss_before) / 1024)}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1] if len(sys.argv) > 1 else "sqlite")))
