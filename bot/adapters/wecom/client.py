"""WeCom server API client: access token cache, retries, and a pacer.

WeCom silently drops app messages past 30 per member per minute (1000 per hour) and robot
messages past 20 per minute, so rate errors cannot be relied on: the `Pacer` waits before
sending instead. Tokens live 7200 s and every call needs one, so they are cached per app and
refreshed when WeCom says they expired (40014/42001), not on a timer alone.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from bot.logs import register_secret

log = logging.getLogger("rmbot.wecom.client")

TOKEN_ERRORS = frozenset({40014, 42001, 41001})
"""invalid / expired / missing access_token: fetch a new one and try once more."""
RETRYABLE = frozenset({-1, 45009, 45033})
"""system busy, frequency limit, concurrency limit: back off and retry."""
MARKDOWN_MAX = 2048
ROBOT_MARKDOWN_MAX = 4096
IMAGE_MAX = 10 * 1024 * 1024
"""media/upload accepts images up to 10 MB (JPG, PNG)."""
ROBOT_IMAGE_MAX = 2 * 1024 * 1024
"""A group robot's image message carries the picture itself, at most 2 MB before base64."""
TEXT_MAX = 2048
BUTTON_KEY_MAX = 1024

DEFAULT_BASE_URL = "https://qyapi.weixin.qq.com"


class WeComError(Exception):
    def __init__(self, errcode: int, errmsg: str, api: str) -> None:
        super().__init__(f"{api}: errcode {errcode} {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.api = api


# -- pacing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    count: int
    window: float


MEMBER_LIMITS = (Limit(27, 60.0), Limit(900, 3600.0))
"""WeCom's 30 a minute and 1000 an hour per member, with a 10% margin: the limit is counted on
WeCom's clock from the message's arrival, which our clock only estimates (network jitter, a
retried call that did arrive), and what goes over is dropped without an error."""
ROBOT_LIMITS = (Limit(20, 60.0),)


class Pacer:
    """Sliding-window limits per key; `acquire` blocks until every key has room, never drops.

    Clock and sleep are injectable because they are the outside world's time: tests run hours
    of pacing in microseconds.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] | None = None) -> None:
        self._clock = clock
        self._wake = threading.Event()
        self._sleep = sleep or (lambda seconds: self._wake.wait(seconds) and None)
        """The default sleep wakes early when `close_at` is called (graceful shutdown)."""
        self._sent: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._deadline: float | None = None

    def close_at(self, deadline: float) -> None:
        """Shutting down: a send that would have to wait past `deadline` (this pacer's clock) is
        refused with a WeComError at once instead of waiting, so the caller logs it as not sent
        within the drain bound; waits that end before the deadline still happen."""
        with self._lock:
            self._deadline = deadline
        woken, self._wake = self._wake, threading.Event()
        woken.set()

    def acquire(self, keys: Sequence[str], limits: Sequence[Limit]) -> float:
        """Wait until one more send to each of `keys` stays within `limits`; record it.

        All keys are taken together (one message/send to several members counts for each),
        so a send never holds some members' slots while waiting for others. Returns seconds
        waited.
        """
        waited = 0.0
        horizon = max(limit.window for limit in limits)
        while True:
            with self._lock:
                now = self._clock()
                wait = max((self._wait(key, limits, now, horizon) for key in keys), default=0.0)
                if wait <= 0:
                    for key in keys:
                        self._sent.setdefault(key, deque()).append(now)
                    return waited
                if self._deadline is not None and now + wait > self._deadline:
                    raise WeComError(-2, f"not sent: shutting down, WeCom's rate limit needs {wait:.0f} s more",
                                     "pacer")
            log.info("pacing WeCom sends: waiting %.1fs", wait)
            self._sleep(wait)
            waited += wait

    def _wait(self, key: str, limits: Sequence[Limit], now: float, horizon: float) -> float:
        sent = self._sent.get(key)
        if not sent:
            return 0.0
        # "t + window > now" everywhere (not "t > now - window"): the same float expression as
        # the wait below, so a send is never both out of the window and still waited for
        while sent and sent[0] + horizon <= now:
            sent.popleft()
        wait = 0.0
        for limit in limits:
            in_window = [t for t in sent if t + limit.window > now]
            if len(in_window) >= limit.count:
                # the send that must age out before one more fits
                oldest = in_window[len(in_window) - limit.count]
                wait = max(wait, oldest + limit.window - now)
        return wait

    def sent_in(self, key: str, window: float) -> int:
        now = self._clock()
        return sum(1 for t in self._sent.get(key, ()) if t + window > now)


# -- tokens -----------------------------------------------------------------------------------


class TokenCache:
    """access_token per app, shared by every client in the process (one fetch per expiry)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, early: float = 300.0) -> None:
        self._clock = clock
        self._early = early
        self._tokens: dict[str, tuple[str, float]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def get(self, key: str) -> str | None:
        entry = self._tokens.get(key)
        if entry is None or entry[1] <= self._clock():
            return None
        return entry[0]

    def put(self, key: str, token: str, expires_in: float) -> None:
        # refresh a little early so a token does not expire between our check and WeCom's
        self._tokens[key] = (token, self._clock() + max(expires_in - self._early, 0.0))

    def invalidate(self, key: str, token: str) -> None:
        """Drop `token` only if still current: another thread may already hold a fresh one."""
        with self._guard:
            if self._tokens.get(key, ("",))[0] == token:
                del self._tokens[key]


SHARED_TOKENS = TokenCache()


# -- client -----------------------------------------------------------------------------------


class WeComClient:
    def __init__(
        self,
        corp_id: str,
        secret: str,
        agent_id: int,
        base_url: str = DEFAULT_BASE_URL,
        *,
        http: httpx.Client | None = None,
        timeout: float = 10.0,
        tokens: TokenCache | None = None,
        pacer: Pacer | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_retries: int = 3,
        backoff: float = 1.0,
    ) -> None:
        self.corp_id = corp_id
        self.agent_id = agent_id
        self._secret = secret
        register_secret(secret)  # never in a log line, whoever logs the URL (httpx does at INFO)
        self.base_url = base_url.rstrip("/")
        self._http = http or httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)))
        self._tokens = tokens or SHARED_TOKENS
        self.pacer = pacer or Pacer()
        self._sleep = sleep
        self.max_retries = max_retries
        self.backoff = backoff
        digest = hashlib.sha256(secret.encode()).hexdigest()[:16]
        self._token_key = f"{self.base_url}|{corp_id}|{digest}"

    def close(self) -> None:
        self._http.close()

    # -- token --------------------------------------------------------------------------------

    def access_token(self) -> str:
        token = self._tokens.get(self._token_key)
        if token:
            return token
        with self._tokens.lock(self._token_key):
            token = self._tokens.get(self._token_key)
            if token:
                return token
            data = self._call("GET", "/cgi-bin/gettoken",
                              params={"corpid": self.corp_id, "corpsecret": self._secret}, auth=False)
            token = str(data["access_token"])
            register_secret(token)
            self._tokens.put(self._token_key, token, float(data.get("expires_in", 7200)))
            log.info("WeCom access_token refreshed")
            return token

    # -- the one request path -----------------------------------------------------------------

    def _call(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
              body: Mapping[str, Any] | None = None, auth: bool = True,
              files: Mapping[str, tuple[str, bytes, str]] | None = None) -> dict[str, Any]:
        refreshed = False
        attempt = 0
        content = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        while True:
            query = dict(params or {})
            token = self.access_token() if auth else ""
            if auth:
                query["access_token"] = token
            errcode, errmsg, data = self._once(method, path, query, content, files)
            if errcode == 0:
                return data
            if auth and errcode in TOKEN_ERRORS and not refreshed:
                log.info("WeCom %s: token rejected (%s), refreshing", path, errcode)
                self._tokens.invalidate(self._token_key, token)
                refreshed = True
                continue
            if errcode in RETRYABLE and attempt < self.max_retries:
                delay = self.backoff * (2 ** attempt)
                log.warning("WeCom %s: errcode %s, retry %d in %.1fs", path, errcode, attempt + 1, delay)
                self._sleep(delay)
                attempt += 1
                continue
            raise WeComError(errcode, errmsg, path)

    def _once(self, method: str, path: str, query: dict[str, Any], content: bytes | None,
              files: Mapping[str, tuple[str, bytes, str]] | None = None) -> tuple[int, str, dict[str, Any]]:
        """One HTTP exchange mapped to (errcode, errmsg, body); transport trouble is -1 (busy).

        Only failures where the request surely did not arrive (connect errors) or the server
        said it failed (5xx) are retried, so a message is not sent twice after a read timeout.
        """
        headers = {"Content-Type": "application/json; charset=utf-8"} if content is not None else None
        try:
            resp = self._http.request(method, self.base_url + path, params=query, content=content,
                                      headers=headers, files=files)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            return -1, f"connect failed: {exc.__class__.__name__}", {}
        except httpx.HTTPError as exc:  # read timeout etc.: it may have arrived, do not resend
            raise WeComError(-3, f"transport error: {exc.__class__.__name__}", path) from exc
        if resp.status_code >= 500:
            return -1, f"HTTP {resp.status_code}", {}
        try:
            data = resp.json()
        except ValueError:
            return -2, f"HTTP {resp.status_code}: not JSON", {}
        if not isinstance(data, dict):
            return -2, "response is not an object", {}
        return int(data.get("errcode", 0) or 0), str(data.get("errmsg", "")), data

    # -- app messages (message/send) --------------------------------------------------------------

    def send(self, touser: str | Sequence[str], msgtype: str, body: Mapping[str, Any]) -> dict[str, Any]:
        users = [touser] if isinstance(touser, str) else list(touser)
        if not users or len(users) > 1000:
            raise ValueError("touser must name 1..1000 members")
        self.pacer.acquire([f"member:{u}" for u in users], MEMBER_LIMITS)
        payload = {"touser": "|".join(users), "msgtype": msgtype, "agentid": self.agent_id, msgtype: body}
        data = self._call("POST", "/cgi-bin/message/send", body=payload)
        if data.get("invaliduser"):
            log.warning("WeCom message/send: some users are not reachable by the app: %s", data["invaliduser"])
        return data

    def send_text(self, touser: str | Sequence[str], content: str) -> dict[str, Any]:
        _check_bytes(content, TEXT_MAX, "text")
        return self.send(touser, "text", {"content": content})

    def send_markdown(self, touser: str | Sequence[str], content: str) -> dict[str, Any]:
        _check_bytes(content, MARKDOWN_MAX, "markdown")
        return self.send(touser, "markdown", {"content": content})

    def send_template_card(self, touser: str | Sequence[str], card: Mapping[str, Any]) -> dict[str, Any]:
        """The answer carries `response_code` for interactive cards (usable once, 72 h)."""
        return self.send(touser, "template_card", card)

    def update_template_card(self, userids: Sequence[str], response_code: str, replace_name: str) -> dict[str, Any]:
        """Grey out the clicked card's buttons, showing `replace_name` instead."""
        payload = {"userids": list(userids), "agentid": self.agent_id, "response_code": response_code,
                   "button": {"replace_name": replace_name}}
        return self._call("POST", "/cgi-bin/message/update_template_card", body=payload)

    def send_image(self, touser: str | Sequence[str], media_id: str) -> dict[str, Any]:
        return self.send(touser, "image", {"media_id": media_id})

    # -- media ------------------------------------------------------------------------------------

    def upload_image(self, filename: str, data: bytes) -> str:
        """media/upload (type=image) → media_id, valid three days, for image messages."""
        if not data:
            raise ValueError("image is empty")
        if len(data) > IMAGE_MAX:
            raise ValueError(f"image is {len(data)} bytes, over WeCom's {IMAGE_MAX}")
        mime = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
        answer = self._call("POST", "/cgi-bin/media/upload", params={"type": "image"},
                            files={"media": (filename, data, mime)})
        return str(answer["media_id"])

    # -- app group chats --------------------------------------------------------------------------

    def appchat_send(self, chatid: str, msgtype: str, body: Mapping[str, Any]) -> dict[str, Any]:
        # WeCom does not publish a per-chat limit; pacing a chat like a member is the safe side.
        self.pacer.acquire([f"chat:{chatid}"], MEMBER_LIMITS)
        return self._call("POST", "/cgi-bin/appchat/send",
                          body={"chatid": chatid, "msgtype": msgtype, msgtype: body})

    def appchat_create(self, name: str, owner: str, userlist: Sequence[str], chatid: str | None = None) -> str:
        """appchat/create → the chatid. The app can send only to chats it created, so this is how an
        app chat destination comes to exist (`rmbot push dest create-appchat`)."""
        body: dict[str, Any] = {"name": name, "owner": owner, "userlist": list(userlist)}
        if chatid:
            body["chatid"] = chatid
        return str(self._call("POST", "/cgi-bin/appchat/create", body=body)["chatid"])

    def appchat_get(self, chatid: str) -> dict[str, Any]:
        """appchat/get → chat_info (name, owner, userlist); WeComError 86003 for a chat the app did not create."""
        return dict(self._call("GET", "/cgi-bin/appchat/get", params={"chatid": chatid}).get("chat_info") or {})

    def appchat_send_markdown(self, chatid: str, content: str) -> dict[str, Any]:
        _check_bytes(content, MARKDOWN_MAX, "markdown")
        return self.appchat_send(chatid, "markdown", {"content": content})

    def appchat_send_image(self, chatid: str, media_id: str) -> dict[str, Any]:
        return self.appchat_send(chatid, "image", {"media_id": media_id})

    # -- group robots (no token: the webhook key is the credential) -------------------------------

    def webhook_send(self, key: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        register_secret(key)  # the key is the robot's only credential
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        self.pacer.acquire([f"robot:{digest}"], ROBOT_LIMITS)
        return self._call("POST", "/cgi-bin/webhook/send", params={"key": key}, body=payload, auth=False)

    def webhook_markdown(self, key: str, content: str) -> dict[str, Any]:
        _check_bytes(content, ROBOT_MARKDOWN_MAX, "robot markdown")
        return self.webhook_send(key, {"msgtype": "markdown", "markdown": {"content": content}})

    def webhook_image(self, key: str, data: bytes) -> dict[str, Any]:
        """Robots take the picture inline (base64 and its MD5), no media upload."""
        if not data or len(data) > ROBOT_IMAGE_MAX:
            raise ValueError(f"robot image is {len(data)} bytes; WeCom takes 1..{ROBOT_IMAGE_MAX}")
        image = {"base64": base64.b64encode(data).decode("ascii"), "md5": hashlib.md5(data).hexdigest()}
        return self.webhook_send(key, {"msgtype": "image", "image": image})


def _check_bytes(content: str, limit: int, what: str) -> None:
    """Refuse rather than let WeCom cut or drop it: splitting is the renderer's job."""
    size = len(content.encode("utf-8"))
    if size > limit:
        raise ValueError(f"{what} content is {size} bytes, over WeCom's {limit}")
    if not content.strip():
        raise ValueError(f"{what} content is empty")
