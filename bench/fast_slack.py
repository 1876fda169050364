"""A fast fake of Slack's Web API for the delivery benchmark, in its own process.

`tests/fakes/slack_api.py` (threads, deep copies of every message) is right for tests but
cannot take 2,000 requests a second on two cores next to the code being measured. This one is
a bare asyncio HTTP/1.1 server with keep-alive that does only what delivery needs, as Slack does:

* `chat.postMessage` (JSON or form body) is answered after `--latency` seconds. Slack allows
  about one message per second per channel: a post that arrives less than `--interval` after
  the channel's previous accepted post is refused with HTTP 429, `Retry-After: 1` and
  `{"ok": false, "error": "ratelimited"}`, and counted. Stricter than Slack (which allows short
  bursts), so a sender that passes here passes there.
* every accepted post is recorded: (channel, metadata key, part, arrival time), so the bench can
  check that each message arrived exactly once and in order per channel.
* `conversations.history` serves a channel's accepted posts newest first with their metadata
  (what `SlackSender.find_sent` reads after a crash), `oldest` and cursor pagination included.
* `GET /bench/stats` answers the counters and records; `POST /bench/reset` forgets everything.

Run: `python -m bench.fast_slack --latency 0.05 --interval 1.0`; it prints its port on the first
line of stdout, then serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import deque
from typing import Any
from urllib.parse import parse_qsl

HEADER_END = b"\r\n\r\n"
REASONS = {200: "OK", 404: "Not Found", 429: "Too Many Requests"}


class SlackState:
    """Everything the fake remembers; one event loop, so no locks."""

    def __init__(self, latency: float, interval: float) -> None:
        self.latency = latency
        self.interval = interval
        self.reset()

    def reset(self) -> None:
        self.last_accepted: dict[str, float] = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.records: list[tuple[str, str | None, int | None, float]] = []
        self.rate_limited = 0
        self.history_calls = 0
        self.errors = 0
        self._ts = 1_700_000_000_000_000

    def next_ts(self) -> str:
        self._ts = max(self._ts + 1, int(time.time() * 1_000_000))
        return f"{self._ts // 1_000_000}.{self._ts % 1_000_000:06d}"

    def post(self, params: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        channel = str(params.get("channel") or "")
        if not channel or not (params.get("text") or params.get("blocks")):
            self.errors += 1
            return 200, {"ok": False, "error": "channel_not_found" if not channel else "no_text"}, {}
        now = time.monotonic()
        last = self.last_accepted.get(channel)
        if last is not None and now - last < self.interval:
            self.rate_limited += 1
            return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"}
        self.last_accepted[channel] = now
        metadata = _json(params.get("metadata"))
        payload = metadata.get("event_payload") if isinstance(metadata, dict) else None
        key = payload.get("key") if isinstance(payload, dict) else None
        part = payload.get("part") if isinstance(payload, dict) else None
        ts = self.next_ts()
        self.records.append((channel, key, part, time.time()))
        self.messages.setdefault(channel, []).append({"type": "message", "ts": ts, "metadata": metadata})
        return 200, {"ok": True, "channel": channel, "ts": ts}, {}

    def history(self, params: dict[str, Any]) -> dict[str, Any]:
        self.history_calls += 1
        channel = str(params.get("channel") or "")
        oldest = float(params.get("oldest") or 0)
        limit = int(params.get("limit") or 100)
        start = int(params.get("cursor") or 0)
        with_metadata = str(params.get("include_all_metadata")).lower() in ("1", "true")
        newest_first = [m for m in reversed(self.messages.get(channel, [])) if float(m["ts"]) >= oldest]
        page = newest_first[start:start + limit]
        more = start + limit < len(newest_first)
        out = [m if with_metadata else {"type": "message", "ts": m["ts"]} for m in page]
        return {"ok": True, "messages": out, "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    def stats(self) -> dict[str, Any]:
        return {"accepted": len(self.records), "rate_limited": self.rate_limited, "errors": self.errors,
                "history_calls": self.history_calls, "records": self.records}


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _params(body: bytes, content_type: str) -> dict[str, Any]:
    if not body:
        return {}
    if "json" in content_type:
        parsed = json.loads(body)
        return parsed if isinstance(parsed, dict) else {}
    return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))


class HttpConnection(asyncio.Protocol):
    """One keep-alive client connection; clients send one request at a time, answers go in order."""

    def __init__(self, state: SlackState) -> None:
        self.state = state
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.pending: deque[list[bytes | None]] = deque()
        """Answers in request order, each [bytes], or [None] while it still waits out its latency."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(HEADER_END)
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1").split("\r\n")
            headers = {}
            for line in head[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length") or 0)
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4:end + 4 + length]
            self.buffer = self.buffer[end + 4 + length:]
            method, path = head[0].split(" ")[:2]
            self.handle(method, path, headers, body)

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        state = self.state
        slot: list[bytes | None] = [None]
        self.pending.append(slot)
        if path.startswith("/bench/"):
            if path == "/bench/reset":
                state.reset()
            self.answer(slot, 200, state.stats(), {})
            return
        api = path.removeprefix("/api/").split("?", 1)[0]
        params = _params(body, headers.get("content-type", ""))
        if api == "chat.postMessage":
            status, answer, extra = state.post(params)
        elif api == "conversations.history":
            status, answer, extra = 200, state.history(params), {}
        elif api == "auth.test":
            status, answer, extra = 200, {"ok": True, "user_id": "UBOT00001", "team_id": "T00000001"}, {}
        else:
            status, answer, extra = 404, {"ok": False, "error": "unknown_method"}, {}
        asyncio.get_running_loop().call_later(state.latency, self.answer, slot, status, answer, extra)

    def answer(self, slot: list[bytes | None], status: int, body: dict[str, Any], extra: dict[str, str]) -> None:
        data = json.dumps(body).encode()
        head = [f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}", "Content-Type: application/json; charset=utf-8",
                f"Content-Length: {len(data)}", *(f"{k}: {v}" for k, v in extra.items())]
        slot[0] = ("\r\n".join(head) + "\r\n\r\n").encode() + data
        while self.pending and self.pending[0][0] is not None:
            out = self.pending.popleft()[0]
            if self.transport is not None:
                self.transport.write(out)


async def serve(latency: float, interval: float, port: int) -> None:
    state = SlackState(latency, interval)
    server = await asyncio.get_running_loop().create_server(lambda: HttpConnection(state), "127.0.0.1", port,
                                                            backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.05, help="seconds before each answer")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between accepted posts in a channel")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.latency, args.interval, args.port))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
