"""A fake of Slack's Web API and response_url endpoint, speaking real HTTP on 127.0.0.1.

Point `WebClient(base_url=fake.base_url)` at it; use `fake.response_url(name)` as the
response_url in slash command and click payloads. Every call is recorded (including the ones
answered with a scripted failure), and `fail()` makes the next calls of a method answer
429 with Retry-After, or a 5xx, the way Slack does under load.

Channel messages are kept too: `chat.postMessage` stores each message per channel with its
`metadata` (checked for Slack's shape), `chat.update` rewrites it, and `conversations.history`
serves top-level messages newest first with `oldest`/`latest`/`inclusive`, `limit` and cursor
pagination; metadata only with `include_all_metadata`. `remove_channel()` makes a channel answer
`channel_not_found` (or another error); `set_clock()` stamps new messages with a test's clock
(by default ts stay 1700000001.000100, 1700000002.000100, …).

`conversations.info` answers a channel (with `is_member`: `not_member()` takes the bot out of
one) and `users.lookupByEmail` answers the users `add_user()` registered (`users_not_found`
otherwise, `missing_scope` after `drop_scope("users:read.email")`).

files_upload_v2 works end to end: `files.getUploadURLExternal` hands out an upload URL on this
server, the bytes are POSTed there (recorded as "files.upload"; `fail("files.upload")` answers
500), and `files.completeUploadExternal` shares them into the channel: `files(channel)`.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

BOT_USER_ID = "UBOT00001"
BOT_ID = "BBOT00001"
TEAM_ID = "T00000001"
APP_ID = "A0RMBOT01"
HISTORY_MAX = 999
MAX_TEXT = 40_000
MAX_BLOCKS = 50


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
    after: int = 0
    channel: str | None = None


class FakeSlackAPI:
    def __init__(self) -> None:
        self._calls: list[Call] = []
        self._failures: dict[str, _Failure] = {}
        self._cond = threading.Condition()
        self._ts = itertools.count(1)
        self._messages: dict[str, list[dict[str, Any]]] = {}
        self._gone: dict[str, str] = {}
        self._clock: Callable[[], float] | None = None
        self._last_us = 0
        self._uploads: dict[str, dict[str, Any]] = {}
        self._files: dict[str, list[dict[str, Any]]] = {}
        self._file_ids = itertools.count(1)
        self._outside: set[str] = set()
        self._users: dict[str, str] = {}
        self._dropped_scopes: set[str] = set()
        self.delay = 0.0
        """Seconds every API call takes before it is answered (replies in flight at a kill)."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet test output
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length) if length else b""
                if fake.delay:
                    time.sleep(fake.delay)
                if self.path.startswith("/upload/"):  # files_upload_v2 step 2: raw bytes
                    status, body, headers = fake._upload(self.path, data, dict(self.headers.items()))
                else:
                    status, body, headers = fake._handle(self.path, data.decode("utf-8"), dict(self.headers.items()))
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
             error: str = "ratelimited", after: int = 0, channel: str | None = None) -> None:
        """The next `times` calls of `method` answer `status` (429 carries Retry-After).
        Status 200 answers {"ok": false, "error": error}, as Slack does for API errors.
        With `after`, that many calls succeed first; with `channel`, only calls for that channel
        count (the push worker serves channels in parallel)."""
        with self._cond:
            self._failures[method] = _Failure(status, retry_after if status == 429 else None, times, error, after,
                                              channel)

    def remove_channel(self, channel: str, error: str = "channel_not_found") -> None:
        """Posting to or reading `channel` answers ok: false with `error` from now on."""
        with self._cond:
            self._gone[channel] = error

    def not_member(self, channel: str) -> None:
        """The bot is not in `channel` (never invited, or removed): conversations.info answers
        is_member false and chat.postMessage answers not_in_channel, as Slack does."""
        with self._cond:
            self._outside.add(channel)

    def add_user(self, email: str, user_id: str) -> None:
        """A workspace member `users.lookupByEmail` finds (Slack matches e-mail case-insensitively)."""
        with self._cond:
            self._users[email.lower()] = user_id

    def drop_scope(self, scope: str) -> None:
        """The installed token lacks `scope`: methods needing it answer missing_scope."""
        with self._cond:
            self._dropped_scopes.add(scope)

    def set_clock(self, clock: Callable[[], float] | None) -> None:
        """Stamp new messages with clock() (Unix seconds), as Slack stamps them with its time."""
        with self._cond:
            self._clock = clock

    def messages(self, channel: str) -> list[dict[str, Any]]:
        """Every message posted in `channel` (thread replies included), oldest first."""
        with self._cond:
            return copy.deepcopy(self._messages.get(channel, []))

    def files(self, channel: str) -> list[dict[str, Any]]:
        """Files shared into `channel` by files_upload_v2, oldest first: id, title, name, data, thread_ts."""
        with self._cond:
            return copy.deepcopy(self._files.get(channel, []))

    def reset(self) -> None:
        with self._cond:
            self._uploads.clear()
            self._files.clear()
            self._calls.clear()
            self._failures.clear()
            self._messages.clear()
            self._gone.clear()
            self._outside.clear()
            self._users.clear()
            self._dropped_scopes.clear()
            self._clock = None
            self.delay = 0.0
            self._last_us = 0

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
        query = urlsplit(path).query
        if query:
            params = {**dict(parse_qsl(query, keep_blank_values=True)), **params}
        with self._cond:
            failure = self._failures.get(method)
            if failure and failure.channel is not None and params.get("channel") != failure.channel:
                failure = None
            if failure and failure.times > 0 and failure.after > 0:
                failure.after -= 1
            elif failure and failure.times > 0:
                failure.times -= 1
                self._record(Call(method, path, params, failure.status, headers, failed=True))
                extra = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
                return failure.status, json.dumps({"ok": False, "error": failure.error}), {
                    "Content-Type": "application/json", **extra}
            self._record(Call(method, path, params, 200, headers))
        if method == "response_url":
            return 200, "ok", {"Content-Type": "text/plain"}
        with self._cond:
            answer = self._answer(method, params)
        return 200, json.dumps(answer), {"Content-Type": "application/json"}

    def _record(self, call: Call) -> None:
        self._calls.append(call)
        self._cond.notify_all()

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "url": "https://fake.slack.com/", "team": "Fake", "user": "rmbot",
                    "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": BOT_ID, "is_enterprise_install": False}
        channel = str(params.get("channel") or "")
        if method in ("chat.postMessage", "chat.update", "conversations.history") and channel in self._gone:
            return {"ok": False, "error": self._gone[channel]}
        if method == "conversations.info":
            if channel in self._gone:
                return {"ok": False, "error": self._gone[channel]}
            return {"ok": True, "channel": {"id": channel, "name": channel.lower(), "is_channel": True,
                                            "is_archived": False, "is_member": channel not in self._outside}}
        if method == "users.lookupByEmail":
            if "users:read.email" in self._dropped_scopes:
                return {"ok": False, "error": "missing_scope", "needed": "users:read.email"}
            user_id = self._users.get(str(params.get("email") or "").lower())
            if user_id is None:
                return {"ok": False, "error": "users_not_found"}
            return {"ok": True, "user": {"id": user_id, "team_id": TEAM_ID, "deleted": False,
                                         "profile": {"email": params.get("email")}}}
        if method == "chat.postMessage" and channel in self._outside:
            return {"ok": False, "error": "not_in_channel"}
        if method == "chat.postMessage":
            return self._post_message(channel, params)
        if method == "chat.update":
            for message in self._messages.get(channel, []):
                if message["ts"] == params.get("ts"):
                    message.update(text=params.get("text"), blocks=_json(params.get("blocks")) or [],
                                   edited={"user": BOT_USER_ID, "ts": self._next_ts()})
            return {"ok": True, "channel": params.get("channel"), "ts": params.get("ts"), "text": params.get("text")}
        if method == "conversations.history":
            return self._history(channel, params)
        if method == "files.getUploadURLExternal":
            return self._upload_url(params)
        if method == "files.completeUploadExternal":
            return self._complete_upload(params)
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"{1_700_000_000 + next(self._ts)}.000200"}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": "D" + str(params.get("users", "X")).lstrip("U")[:10]}}
        return {"ok": False, "error": "unknown_method"}

    def _next_ts(self) -> str:
        if self._clock is None:
            return f"{1_700_000_000 + next(self._ts)}.000100"
        us = max(int(Decimal(repr(self._clock())) * 1_000_000), self._last_us + 1)
        self._last_us = us
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    def _post_message(self, channel: str, params: dict[str, Any]) -> dict[str, Any]:
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        text = params.get("text") or ""
        blocks = _json(params.get("blocks")) or []
        if not text and not blocks:
            return {"ok": False, "error": "no_text"}
        if len(str(text)) > MAX_TEXT:
            return {"ok": False, "error": "msg_too_long"}
        if not isinstance(blocks, list) or len(blocks) > MAX_BLOCKS:
            return {"ok": False, "error": "invalid_blocks"}
        metadata = _json(params.get("metadata"))
        if metadata is not None and not (isinstance(metadata, dict) and isinstance(metadata.get("event_type"), str)
                                         and isinstance(metadata.get("event_payload"), dict)):
            return {"ok": False, "error": "invalid_metadata_format"}
        ts = self._next_ts()
        message: dict[str, Any] = {"type": "message", "ts": ts, "user": BOT_USER_ID, "bot_id": BOT_ID,
                                   "app_id": APP_ID, "team": TEAM_ID, "text": text, "blocks": blocks}
        if params.get("thread_ts"):
            message["thread_ts"] = str(params["thread_ts"])
        if metadata is not None:
            message["metadata"] = metadata
        self._messages.setdefault(channel, []).append(message)
        return {"ok": True, "channel": channel, "ts": ts, "message": copy.deepcopy(message)}

    def _history(self, channel: str, params: dict[str, Any]) -> dict[str, Any]:
        """Top-level messages (thread replies stay in their thread), newest first."""
        try:
            oldest = Decimal(str(params.get("oldest") or "0"))
            latest = Decimal(str(params["latest"])) if params.get("latest") else None
            limit = min(int(params.get("limit") or 100), HISTORY_MAX)
            before = Decimal(base64.b64decode(params["cursor"]).decode().removeprefix("next_ts:")) \
                if params.get("cursor") else None
        except (InvalidOperation, ValueError):
            return {"ok": False, "error": "invalid_arguments"}
        inclusive = _truthy(params.get("inclusive"))
        with_metadata = _truthy(params.get("include_all_metadata"))

        def keep(m: dict[str, Any]) -> bool:
            ts = Decimal(m["ts"])
            if m.get("thread_ts") not in (None, m["ts"]):
                return False
            if ts < oldest or (ts == oldest and not inclusive):
                return False
            if before is not None and ts >= before:
                return False  # on an earlier page
            return latest is None or ts < latest or (ts == latest and inclusive)

        matching = [m for m in reversed(self._messages.get(channel, [])) if keep(m)]
        page = matching[:limit]
        more = len(matching) > limit
        out = []
        for m in page:
            m = copy.deepcopy(m)
            if not with_metadata:
                m.pop("metadata", None)
            out.append(m)
        cursor = base64.b64encode(f"next_ts:{page[-1]['ts']}".encode()).decode() if more else ""
        return {"ok": True, "messages": out, "has_more": more, "pin_count": 0,
                "response_metadata": {"next_cursor": cursor}}


    # -- files_upload_v2: get an upload URL, POST the bytes there, complete into a channel --------
    def _upload_url(self, params: dict[str, Any]) -> dict[str, Any]:
        filename, length = params.get("filename"), str(params.get("length") or "")
        if not filename or not length.isdigit() or int(length) <= 0:
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{next(self._file_ids):08d}"
        self._uploads[file_id] = {"filename": filename, "length": int(length), "data": None}
        return {"ok": True, "file_id": file_id, "upload_url": f"http://127.0.0.1:{self.port}/upload/{file_id}"}

    def _upload(self, path: str, data: bytes, headers: dict[str, str]) -> tuple[int, str, dict[str, str]]:
        file_id = path[len("/upload/"):].split("?", 1)[0]
        with self._cond:
            failure = self._failures.get("files.upload")
            failed = bool(failure and failure.times > 0)
            if failure and failed:
                failure.times -= 1
            upload = self._uploads.get(file_id)
            status = 500 if failed else 404 if upload is None else 400 if len(data) != upload["length"] else 200
            self._record(Call("files.upload", path, {"file_id": file_id, "bytes": len(data)}, status, headers,
                              failed=status != 200))
            if status == 200:
                upload["data"] = data
        return status, "OK" if status == 200 else "error", {"Content-Type": "text/plain"}

    def _complete_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        files = _json(params.get("files"))
        channel = str(params.get("channel_id") or "")
        if not isinstance(files, list) or not files:
            return {"ok": False, "error": "invalid_arguments"}
        if channel in self._gone:
            return {"ok": False, "error": self._gone[channel]}
        done = []
        for f in files:
            upload = self._uploads.get(str(f.get("id"))) if isinstance(f, dict) else None
            if upload is None or upload["data"] is None:
                return {"ok": False, "error": "file_not_found"}
            done.append({"id": f["id"], "title": f.get("title") or upload["filename"], "name": upload["filename"],
                         "mimetype": "image/png" if upload["data"].startswith(b"\x89PNG") else "application/octet-stream",
                         "size": len(upload["data"])})
        for f in done:
            upload = self._uploads.pop(f["id"])
            if channel:
                self._files.setdefault(channel, []).append(
                    {**f, "data": upload["data"], "thread_ts": params.get("thread_ts") or None})
        return {"ok": True, "files": done}


def _json(value: Any) -> Any:
    """Form-encoded calls carry JSON fields (blocks, metadata) as strings."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true")


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
