"""`make bench`: build (once) the 1M-customer banks, then measure. Prints a table, writes JSON."""

from __future__ import annotations

import sys

from bench import tier_latency
from bench.common import CUSTOMERS, postgres_bank, sqlite_bank, write_result


def main() -> int:
    rows = []
    for make in (sqlite_bank, postgres_bank):
        print(f"preparing {make.__name__} with {CUSTOMERS:,} customers …", flush=True)
        bank = make()
        if bank.seed_seconds is not None:
            print(f"  seeded in {bank.seed_seconds:.0f} s", flush=True)
        result = tier_latency.run(bank)
        result["seed_seconds"] = round(bank.seed_seconds, 1) if bank.seed_seconds else None
        rows.append(result)
        print(f"  /tier in process: p50 {result['p50_ms']} ms  p99 {result['p99_ms']} ms  errors {result['errors']}", flush=True)
    path = write_result("tier_latency", {"customers": CUSTOMERS, "results": rows})
    print()
    print(f"{'database':12s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s} {'max ms':>8s} {'seed s':>8s}")
    for r in rows:
        print(f"{r['database']:12s} {r['p50_ms']:8} {r['p95_ms']:8} {r['p99_ms']:8} {r['max_ms']:8} {str(r['seed_seconds']):>8s}")
    print(f"\nwritten {path}")
    return 0 if all(r["errors"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
