"""Delivering a day's pushes to 2,000 branch channels through a fake Slack (issue 9, part 3).

The outbox holds 10,954 real push messages for 2,000 channels (3 to 10 each; how they are
made and why: `bench/delivery_data.py`). The fake Slack (`bench/fast_slack.py`, its own
process, real HTTP on 127.0.0.1) answers every call after 50 ms and refuses with 429 a post that
comes less than 1 s after the channel's previous one. The measured time runs from the start of
`DeliveryWorker.drain()` — the production worker with `SlackSender`, as `rmbot push deliver`
builds them — until it returns with every row marked sent (checked in the database).

Theoretical minimum: a channel's messages must be 1 s apart and the last one takes 50 ms, so
nothing can finish before max over channels of (messages − 1) × 1 s + 50 ms. Target: ≤ 1.5×.

Also checked, from what the fake Slack recorded: every message arrived exactly once (by the
outbox key in its metadata), in outbox order within its channel, and how many 429s were answered.

`python -m bench.delivery_bench` runs SQLite and PostgreSQL, each in its own process, prints a
table and writes bench/results/delivery.json; `python -m bench.delivery_bench sqlite` runs one
and prints its JSON. Every run puts the rows back to `pending` first; `--rebuild` rebuilds the
databases (after a change to the rendering).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from bench import delivery_data as data
from bench.common import write_result
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from bot import clock
from bot.config import Settings
from bot.push.delivery import DeliveryWorker
from bot.push.senders import Sender
from bot.push.service import Renderer
from bot.push.wiring import configured_renderers, configured_senders

LATENCY = 0.05
INTERVAL = 1.0
TARGET_RATIO = 1.5
DATABASES = ("sqlite", "postgres")


@contextmanager
def fake_slack() -> Iterator[str]:
    """The fast fake Slack in its own process; yields its Web API base URL."""
    proc = subprocess.Popen([sys.executable, "-m", "bench.fast_slack", "--latency", str(LATENCY),
                             "--interval", str(INTERVAL)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.kill()
        proc.wait()


def _fake_call(base: str, what: str) -> dict[str, Any]:
    request = urllib.request.Request(f"{base}bench/{what}", method="POST" if what == "reset" else "GET")
    with urllib.request.urlopen(request, timeout=30) as resp:
        return json.loads(resp.read())


def settings_for(base: str) -> Settings:
    return Settings(_env_file=None, SLACK_BOT_TOKEN="xoxb-bench", SLACK_SIGNING_SECRET="bench",  # type: ignore[call-arg]
                    SLACK_API_URL=base + "api/")


def sender_for(base: str, engine: Engine) -> Sender:
    """The Slack sender as `rmbot push deliver` wires it."""
    return configured_senders(settings_for(base), engine)["slack"]


def renderers_for(engine: Engine) -> Mapping[str, Renderer]:
    """What `rmbot push run` renders with when it builds the pushes (it never calls Slack)."""
    return configured_renderers(settings_for("http://127.0.0.1:9/"), engine)


PLATFORMS = sorted(renderers_for(create_engine("sqlite://")))


def theoretical_minimum(expected: dict[str, list[str]]) -> float:
    return max(len(keys) - 1 for keys in expected.values()) * INTERVAL + LATENCY


def check(expected: dict[str, list[str]], records: list[list[Any]]) -> dict[str, Any]:
    """Exactly once and in order, per channel, from what the fake Slack accepted."""
    arrived: dict[str, list[tuple[str, float]]] = {}
    copies = Counter()
    for channel, key, part, at in records:
        copies[(key, part)] += 1
        if copies[(key, part)] == 1:
            arrived.setdefault(channel, []).append((key, at))
    order_violations = missing = 0
    gaps: list[float] = []
    for channel, keys in expected.items():
        got = [k for k, _ in arrived.get(channel, [])]
        missing += len(set(keys) - set(got))
        rank = {k: i for i, k in enumerate(keys)}
        order_violations += sum(1 for a, b in zip(got, got[1:]) if rank.get(a, -1) > rank.get(b, -1))
        stamps = [t for _, t in arrived.get(channel, [])]
        gaps += [b - a for a, b in zip(stamps, stamps[1:])]
    return {"duplicates": sum(n - 1 for n in copies.values() if n > 1), "missing": missing,
            "order_violations": order_violations, "min_gap_s": round(min(gaps), 3) if gaps else None}


def run(which: str) -> dict[str, Any]:
    engine = data.engine_for(which)
    with fake_slack() as base:
        if not data.is_built(engine, PLATFORMS):
            data.build([which], renderers_for)
            engine = data.engine_for(which)
        sender = sender_for(base, engine)
        data.reset(engine, clock.now())
        expected = data.per_channel(engine)
        _fake_call(base, "reset")
        worker = DeliveryWorker(engine, {"slack": sender})
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        cpu_before = time.process_time()
        start = time.perf_counter()
        stats = worker.drain()
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu_before
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        fake = _fake_call(base, "stats")
    minimum = theoretical_minimum(expected)
    return {
        "database": "SQLite" if which == "sqlite" else "PostgreSQL",
        "channels": len(expected), "messages": sum(map(len, expected.values())),
        "max_per_channel": max(map(len, expected.values())),
        "seconds": round(seconds, 2), "theoretical_min_s": round(minimum, 2), "ratio": round(seconds / minimum, 2),
        "sent": stats.sent, "left_unsent": data.unsent(engine), "worker_errors": len(stats.errors),
        "http_429": fake["rate_limited"], "accepted_posts": fake["accepted"], "history_calls": fake["history_calls"],
        **check(expected, fake["records"]),
        "worker_cpu_s": round(cpu, 2), "peak_rss_mb": round(peak / 1024), "rss_growth_mb": round((peak - rss_before) / 1024),
    }


def in_process(which: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "bench.delivery_bench", which], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    which = [a for a in argv if a in DATABASES]
    if which:
        print(json.dumps(run(which[0])))
        return 0
    stale = [db for db in DATABASES if "--rebuild" in argv or not data.is_built(data.engine_for(db), PLATFORMS)]
    if stale:  # both databases from one read of the bank
        print(f"building the delivery outbox ({', '.join(stale)}): {data.BRANCHES} channels", flush=True)
        spent = data.build(stale, renderers_for)
        for db, seconds in spent.items():
            print(f"   {db}: enqueued (rendering included) in {seconds:.1f} s", flush=True)
    print(f"delivery to {data.BRANCHES} channels, fake Slack {LATENCY * 1000:.0f} ms, 1 msg/s/channel", flush=True)
    results = [in_process(db) for db in DATABASES]
    write_result("delivery", {"latency_s": LATENCY, "interval_s": INTERVAL, "target_ratio": TARGET_RATIO,
                              "results": results})
    print(f"   {'':10s} {'messages':>8s} {'time':>7s} {'minimum':>8s} {'ratio':>6s} {'429s':>5s} {'dup':>4s} "
          f"{'order':>5s} {'unsent':>6s} {'cpu':>6s}")
    for r in results:
        print(f"   {r['database']:10s} {r['messages']:8d} {r['seconds']:6.2f}s {r['theoretical_min_s']:7.2f}s "
              f"{r['ratio']:6.2f} {r['http_429']:5d} {r['duplicates']:4d} {r['order_violations']:5d} "
              f"{r['left_unsent']:6d} {r['worker_cpu_s']:5.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
