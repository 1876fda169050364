"""A fake of Slack's Web API and response_url endpoint, speaking real HTTP on 127.0.0.1.

Point `WebClient(base_url=fake.base_url)` at it; use `fake.response_url(name)` as the
response_url in slash command and click payloads. Every call is recorded (including the ones
answered with a scripted failure), and `fail()` makes the next calls of a method answer
429 with Retry-After, or a 5xx, the way Slack does under load.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

BOT_USER_ID = "UBOT00001"
BOT_ID = "BBOT00001"
TEAM_ID = "T00000001"


@dataclass
class Call:
    method: str
    """Web API method ("chat.postMessage") or "response_url"."""
    path: str
    params: dict[str, Any]
    status: int
    headers: dict[str, str]
    failed: bool = False
    """Answered with a scripted failure (an HTTP error, or ok: false)."""
    at: float = field(default_factory=time.monotonic)

    @property
    def ok(self) -> bool:
        return self.status == 200 and not self.failed

    @property
    def blocks(self) -> list[dict[str, Any]]:
        blocks = self.params.get("blocks") or []
        return json.loads(blocks) if isinstance(blocks, str) else blocks


@dataclass
class _Failure:
    status: int
    retry_after: int | None
    times: int
    error: str


class FakeSlackAPI:
    def __init__(self) -> None:
        self._calls: list[Call] = []
        self._failures: dict[str, _Failure] = {}
        self._cond = threading.Condition()
        self._ts = itertools.count(1)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet test output
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8") if length else ""
                status, body, headers = fake._handle(self.path, raw, dict(self.headers.items()))
                data = body.encode("utf-8")
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-slack-api", daemon=True)

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> FakeSlackAPI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/response/{name}"

    # -- scripting and inspection ---------------------------------------------------------
    def fail(self, method: str, status: int = 429, retry_after: int | None = 1, times: int = 1,
             error: str = "ratelimited") -> None:
        """The next `times` calls of `method` answer `status` (429 carries Retry-After).
        Status 200 answers {"ok": false, "error": error}, as Slack does for API errors."""
        with self._cond:
            self._failures[method] = _Failure(status, retry_after if status == 429 else None, times, error)

    def reset(self) -> None:
        with self._cond:
            self._calls.clear()
            self._failures.clear()

    def calls(self, method: str | None = None, *, ok_only: bool = True,
              where: Callable[[Call], bool] | None = None) -> list[Call]:
        with self._cond:
            return [c for c in self._calls
                    if (method is None or c.method == method) and (c.ok or not ok_only)
                    and (where is None or where(c))]

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0,
                 where: Callable[[Call], bool] | None = None) -> list[Call]:
        """Block until `count` successful calls of `method` arrived; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [c for c in self._calls if c.method == method and c.ok and (where is None or where(c))]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(c.method, c.status) for c in self._calls]
                    raise AssertionError(f"expected {count} × {method} within {timeout}s; calls so far: {seen}")
                self._cond.wait(left)

    # -- the server side -----------------------------------------------------------------
    def _handle(self, path: str, raw: str, headers: dict[str, str]) -> tuple[int, str, dict[str, str]]:
        if path.startswith("/response/"):
            method = "response_url"
        elif path.startswith("/api/"):
            method = path[len("/api/"):].split("?", 1)[0]
        else:
            method = path
        params = _parse(raw, headers.get("Content-Type", ""))
        with self._cond:
            failure = self._failures.get(method)
            if failure and failure.times > 0:
                failure.times -= 1
                self._record(Call(method, path, params, failure.status, headers, failed=True))
                extra = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
                return failure.status, json.dumps({"ok": False, "error": failure.error}), {
                    "Content-Type": "application/json", **extra}
            self._record(Call(method, path, params, 200, headers))
        if method == "response_url":
            return 200, "ok", {"Content-Type": "text/plain"}
        return 200, json.dumps(self._answer(method, params)), {"Content-Type": "application/json"}

    def _record(self, call: Call) -> None:
        self._calls.append(call)
        self._cond.notify_all()

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "url": "https://fake.slack.com/", "team": "Fake", "user": "rmbot",
                    "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": BOT_ID, "is_enterprise_install": False}
        if method == "chat.postMessage":
            ts = f"{1_700_000_000 + next(self._ts)}.000100"
            return {"ok": True, "channel": params.get("channel"), "ts": ts,
                    "message": {"text": params.get("text"), "ts": ts}}
        if method == "chat.update":
            return {"ok": True, "channel": params.get("channel"), "ts": params.get("ts"), "text": params.get("text")}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"{1_700_000_000 + next(self._ts)}.000200"}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D" + str(params.get("users", "X")).lstrip("U")[:10]}}
        return {"ok": False, "error": "unknown_method"}


def _parse(raw: str, content_type: str) -> dict[str, Any]:
    if not raw:
        return {}
    if "json" in content_type or raw.lstrip().startswith("{"):
        try:
            value = json.loads(raw)
            return value if isinstance(value, dict) else {"_": value}
        except json.JSONDecodeError:
            return {"_raw": raw}
    return dict(parse_qsl(raw, keep_blank_values=True))
