"""`make bench`: every benchmark on the 1,000,000-customer banks (built once, then reused).

Each measurement runs in its own process, so memory and caches of one do not colour the next.
Prints a table and writes bench/results/*.json; BENCHMARKS.md records the figures.
`python -m bench.run --only tier,http,build,lists,import` runs a subset.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

from bench import tier_latency
from bench.common import CUSTOMERS, Bank, postgres_bank, sqlite_bank, warm, write_result

DATABASES = ("sqlite", "postgres")


def in_process(module: str, *args: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def tier(banks: dict[str, Bank]) -> None:
    print("/tier in process (each lookup by the customer's own RM)", flush=True)
    results = [tier_latency.run(bank) for bank in banks.values()]
    write_result("tier_latency", {"customers": CUSTOMERS, "results": results})
    for r in results:
        print(f"   {r['database']:10s} p50 {r['p50_ms']} ms  p95 {r['p95_ms']} ms  p99 {r['p99_ms']} ms", flush=True)


def http(banks: dict[str, Bank]) -> None:
    print("/tier over the Slack endpoint, 50 concurrent, next to a trivial Bolt handler", flush=True)
    results = [in_process("bench.tier_http", db) for db in DATABASES]
    write_result("tier_http", {"results": results})
    for r in results:
        print(f"   {r['database']:10s} tier {r['tier']}  floor {r['floor']}  p99 ratio {r['p99_ratio']}", flush=True)


def build(banks: dict[str, Bank]) -> None:
    print("building every push list (all list kinds, all branches, into the outbox)", flush=True)
    results = [in_process("bench.push_build", db) for db in DATABASES]
    write_result("push_build", {"results": results})
    for r in results:
        print(f"   {r['database']:10s} {r['seconds']} s  {r['items']} items  peak RSS {r['peak_rss_mb']} MB", flush=True)


def lists(banks: dict[str, Bank]) -> None:
    print("push lists: ours vs a hand-written SQL floor vs pandas over CSV extracts", flush=True)
    results = [in_process("bench.push_lists_compare", db) for db in DATABASES]
    write_result("push_lists_compare", {"results": results})
    for r in results:
        print(f"   {json.dumps(r, ensure_ascii=False)}", flush=True)


def imports(banks: dict[str, Bank]) -> None:
    print("import of a 1,000,000-row balance extract vs the database's bulk loader", flush=True)
    subprocess.run([sys.executable, "-m", "bench.import_bench"], check=True)


def delivery(banks: dict[str, Bank]) -> None:
    """2,000 branch channels through a fake Slack (50 ms, 1 message/s/channel); its own banks."""
    subprocess.run([sys.executable, "-m", "bench.delivery_bench"], check=True)


STEPS: dict[str, Callable[[dict[str, Bank]], None]] = {
    "tier": tier, "http": http, "build": build, "lists": lists, "import": imports, "delivery": delivery}


def main() -> int:
    only = sys.argv[sys.argv.index("--only") + 1].split(",") if "--only" in sys.argv else list(STEPS)
    print(f"banks with {CUSTOMERS:,} customers (built once: minutes)", flush=True)
    banks = {"sqlite": sqlite_bank(), "postgres": postgres_bank()}
    for name, bank in banks.items():
        if bank.seed_seconds is not None:
            print(f"   {name}: seeded in {bank.seed_seconds:.0f} s", flush=True)
        print(f"   {name}: read into memory in {warm(bank):.0f} s", flush=True)
    for name in only:
        STEPS[name](banks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
