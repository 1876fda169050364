"""`make bench`: every benchmark on the 1,000,000-customer banks (built once, then reused).

Each measurement runs in its own process, so memory and caches of one do not colour the next.
Prints a table and writes bench/results/*.json; BENCHMARKS.md records the figures.
"""

from __future__ import annotations

import json
import subprocess
import sys

from bench import tier_latency
from bench.common import CUSTOMERS, postgres_bank, sqlite_bank, write_result

DATABASES = ("sqlite", "postgres")


def in_process(module: str, *args: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    print(f"1. banks with {CUSTOMERS:,} customers (built once: minutes)", flush=True)
    banks = {"sqlite": sqlite_bank(), "postgres": postgres_bank()}
    for name, bank in banks.items():
        if bank.seed_seconds is not None:
            print(f"   {name}: seeded in {bank.seed_seconds:.0f} s", flush=True)

    print("2. /tier in process (each lookup by the customer's own RM)", flush=True)
    tier = [tier_latency.run(bank) for bank in banks.values()]
    write_result("tier_latency", {"customers": CUSTOMERS, "results": tier})
    for r in tier:
        print(f"   {r['database']:10s} p50 {r['p50_ms']} ms  p95 {r['p95_ms']} ms  p99 {r['p99_ms']} ms", flush=True)

    print("3. /tier over the Slack endpoint, 50 concurrent, next to a trivial Bolt handler", flush=True)
    http = [in_process("bench.tier_http", db) for db in DATABASES]
    write_result("tier_http", {"results": http})
    for r in http:
        print(f"   {r['database']:10s} tier {r['tier']}  floor {r['floor']}  p99 ratio {r['p99_ratio']}", flush=True)

    print("4. building every push (all kinds, all branches, into the outbox)", flush=True)
    build = [in_process("bench.push_build", db) for db in DATABASES]
    write_result("push_build", {"results": build})
    for r in build:
        print(f"   {r['database']:10s} {r['seconds']} s  {r['items']} items  peak RSS {r['peak_rss_mb']} MB", flush=True)

    print("5. push lists: ours vs a hand-written SQL floor vs pandas over CSV extracts", flush=True)
    lists = [in_process("bench.push_lists_compare", db) for db in DATABASES]
    write_result("push_lists_compare", {"results": lists})
    for r in lists:
        print(f"   {json.dumps(r, ensure_ascii=False)}", flush=True)

    print("6. import of a 1,000,000-row balance extract vs the database's bulk loader", flush=True)
    subprocess.run([sys.executable, "-m", "bench.import_bench"], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
