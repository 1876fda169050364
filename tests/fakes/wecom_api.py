"""A fake WeCom on 127.0.0.1, speaking real HTTP, for offline tests: both of its sides.

It implements what rmbot uses: gettoken, message/send, message/update_template_card,
appchat/create, appchat/get, appchat/send, webhook/send and media/upload (images, kept in `media` for image messages),
checks tokens and WeCom's byte limits the way the real API does, records every call, and can
be told to answer with an error code (42001 expired token, 45009 frequency limit, ...) the next
N times. `WeComSender` is the callback side: it encrypts
and signs messages and clicks and POSTs them to our server, which `LiveServer` runs on uvicorn.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

import httpx
import uvicorn

from bot.adapters.wecom.callback import CALLBACK_PATH
from bot.adapters.wecom.crypto import WeComCrypto

CORP_ID = "wwfakecorp0000001"
SECRET = "fake-secret-0123456789"
ROBOT_KEY = "robot-key-1"
TOKEN = "rmbotTestToken"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 chars, as WeCom issues them
AGENT_ID = 1000002
HTTP_TIMEOUT = 5.0

# users (WeCom userids) and their staff records
RM_USER = "wangfang"  # RM001 王芳, sees C0000001
OTHER_RM_USER = "liqiang"  # RM002 李强, does not see C0000001
UNLINKED_USER = "stranger"

LONG_TEXT = ((("客户经理助手😀测试，" * 50)[:499]) + "\n") * 10  # 5,000 characters: 1-, 3- and 4-byte UTF-8
assert len(LONG_TEXT) == 5000

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IMAGE_MAX = 10 * 1024 * 1024  # media/upload images
ROBOT_IMAGE_MAX = 2 * 1024 * 1024  # robot image messages, before base64

# byte limits per msgtype (WeCom's 发送应用消息 and 群机器人配置说明 documentation)
LIMITS = {"text": 2048, "markdown": 2048}
ROBOT_LIMITS = {"text": 2048, "markdown": 4096, "markdown_v2": 4096}


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    answer: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)
    """When the call arrived (time.monotonic): WeCom counts its rate limits by arrival."""


class FakeWeCom:
    def __init__(self, corp_id: str = CORP_ID, secret: str = SECRET, robot_keys: tuple[str, ...] = (ROBOT_KEY,)):
        self.corp_id = corp_id
        self.secret = secret
        self.robot_keys = set(robot_keys)
        self.calls: list[Call] = []
        self.valid_tokens: set[str] = set()
        self.response_codes: set[str] = set()
        self.media: dict[str, tuple[str, bytes]] = {}
        """media_id → (file name, bytes) of every image uploaded with media/upload."""
        self._failures: dict[str, list[int]] = defaultdict(list)
        self._lock = threading.Lock()
        self.appchats: dict[str, dict[str, Any]] = {}
        """chatid → {"name", "owner", "userlist"} of every chat `appchat/create` made (the only chats
        appchat/get knows: WeCom serves an app only the chats it created; appchat/send here takes any
        chatid so older tests need not create theirs)."""
        self.members: set[str] | None = None
        """userids appchat/create accepts (None: any)."""
        self.delay = 0.0
        """Seconds every answer waits (a slow WeCom): the callback must still answer at once."""
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control ---------------------------------------------------------------------------------

    def fail_next(self, path: str, errcode: int, times: int = 1) -> None:
        """The next `times` calls to `path` answer `errcode` (and deliver nothing)."""
        with self._lock:
            self._failures[path].extend([errcode] * times)

    def expire_tokens(self) -> None:
        """Every issued token now answers 42001, as after 7200 s."""
        with self._lock:
            self.valid_tokens.clear()

    def delivered(self, path: str = "/cgi-bin/message/send") -> list[Call]:
        """Calls to `path` that WeCom would have delivered (errcode 0)."""
        with self._lock:
            return [c for c in self.calls if c.path == path and c.answer.get("errcode") == 0]

    def calls_to(self, path: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.path == path]

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}"

    def start(self) -> "FakeWeCom":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else each answer waits on delayed ACKs (~40 ms)
            wbufsize = -1  # headers and body leave in one write

            def do_GET(self) -> None:  # noqa: N802
                self._handle("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._handle("POST")

            def _handle(self, method: str) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                ctype = self.headers.get("Content-Type") or ""
                try:
                    body = _multipart(raw, ctype) if ctype.startswith("multipart/") else \
                        json.loads(raw.decode("utf-8")) if raw else None
                except ValueError:
                    body = raw
                if fake.delay:
                    time.sleep(fake.delay)
                status, answer = fake.answer(method, parts.path, query, body)
                data = json.dumps(answer, ensure_ascii=False).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="fake-wecom", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # -- the API -----------------------------------------------------------------------------------

    def answer(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, dict[str, Any]]:
        with self._lock:
            call = Call(method, path, query, body)
            self.calls.append(call)
            call.answer = self._answer(method, path, query, body)
            return 200, call.answer

    def _answer(self, method: str, path: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        if self._failures.get(path):
            failure = self._failures[path].pop(0)
            return {"errcode": failure, "errmsg": "injected failure"}
        if path == "/cgi-bin/gettoken":
            if method != "GET":
                return {"errcode": 43001, "errmsg": "require GET method"}
            if query.get("corpid") != self.corp_id:
                return {"errcode": 40013, "errmsg": "invalid corpid"}
            if query.get("corpsecret") != self.secret:
                return {"errcode": 40001, "errmsg": "invalid credential"}
            issued = "TOKEN-" + uuid.uuid4().hex
            self.valid_tokens.add(issued)
            return {"errcode": 0, "errmsg": "ok", "access_token": issued, "expires_in": 7200}
        if path == "/cgi-bin/webhook/send":
            if query.get("key") not in self.robot_keys:
                return {"errcode": 93000, "errmsg": "invalid webhook url"}
            if isinstance(body, dict) and body.get("msgtype") == "image":
                return self._check_robot_image(body.get("image"))
            return self._check_content(body, ROBOT_LIMITS)
        if path == "/cgi-bin/media/upload":
            return self._upload(method, query, body)
        if path in ("/cgi-bin/appchat/create", "/cgi-bin/appchat/get"):
            return self._appchat(method, path, query, body)
        if path in ("/cgi-bin/message/send", "/cgi-bin/appchat/send", "/cgi-bin/message/update_template_card"):
            if method != "POST":
                return {"errcode": 43002, "errmsg": "require POST method"}
            token = query.get("access_token")
            if not token:
                return {"errcode": 41001, "errmsg": "access_token missing"}
            if token not in self.valid_tokens:
                return {"errcode": 42001, "errmsg": "access_token expired"}
            if not isinstance(body, dict):
                return {"errcode": 47001, "errmsg": "data format error"}
            if path == "/cgi-bin/message/update_template_card":
                used = str(body.get("response_code"))
                if used not in self.response_codes:
                    return {"errcode": 40130, "errmsg": "invalid response_code"}
                self.response_codes.discard(used)  # usable once
                return {"errcode": 0, "errmsg": "ok"}
            answer = self._check_content(body, LIMITS)
            image = body.get("image") if body.get("msgtype") == "image" else None
            if answer["errcode"] == 0 and image is not None and str(image.get("media_id")) not in self.media:
                return {"errcode": 40007, "errmsg": "invalid media_id"}
            if answer["errcode"] == 0 and body.get("msgtype") == "template_card":
                card = body.get("template_card") or {}
                keys = [b.get("key", "") for b in card.get("button_list", [])]
                if len(keys) > 6 or any(len(k.encode("utf-8")) > 1024 for k in keys) or len(set(keys)) != len(keys):
                    return {"errcode": 40058, "errmsg": "invalid button_list"}
                if card.get("card_type") == "multiple_interaction" and not _multiple_ok(card):
                    return {"errcode": 40058, "errmsg": "invalid select_list"}
                code = "RC-" + uuid.uuid4().hex
                self.response_codes.add(code)
                answer["response_code"] = code
            if answer["errcode"] == 0 and path == "/cgi-bin/message/send":
                answer["msgid"] = "MSG-" + uuid.uuid4().hex[:12]
            return answer
        return {"errcode": 404, "errmsg": f"fake has no {path}"}

    def _appchat(self, method: str, path: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        """appchat/create (POST name, owner, userlist of 2..2000, chatid ≤ 32 of [0-9a-zA-Z]) and
        appchat/get (GET chatid: 86003 for a chat this app did not create)."""
        token = query.get("access_token")
        if token not in self.valid_tokens:
            return {"errcode": 42001 if token else 41001, "errmsg": "access_token expired or missing"}
        if path == "/cgi-bin/appchat/get":
            chat = self.appchats.get(query.get("chatid", ""))
            if chat is None:
                return {"errcode": 86003, "errmsg": "chat not exist"}
            return {"errcode": 0, "errmsg": "ok", "chat_info": {"chatid": query["chatid"], **chat}}
        if method != "POST" or not isinstance(body, dict):
            return {"errcode": 43002, "errmsg": "require POST method"}
        users = list(body.get("userlist") or [])
        chatid = str(body.get("chatid") or uuid.uuid4().hex[:20])
        if len(users) < 2 or len(users) > 2000:
            return {"errcode": 86004, "errmsg": "invalid userlist: 2..2000 members"}
        if not (chatid.isascii() and chatid.isalnum() and len(chatid) <= 32):
            return {"errcode": 86002, "errmsg": "invalid chatid"}
        if chatid in self.appchats:
            return {"errcode": 86215, "errmsg": "chatid exists"}
        if self.members is not None and any(u not in self.members for u in users):
            return {"errcode": 60111, "errmsg": "userid not found"}
        owner = body.get("owner") or users[0]
        if owner not in users:
            return {"errcode": 86005, "errmsg": "owner not in userlist"}
        self.appchats[chatid] = {"name": body.get("name", ""), "owner": owner, "userlist": users}
        return {"errcode": 0, "errmsg": "ok", "chatid": chatid}

    def _upload(self, method: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        """media/upload?type=image, multipart field "media": PNG or JPG, at most 10 MB."""
        if method != "POST":
            return {"errcode": 43002, "errmsg": "require POST method"}
        token = query.get("access_token")
        if token not in self.valid_tokens:
            return {"errcode": 42001 if token else 41001, "errmsg": "access_token expired or missing"}
        if query.get("type") != "image":
            return {"errcode": 40004, "errmsg": "invalid media type"}
        media = body.get("media") if isinstance(body, dict) else None
        if media is None or not media[1]:
            return {"errcode": 44001, "errmsg": "empty media data"}
        name, data = media
        if not data.startswith((PNG_SIGNATURE, b"\xff\xd8")):
            return {"errcode": 40005, "errmsg": "invalid file type"}
        if len(data) > IMAGE_MAX:
            return {"errcode": 40006, "errmsg": "invalid file size"}
        media_id = "MEDIA-" + uuid.uuid4().hex
        self.media[media_id] = (name, data)
        return {"errcode": 0, "errmsg": "ok", "type": "image", "media_id": media_id, "created_at": str(int(time.time()))}

    @staticmethod
    def _check_robot_image(image: Any) -> dict[str, Any]:
        """A robot image carries base64 and the MD5 of the raw bytes; at most 2 MB."""
        try:
            data = base64.b64decode(image["base64"], validate=True)
        except (TypeError, KeyError, ValueError):
            return {"errcode": 47001, "errmsg": "data format error"}
        if hashlib.md5(data).hexdigest() != image.get("md5"):
            return {"errcode": 40009, "errmsg": "invalid image md5"}
        if not data or len(data) > ROBOT_IMAGE_MAX:
            return {"errcode": 40009, "errmsg": "invalid image size"}
        return {"errcode": 0, "errmsg": "ok"}

    @staticmethod
    def _check_content(body: Any, limits: dict[str, int]) -> dict[str, Any]:
        if not isinstance(body, dict) or "msgtype" not in body:
            return {"errcode": 47001, "errmsg": "data format error"}
        kind = body["msgtype"]
        obj = body.get(kind)
        if not isinstance(obj, dict):
            return {"errcode": 47001, "errmsg": f"missing {kind}"}
        if kind in limits:
            content = obj.get("content", "")
            if not content.strip():
                return {"errcode": 44004, "errmsg": "empty content"}
            if len(content.encode("utf-8")) > limits[kind]:
                return {"errcode": 45002, "errmsg": "content size out of limit"}
        return {"errcode": 0, "errmsg": "ok"}


def _multiple_ok(card: dict[str, Any]) -> bool:
    """multiple_interaction, as WeCom's docs give it: 1–3 select lists, each 1–10 options with
    ids ≤ 128 bytes, question keys ≤ 1024 bytes and distinct, a submit button with a key."""
    selects = card.get("select_list") or []
    if not 1 <= len(selects) <= 3 or not (card.get("submit_button") or {}).get("key"):
        return False
    questions = [str(q.get("question_key", "")) for q in selects]
    if len(set(questions)) != len(questions) or any(not q or len(q.encode()) > 1024 for q in questions):
        return False
    for select in selects:
        ids = [str(o.get("id", "")) for o in select.get("option_list") or []]
        if not 1 <= len(ids) <= 10 or len(set(ids)) != len(ids) or any(not i or len(i.encode()) > 128 for i in ids):
            return False
        if select.get("selected_id") is not None and select["selected_id"] not in ids:
            return False
    return True


def _multipart(raw: bytes, content_type: str) -> dict[str, tuple[str, bytes]]:
    """multipart/form-data → {field: (file name, bytes)}, as WeCom reads media/upload."""
    message = BytesParser().parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
    if not message.is_multipart():
        raise ValueError("not multipart")
    out = {}
    for part in message.get_payload():
        name = part.get_param("name", header="content-disposition")
        if name:
            out[str(name)] = (part.get_filename() or "", part.get_payload(decode=True) or b"")
    return out


class Sleeps:
    """The outside world's time for retries: recorded, not waited."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


# -- WeCom's other side: callbacks to our server -----------------------------------------------


class LiveServer:
    """An ASGI app on uvicorn on a free 127.0.0.1 port, in a thread."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + HTTP_TIMEOUT
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=HTTP_TIMEOUT)
        self.sock.close()


class WeComSender:
    """Plays WeCom: builds, encrypts and signs callbacks, and posts them over real HTTP."""

    def __init__(self, base_url: str, crypto: WeComCrypto, path: str = CALLBACK_PATH) -> None:
        self.url = base_url + path
        self.crypto = crypto
        self.http = httpx.Client(timeout=HTTP_TIMEOUT)
        self._msgid = int(time.time() * 1000)

    def next_msgid(self) -> str:
        self._msgid += 1
        return str(self._msgid)

    @staticmethod
    def text_xml(user: str, content: str, msgid: str, create_time: int | None = None) -> str:
        return (
            f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
            f"<CreateTime>{create_time or int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content>{escape(content)}</Content><MsgId>{msgid}</MsgId><AgentID>{AGENT_ID}</AgentID></xml>"
        )

    @staticmethod
    def click_xml(user: str, key: str, response_code: str, task_id: str = "t1",
                  create_time: int | None = None) -> str:
        return (
            f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
            f"<CreateTime>{create_time or int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[template_card_event]]></Event><EventKey>{escape(key)}</EventKey>"
            f"<TaskId><![CDATA[{task_id}]]></TaskId><CardType><![CDATA[button_interaction]]></CardType>"
            f"<ResponseCode><![CDATA[{response_code}]]></ResponseCode><AgentID>{AGENT_ID}</AgentID>"
            f"<SelectedItems></SelectedItems></xml>"
        )

    @staticmethod
    def submit_xml(user: str, key: str, response_code: str, task_id: str,
                   selected: list[tuple[str, list[str]]], create_time: int | None = None) -> str:
        """A multiple_interaction card's submit: the chosen option ids per question."""
        items = "".join(
            f"<SelectedItem><QuestionKey><![CDATA[{q}]]></QuestionKey><OptionIds>"
            + "".join(f"<OptionId><![CDATA[{o}]]></OptionId>" for o in options)
            + "</OptionIds></SelectedItem>" for q, options in selected)
        return (
            f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
            f"<CreateTime>{create_time or int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[template_card_event]]></Event><EventKey>{escape(key)}</EventKey>"
            f"<TaskId><![CDATA[{task_id}]]></TaskId><CardType><![CDATA[multiple_interaction]]></CardType>"
            f"<ResponseCode><![CDATA[{response_code}]]></ResponseCode><AgentID>{AGENT_ID}</AgentID>"
            f"<SelectedItems>{items}</SelectedItems></xml>"
        )

    def envelope(self, encrypt: str) -> str:
        return (f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt>"
                f"<AgentID><![CDATA[{AGENT_ID}]]></AgentID></xml>")

    def post_encrypted(self, encrypt: str, *, timestamp: str | None = None, nonce: str | None = None,
                       signature: str | None = None, body: str | bytes | None = None) -> httpx.Response:
        ts = timestamp or str(int(time.time()))
        nonce = nonce or uuid.uuid4().hex[:10]
        sig = signature or self.crypto.sign(ts, nonce, encrypt)
        content = self.envelope(encrypt) if body is None else body
        return self.http.post(self.url, params={"msg_signature": sig, "timestamp": ts, "nonce": nonce},
                              content=content, headers={"Content-Type": "text/xml"})

    def post(self, inner_xml: str, **kw: Any) -> httpx.Response:
        return self.post_encrypted(self.crypto.encrypt(inner_xml.encode("utf-8")), **kw)

    def text(self, user: str, content: str, msgid: str | None = None) -> httpx.Response:
        return self.post(self.text_xml(user, content, msgid or self.next_msgid()))

    def close(self) -> None:
        self.http.close()
