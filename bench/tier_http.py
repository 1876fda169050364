"""`/tier` over the Slack HTTP endpoint with 50 signed requests always in flight, next to a
trivial Bolt handler on the same server (the framework's floor).

Three processes, as in production: the server (`rmbot serve`'s app factory, 1..N uvicorn
workers, plus the floor routes), the database, and this one: an asyncio load generator with
keep-alive connections and requests signed in advance (each body unique, for the replay
guard), which also plays Slack's side (response_url, Web API). Closed loop: each of the
`concurrency` connections sends its next request when the previous one is answered. Latency
is send → answer received: the ack body when the answer rides in it, else the answer's
arrival at the response_url.

Besides percentiles it reports throughput and CPU per request (server processes, this
process, PostgreSQL's, the whole machine) and how busy each server process was, because on a
small machine a closed loop's latency is concurrency ÷ throughput (Little's law), i.e. about
CPU per request × concurrency ÷ cores. PostgreSQL's and the machine's figures include whatever
else runs on the machine (and backends that exit mid-run are missed): read them as bounds.
Floors: "floor" is a trivial /ping handler through Bolt's own Starlette adapter; "floor_ours"
the same handler behind our endpoint (signature check, store-backed replay guard, thread).

    python -m bench.tier_http sqlite|postgres [--workers N] [--concurrency C] [--requests N]
                                              [--sweep 1,2,4,8,16,32,50] [--profile FILE]

prints one JSON document (the last line of stdout).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

from slack_sdk.signature import SignatureVerifier
from sqlalchemy import select

from bench.common import CUSTOMERS, DATA, PG_URL, percentile, postgres_bank, sqlite_bank
from bot.store.models import ChatIdentity, Customer, Staff

SECRET = "bench-signing-secret"
CONCURRENCY = 50
REQUESTS = int(os.environ.get("RMBOT_BENCH_HTTP_REQUESTS", "3000"))
WARMUP = 300
PORT = 3990
OUR_PATH = "/slack/events"
FLOOR_PATH = "/floor/events"
"""The trivial handler through Bolt's own Starlette adapter: the framework and nothing else."""
FLOOR_OURS_PATH = "/floor-ours/events"
"""The same trivial handler behind our endpoint (signature check, store-backed replay guard,
worker thread): what our HTTP layer adds, without the core."""
TICK = os.sysconf("SC_CLK_TCK")


# -- the server process --------------------------------------------------------------------
def database_url(which: str) -> str:
    if which == "sqlite":
        return f"sqlite:///{DATA / f'bank-{CUSTOMERS}.db'}"
    return f"{PG_URL}?options={quote(f'-csearch_path=bench_{CUSTOMERS}')}"


def bench_app():  # noqa: ANN201  (a Starlette app; uvicorn's factory)
    """`bot.server.create_app` (what `rmbot serve` runs in each worker) plus the two floors."""
    from slack_bolt import App
    from slack_bolt.adapter.starlette import SlackRequestHandler
    from slack_sdk import WebClient
    from starlette.routing import Route

    from bot.adapters.slack.endpoint import SlackEndpoint
    from bot.core.dedupe import StoreDeduper
    from bot.server import create_app
    from bot.store.db import make_engine

    app = create_app()
    floor = App(signing_secret=SECRET, client=WebClient(token="xoxb-bench", base_url=os.environ["SLACK_API_URL"]),
                token_verification_enabled=False, process_before_response=True)

    def ping(ack) -> None:  # noqa: ANN001
        ack(response_type="ephemeral", text="ok")

    floor.command("/ping")(ping)
    ours = SlackEndpoint(floor, SECRET, seen=StoreDeduper(make_engine(os.environ["DATABASE_URL"])))
    app.router.routes.append(Route(FLOOR_PATH, SlackRequestHandler(floor).handle, methods=["POST"]))
    app.router.routes.append(Route(FLOOR_OURS_PATH, ours.handle, methods=["POST"]))
    return app


def serve(workers: int, profile: str | None) -> None:
    from bot.server import run

    if profile:
        _serve_profiled(profile)
        return
    run("bench.tier_http:bench_app", host="127.0.0.1", port=PORT, workers=workers, log_level="warning")


def _serve_profiled(path: str) -> None:
    """One process, every thread under cProfile (pools start their threads lazily, after this)."""
    import cProfile
    import pstats
    import threading

    from bot.server import run

    profilers: list[cProfile.Profile] = []

    def start(*_: object) -> None:
        p = cProfile.Profile()
        profilers.append(p)
        p.enable()  # replaces this hook for the calling thread

    class Stop(Exception):
        pass

    def stop(*_: object) -> None:
        raise Stop

    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again: land in `stop`.
    signal.signal(signal.SIGTERM, stop)
    threading.setprofile(start)
    main = cProfile.Profile()
    profilers.append(main)
    main.enable()
    try:
        run(bench_app(), host="127.0.0.1", port=PORT, log_level="warning")
    except Stop:
        pass
    main.disable()
    stats = pstats.Stats(profilers[0])
    for p in profilers[1:]:
        try:
            stats.add(p)
        except TypeError:  # a thread that never ran anything
            pass
    stats.dump_stats(path)


# -- the load generator (this process) -------------------------------------------------------
class SlackSide:
    """Slack's end of the conversation: response_url and the Web API (auth.test) on one port."""

    API_ANSWER = b'{"ok":true,"url":"x","team":"T","user":"b","team_id":"T0BENCH","user_id":"UBOT","bot_id":"B0"}'

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.waiting: dict[str, asyncio.Future[float]] = {}
        self.port = 0

    async def start(self) -> None:
        server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def answer(self, key: str, timeout: float = 60.0) -> float:
        """When the response_url of request `key` was first called."""
        if key in self.arrived:
            return self.arrived.pop(key)
        future = self.waiting[key] = asyncio.get_running_loop().create_future()
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self.waiting.pop(key, None)
            self.arrived.pop(key, None)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                now = time.perf_counter()
                path, length = _request_line_and_length(head)
                await reader.readexactly(length)
                if path.startswith("/r/"):
                    self._arrived(path[3:], now)
                body = self.API_ANSWER
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                             + str(len(body)).encode() + b"\r\n\r\n" + body)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    def _arrived(self, key: str, at: float) -> None:
        future = self.waiting.get(key)
        if future is not None and not future.done():
            future.set_result(at)
        elif key not in self.arrived:
            self.arrived[key] = at


def _request_line_and_length(head: bytes) -> tuple[str, int]:
    lines = head.decode("latin-1").split("\r\n")
    path = lines[0].split(" ")[1]
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "content-length":
            length = int(value)
    return path, length


@dataclass
class Job:
    index: int
    key: str
    raw: bytes


def sign_jobs(path: str, command: str, texts: list[tuple[str, str]], response_base: str) -> list[Job]:
    """Every request ready to write to the socket: signed now, each with its own response_url."""
    verifier = SignatureVerifier(SECRET)
    ts = str(int(time.time()))
    jobs = []
    for i, (user, text) in enumerate(texts):
        key = uuid.uuid4().hex
        body = urlencode({"team_id": "T0BENCH", "channel_id": "D0BENCH", "channel_name": "directmessage",
                          "user_id": user, "command": command, "text": text, "api_app_id": "A0BENCH",
                          "response_url": f"{response_base}/r/{key}", "trigger_id": "1.2.3"}).encode()
        signature = verifier.generate_signature(timestamp=ts, body=body.decode())
        head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{PORT}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"X-Slack-Request-Timestamp: {ts}\r\nX-Slack-Signature: {signature}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n")
        jobs.append(Job(i, key, head.encode() + body))
    return jobs


@dataclass
class Run:
    latencies_ms: list[float] = field(default_factory=list)
    inline: int = 0
    deferred: int = 0
    first_start: float = float("inf")
    last_end: float = 0.0


async def closed_loop(jobs: list[Job], slack: SlackSide, concurrency: int, warmup: int) -> Run:
    """`concurrency` keep-alive connections, each sending its next job once the last is answered."""
    run = Run()
    queue: Iterator[Job] = iter(jobs)

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", PORT)
        try:
            for job in queue:
                start = time.perf_counter()
                writer.write(job.raw)
                status, body = await _read_response(reader)
                if status != 200:
                    raise RuntimeError(f"HTTP {status}: {body[:200]!r}")
                end = time.perf_counter() if body else await slack.answer(job.key)
                if job.index >= warmup:
                    run.latencies_ms.append((end - start) * 1000)
                    run.first_start = min(run.first_start, start)
                    run.last_end = max(run.last_end, end)
                    if body:
                        run.inline += 1
                    else:
                        run.deferred += 1
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return run


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length) if length else b""


# -- CPU accounting --------------------------------------------------------------------------
def _proc_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a live process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


def tree_cpu(root: int) -> dict[int, float]:
    """CPU seconds of `root` and of every live descendant (uvicorn's workers), by pid."""
    stats = {int(p): s for p in os.listdir("/proc") if p.isdigit() and (s := _proc_stat(int(p)))}
    out: dict[int, float] = {}
    frontier = [root]
    while frontier:
        pid = frontier.pop()
        out[pid] = stats.get(pid, (0, 0.0))[1]
        frontier += [child for child, (parent, _) in stats.items() if parent == pid]
    return out


def postgres_cpu() -> float:
    total = 0.0
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if Path(f"/proc/{p}/comm").read_text().strip() == "postgres":
                    total += (_proc_stat(int(p)) or (0, 0.0))[1]
            except OSError:
                pass
    return total


def machine_cpu() -> float:
    """Busy CPU seconds of the whole machine (every core, every process)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = sum(values[:8]) - values[3] - values[4]  # minus idle and iowait
    return busy / TICK


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Meter:
    server_pid: int
    start: dict[str, float] = field(default_factory=dict)

    def snapshot(self) -> dict[str, float]:
        per_process = tree_cpu(self.server_pid)
        return {"server": sum(per_process.values()), "postgres": postgres_cpu(), "machine": machine_cpu(),
                "generator": own_cpu(), "wall": time.perf_counter(),
                **{f"pid{pid}": cpu for pid, cpu in per_process.items()}}


async def measure(path: str, command: str, texts: list[tuple[str, str]], slack: SlackSide, server_pid: int,
                  concurrency: int, warmup: int) -> dict[str, object]:
    """One closed-loop run: percentiles of the measured part, throughput and CPU per request."""
    jobs = sign_jobs(path, command, texts, slack.url)
    before = Meter(server_pid).snapshot()
    run = await closed_loop(jobs, slack, concurrency, warmup)
    after = Meter(server_pid).snapshot()
    done = len(jobs)  # CPU covers warm-up too: divide by every request
    cpu = {k: round((after[k] - before[k]) * 1000 / done, 2) for k in ("server", "postgres", "generator", "machine")}
    wall = after["wall"] - before["wall"]
    busy = sorted((round((after[k] - before.get(k, 0.0)) / wall, 2) for k in after if k.startswith("pid")),
                  reverse=True)
    xs = run.latencies_ms
    return {"n": len(xs), "p50_ms": round(percentile(xs, 50), 1), "p99_ms": round(percentile(xs, 99), 1),
            "max_ms": round(max(xs), 1), "inline": run.inline, "deferred": run.deferred,
            "req_per_s": round(len(xs) / (run.last_end - run.first_start), 1),
            "cpu_ms_per_req": cpu, "server_cores_busy": [b for b in busy if b > 0.01], "concurrency": concurrency}


# -- orchestration ---------------------------------------------------------------------------
def link_rms(engine) -> dict[str, str]:  # noqa: ANN001
    """Slack user U<staff id> for every RM of the bench bank (idempotent)."""
    from sqlmodel import Session

    with Session(engine) as s:
        rms = list(s.execute(select(Staff.id).where(Staff.role == "rm")).scalars())
        known = set(s.execute(select(ChatIdentity.staff_id).where(ChatIdentity.platform == "slack")).scalars())
        s.add_all(ChatIdentity(platform="slack", external_id=f"U{rm}", staff_id=rm) for rm in rms if rm not in known)
        s.commit()
    return {rm: f"U{rm}" for rm in rms}


def lookups(which: str, count: int) -> tuple[str, list[tuple[str, str]]]:
    """(database name, `count` /tier lookups), each by the customer's own RM."""
    bank = sqlite_bank() if which == "sqlite" else postgres_bank()
    users = link_rms(bank.engine)
    rng = random.Random(11)
    picks = [f"C{rng.randint(1, CUSTOMERS):07d}" for _ in range(count)]
    wanted = sorted(set(picks))
    owner: dict[str, str] = {}
    with bank.engine.connect() as conn:
        for i in range(0, len(wanted), 5000):
            chunk = wanted[i:i + 5000]
            owner.update(conn.execute(select(Customer.id, Customer.rm_id).where(Customer.id.in_(chunk))).all())
    bank.engine.dispose()
    return bank.name, [(users[owner[c]], c) for c in picks]


def start_server(which: str, workers: int, api_url: str, profile: str | None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": database_url(which), "SLACK_BOT_TOKEN": "xoxb-bench",
           "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": api_url, "RMBOT_SERVE_PLATFORMS": "slack",
           "RMBOT_LOG_LEVEL": "WARNING"}
    args = [sys.executable, "-m", "bench.tier_http", "serve", str(workers)] + ([profile] if profile else [])
    return subprocess.Popen(args, env=env)


async def wait_healthy(seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", PORT)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            status, _ = await _read_response(reader)
            writer.close()
            if status == 200:
                return
        except OSError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("server did not start")


async def bench(which: str, workers: int, concurrency: int, requests: int, sweep: list[int],
                profile: str | None) -> dict[str, object]:
    name, texts = lookups(which, (requests + WARMUP) * (1 + len(sweep)))
    slack = SlackSide()
    await slack.start()
    server = start_server(which, workers, f"{slack.url}/api/", profile)
    try:
        await wait_healthy()
        ping = [("UFLOOR", "")] * (requests + WARMUP)
        floor = await measure(FLOOR_PATH, "/ping", ping, slack, server.pid, concurrency, WARMUP)
        floor_ours = await measure(FLOOR_OURS_PATH, "/ping", ping, slack, server.pid, concurrency, WARMUP)
        tier = await measure(OUR_PATH, "/tier", texts[: requests + WARMUP], slack, server.pid, concurrency, WARMUP)
        levels = []
        rest = texts[requests + WARMUP:]
        for c in sweep:
            batch, rest = rest[: requests + WARMUP], rest[requests + WARMUP:]
            levels.append(await measure(OUR_PATH, "/tier", batch, slack, server.pid, c, WARMUP))
    finally:
        server.terminate()
        server.wait(timeout=300 if profile else 30)  # writing a profile takes a while
    result: dict[str, object] = {
        "database": name, "workers": workers, "concurrency": concurrency, "tier": tier, "floor": floor,
        "floor_ours": floor_ours,
        "p99_ratio": round(tier["p99_ms"] / floor["p99_ms"], 2),  # type: ignore[operator]
        "p50_ratio": round(tier["p50_ms"] / floor["p50_ms"], 2),  # type: ignore[operator]
    }
    if levels:
        result["sweep"] = [{k: lv[k] for k in ("concurrency", "p50_ms", "p99_ms", "req_per_s", "deferred")}
                           for lv in levels]
    return result


def main(argv: list[str]) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m bench.tier_http")
    parser.add_argument("database", choices=("sqlite", "postgres"))
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--requests", type=int, default=REQUESTS)
    parser.add_argument("--sweep", default="", help="also /tier at these concurrencies, e.g. 1,2,4,8,16,32")
    parser.add_argument("--profile", help="cProfile the (single) server process into this file")
    args = parser.parse_args(argv)
    sweep = [int(c) for c in args.sweep.split(",") if c]
    workers = 1 if args.profile else args.workers
    return asyncio.run(bench(args.database, workers, args.concurrency, args.requests, sweep, args.profile))


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None)
    else:
        print(json.dumps(main(sys.argv[1:])))
