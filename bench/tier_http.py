"""`/tier` over the Slack HTTP endpoint under 50 concurrent signed requests, next to a trivial
Bolt handler on the same server (the framework's floor).

The server runs in its own process (as in production); this process signs and sends slash
commands from 50 threads and measures, per request, the time until the answer arrives at the
command's response_url. `python -m bench.tier_http sqlite|postgres` prints JSON.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import select

from bench.common import PG_URL, DATA, CUSTOMERS, percentile, postgres_bank, sqlite_bank
from bot.store.models import ChatIdentity, Customer, Staff

SECRET = "bench-signing-secret"
CONCURRENCY = 50
REQUESTS = int(os.environ.get("RMBOT_BENCH_HTTP_REQUESTS", "2000"))
WARMUP = 200


class Answers:
    """The response_url endpoint: records when each answer arrives."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.cond = threading.Condition()
        answers = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with answers.cond:
                    answers.arrived.setdefault(self.path.rsplit("/", 1)[-1], time.perf_counter())
                    answers.cond.notify_all()
                body = b'{"ok":true,"user_id":"UBOT","team_id":"T0BENCH","bot_id":"B0BENCH","url":"x"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def wait(self, key: str, timeout: float = 30.0) -> float | None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while key not in self.arrived:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)
            return self.arrived[key]


def link_rms(engine) -> dict[str, str]:  # noqa: ANN001
    """Slack user U<staff id> for every RM of the bench bank (idempotent)."""
    from sqlmodel import Session

    with Session(engine) as s:
        rms = list(s.execute(select(Staff.id).where(Staff.role == "rm")).scalars())
        known = set(s.execute(select(ChatIdentity.staff_id).where(ChatIdentity.platform == "slack")).scalars())
        s.add_all(ChatIdentity(platform="slack", external_id=f"U{rm}", staff_id=rm) for rm in rms if rm not in known)
        s.commit()
    return {rm: f"U{rm}" for rm in rms}


def run_load(url: str, command: str, texts: list[tuple[str, str]], answers: Answers) -> list[float]:
    verifier = SignatureVerifier(SECRET)
    latencies: list[float] = []
    lock = threading.Lock()
    queue = list(enumerate(texts))
    qlock = threading.Lock()

    def worker() -> None:
        with httpx.Client(timeout=30) as http:
            while True:
                with qlock:
                    if not queue:
                        return
                    i, (user, text) = queue.pop()
                key = uuid.uuid4().hex
                body = urlencode({"team_id": "T0BENCH", "channel_id": "D0BENCH", "channel_name": "directmessage",
                                  "user_id": user, "command": command, "text": text, "api_app_id": "A0BENCH",
                                  "response_url": f"{answers.url}/r/{key}", "trigger_id": "1.2.3"})
                ts = str(int(time.time()))
                headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts,
                           "X-Slack-Signature": verifier.generate_signature(timestamp=ts, body=body)}
                start = time.perf_counter()
                resp = http.post(url, content=body, headers=headers)
                if resp.status_code != 200:
                    raise RuntimeError(f"{resp.status_code} {resp.text[:200]}")
                done = answers.wait(key)
                if done is not None and i >= WARMUP:
                    with lock:
                        latencies.append((done - start) * 1000)

    threads = [threading.Thread(target=worker) for _ in range(CONCURRENCY)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies


def serve(which: str, port: int, api_url: str) -> None:
    """The server process: our app on /slack/events and a trivial Bolt app on /floor/events."""
    import uvicorn
    from slack_bolt import App
    from starlette.routing import Route

    from bot.adapters.slack.endpoint import SlackEndpoint
    from bot.config import Settings
    from bot.core.app import Rmbot
    from bot.server import build_app
    from bot.store.db import make_engine
    from rules.policy import default_policy

    url = f"sqlite:///{DATA / f'bank-{CUSTOMERS}.db'}" if which == "sqlite" else PG_URL
    kwargs = {} if which == "sqlite" else {"connect_args": {"options": f"-csearch_path=bench_{CUSTOMERS}"}}
    engine = make_engine(url, pool_size=20, max_overflow=10, **kwargs)
    settings = Settings(SLACK_BOT_TOKEN="xoxb-bench", SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=api_url)
    app = build_app(Rmbot(engine, default_policy()), settings, ["slack"])
    from slack_sdk import WebClient

    floor = App(signing_secret=SECRET, client=WebClient(token="xoxb-bench", base_url=api_url),
                token_verification_enabled=False, process_before_response=True)

    def ack(ack) -> None:  # noqa: ANN001
        ack()

    def answer(respond) -> None:  # noqa: ANN001
        respond("ok")

    floor.command("/ping")(ack=ack, lazy=[answer])
    app.router.routes.append(Route("/floor/events", SlackEndpoint(floor, SECRET).handle, methods=["POST"]))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def main(which: str) -> dict[str, object]:
    bank = sqlite_bank() if which == "sqlite" else postgres_bank()
    users = link_rms(bank.engine)
    rng = random.Random(11)
    with bank.engine.connect() as conn:
        picks = [f"C{rng.randint(1, CUSTOMERS):07d}" for _ in range(REQUESTS + WARMUP)]
        owner = dict(conn.execute(select(Customer.id, Customer.rm_id).where(Customer.id.in_(picks))).all())
    bank.engine.dispose()
    port = 3990
    answers = Answers()
    server = subprocess.Popen([sys.executable, "-m", "bench.tier_http", "serve", which, str(port), f"{answers.url}/api/"])
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        floor = run_load(f"{base}/floor/events", "/ping", [("UFLOOR", "")] * (REQUESTS + WARMUP), answers)
        ours = run_load(f"{base}/slack/events", "/tier", [(users[owner[c]], c) for c in picks], answers)
    finally:
        server.terminate()
        server.wait(timeout=10)

    def stats(xs: list[float]) -> dict[str, float]:
        return {"n": len(xs), "p50_ms": round(percentile(xs, 50), 1), "p99_ms": round(percentile(xs, 99), 1)}

    o, f = stats(ours), stats(floor)
    return {"database": bank.name, "concurrency": CONCURRENCY, "tier": o, "floor": f,
            "p99_ratio": round(o["p99_ms"] / f["p99_ms"], 2), "p50_ratio": round(o["p50_ms"] / f["p50_ms"], 2)}


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        print(json.dumps(main(sys.argv[1])))
