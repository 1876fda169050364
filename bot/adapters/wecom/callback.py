"""WeCom callback endpoint: URL verification (GET) and encrypted messages and clicks (POST).

WeCom waits 5 s for an answer and then retries, so a POST is checked, decrypted, de-duplicated
and answered 200 with an empty body at once; the command runs afterwards in a worker thread
and its reply goes out through message/send. Messages from one user are handled one at a time,
in arrival order, so two quick commands never get their answers crossed; different users run
in parallel.

With an inbox (`rmbot serve`: bot/core/inbox.py) the callback is stored with its dedupe key
before the 200, and the reply is queued in the outbox by the inbox's workers: a stop or crash
after the 200 loses nothing, and WeCom's retry of a stored message is refused as handled.
Without one (tests of the adapter alone) the in-process queue below does the same work.

Anything malformed, unsigned, oversized or meant for another corp is refused with a 4xx and a
log line, never a 500: the endpoint is on the internet.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from starlette.requests import ClientDisconnect
from starlette.requests import Request as HttpRequest
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.adapters.wecom import deliver
from bot.adapters.wecom.client import WeComClient, WeComError
from bot.adapters.wecom.crypto import CryptoError, WeComCrypto
from bot.adapters.wecom.dedupe import Deduper, MemoryDeduper, message_key
from bot.config import Settings
from bot.core.app import Rmbot
from bot.core.inbox import InboxService, reply_key
from bot.core.reply import Reply
from bot.core.request import ActionRequest, Request
from bot.render.wecom_markdown import BATCH_SUBMIT, SKIP_OPTION, parse_button_key, parse_selected, render_done
from bot.store import inbox as inbox_store
from bot.store.outbox import NewMessage
from bot import clock as shanghai

log = logging.getLogger("rmbot.wecom")

CALLBACK_PATH = "/wecom/callback"
MAX_BODY = 64 * 1024
"""A real callback envelope is a few KB; anything near this is not WeCom."""
MAX_SKEW = 600.0
"""Seconds a callback timestamp may be off our clock: bounds replays (the deduper covers it)."""

ONLY_TEXT = "暂只支持文字命令，发送 /help 查看可用命令。Only text commands are supported; send /help."
STALE_BUTTON = "该按钮已失效，请重新查询后再操作。This button is no longer valid."
NOTHING_CHOSEN = "未选择任何客户的跟进结果：请在卡片中为客户选择结果后再提交。Nothing was chosen on the card."


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def parse_xml(data: bytes | str) -> dict[str, str]:
    """Top-level `<xml>` children as a flat dict; DTDs and entities are refused (XXE, bombs)."""
    try:
        root: Element = fromstring(data, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise Refused(400, f"malformed XML ({exc.__class__.__name__})") from exc
    if root.tag != "xml":
        raise Refused(400, f"unexpected XML root <{root.tag[:20]}>")
    flat = {child.tag: child.text or "" for child in root if not len(child)}
    selected = root.find("SelectedItems")
    if selected is not None and len(selected):  # a batched card's answer: kept as JSON
        flat["SelectedItems"] = json.dumps([
            [item.findtext("QuestionKey") or "", [o.text or "" for o in item.iter("OptionId")]]
            for item in selected.iter("SelectedItem")], ensure_ascii=False)
    return flat


class WeComAdapter:
    def __init__(
        self,
        bot: Rmbot,
        crypto: WeComCrypto,
        client: WeComClient,
        *,
        deduper: Deduper | None = None,
        templates_dir: str | None = None,
        path: str = CALLBACK_PATH,
        max_body: int = MAX_BODY,
        max_skew: float | None = MAX_SKEW,
        clock: Callable[[], float] = time.time,
        workers: int = 8,
        inbox: InboxService | None = None,
    ) -> None:
        self.bot = bot
        self.crypto = crypto
        self.client = client
        self.deduper: Deduper = deduper or MemoryDeduper()
        self.templates_dir = templates_dir
        self.path = path
        self.max_body = max_body
        self.max_skew = max_skew
        self._clock = clock
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wecom")
        self._queues: dict[str, deque[dict[str, str]]] = {}
        self._pending = 0
        self._idle = threading.Condition()
        self.inbox = inbox
        if inbox is not None:
            from bot.adapters.wecom.push import WeComMemberSender

            inbox.register("wecom", self.handle_row, {"wecom_member": WeComMemberSender(client, templates_dir)})

    @classmethod
    def from_settings(cls, bot: Rmbot, settings: Settings, deduper: Deduper | None = None,
                      inbox: InboxService | None = None) -> "WeComAdapter":
        missing = [name for name, value in (
            ("WECOM_CORP_ID", settings.wecom_corp_id), ("WECOM_TOKEN", settings.wecom_token),
            ("WECOM_ENCODING_AES_KEY", settings.wecom_aes_key), ("WECOM_SECRET", settings.wecom_secret),
            ("WECOM_AGENT_ID", settings.wecom_agent_id),
        ) if not value]
        if missing:
            raise ValueError(f"WeCom is not fully configured: set {', '.join(missing)}")
        assert settings.wecom_corp_id and settings.wecom_token and settings.wecom_aes_key
        assert settings.wecom_secret and settings.wecom_agent_id is not None
        crypto = WeComCrypto(settings.wecom_token.get_secret_value(),
                             settings.wecom_aes_key.get_secret_value(), settings.wecom_corp_id)
        client = WeComClient(settings.wecom_corp_id, settings.wecom_secret.get_secret_value(),
                             settings.wecom_agent_id, settings.wecom_api_url)
        templates = str(settings.templates_dir) if settings.templates_dir else None
        return cls(bot, crypto, client, templates_dir=templates, deduper=deduper, inbox=inbox)

    def routes(self) -> list[Route]:
        return [
            Route(self.path, self.verify_url, methods=["GET"]),
            Route(self.path, self.receive, methods=["POST"]),
        ]

    # -- HTTP (event loop: only fast, non-blocking work here) ------------------------------------

    async def verify_url(self, request: HttpRequest) -> Response:
        try:
            q = request.query_params
            self._check_params(q, "echostr")
            # base64 has no spaces: a "+" that arrived unescaped was decoded to " " on the way
            echostr = q["echostr"].replace(" ", "+")
            plain = self.crypto.check_url(q["msg_signature"], q["timestamp"], q["nonce"], echostr)
        except (Refused, CryptoError) as exc:
            return self._refuse(request, exc)
        log.info("WeCom callback URL verified")
        return PlainTextResponse(plain)

    async def receive(self, request: HttpRequest) -> Response:
        try:
            q = request.query_params
            self._check_params(q)
            body = await self._read_body(request)
            envelope = parse_xml(body)
            encrypt = envelope.get("Encrypt", "")
            if not encrypt:
                raise Refused(400, "no <Encrypt> in body")
            msg = parse_xml(self.crypto.open(q["msg_signature"], q["timestamp"], q["nonce"], encrypt))
            if not msg.get("FromUserName") or not msg.get("MsgType"):
                raise Refused(400, "message without FromUserName or MsgType")
            self._check_agent(msg)
        except (Refused, CryptoError) as exc:
            return self._refuse(request, exc)
        key = message_key(msg)
        if self.inbox is not None:  # the key and the message in one row, before the 200
            if not self.inbox.accept(key, "wecom", msg["FromUserName"], json.dumps(msg, ensure_ascii=False)):
                log.info("WeCom callback repeated (%s): already accepted", (key or "?").split(":", 1)[0])
            return Response(status_code=200)
        if key is not None and not self.deduper.first_seen(key):
            log.info("WeCom callback repeated (%s): already handled", key.split(":", 1)[0])
            return Response(status_code=200)
        self._enqueue(msg)
        return Response(status_code=200)

    def _check_agent(self, msg: Mapping[str, str]) -> None:
        """The inner (encrypted, so authentic) <AgentID> must be this app's. The crypto proves only
        the corp: another app of the corp set up with the same callback token and key (one service
        fronting several apps) would have its members' commands and clicks answered as ours, with
        this app's data and permissions. The outer envelope's AgentID is unsigned and not used."""
        agent = msg.get("AgentID", "").strip()
        if agent != str(self.client.agent_id):
            raise Refused(403, f"callback for AgentID {agent[:12] or '(none)'}, not this app's")

    def _check_params(self, q: Mapping[str, str], *extra: str) -> None:
        for name in ("msg_signature", "timestamp", "nonce", *extra):
            if not q.get(name):
                raise Refused(400, f"missing query parameter {name}")
        ts = q["timestamp"]
        if not ts.isdigit() or len(ts) > 12:
            raise Refused(400, "timestamp is not a number")
        if self.max_skew is not None and abs(self._clock() - int(ts)) > self.max_skew:
            raise Refused(403, "timestamp too far from now (replay?)")

    async def _read_body(self, request: HttpRequest) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and not declared.isdigit():
            raise Refused(400, "bad Content-Length")
        if declared is not None and int(declared) > self.max_body:
            raise Refused(413, "body too large")
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > self.max_body:
                    raise Refused(413, "body too large")
                chunks.append(chunk)
        except ClientDisconnect as exc:
            raise Refused(400, "client went away") from exc
        return b"".join(chunks)

    def _refuse(self, request: HttpRequest, exc: Refused | CryptoError) -> Response:
        from bot import metrics
        from bot.adapters.wecom.crypto import ReceiveIdError, SignatureError

        status = exc.status
        peer = request.client.host if request.client else "?"
        metrics.refusal("wecom", "signature" if isinstance(exc, SignatureError) else
                        "replay" if "replay" in exc.reason else
                        "foreign_app" if isinstance(exc, ReceiveIdError) or "AgentID" in exc.reason else
                        "decrypt" if isinstance(exc, CryptoError) else "malformed")
        log.warning("WeCom callback refused: %s %s (%s) from %s", status, exc.reason, request.method, peer)
        return PlainTextResponse("", status_code=status)

    # -- per-user ordered work queue -------------------------------------------------------------

    def _enqueue(self, msg: dict[str, str]) -> None:
        user = msg["FromUserName"]
        with self._idle:
            self._pending += 1
            queue = self._queues.get(user)
            if queue is not None:
                queue.append(msg)
                return
            self._queues[user] = deque([msg])
        self._pool.submit(self._run_user, user)

    def _run_user(self, user: str) -> None:
        while True:
            with self._idle:
                queue = self._queues[user]
                if not queue:
                    del self._queues[user]
                    return
                msg = queue.popleft()
            try:
                self.process(msg)
            except Exception:  # the worker must survive anything one message does
                log.exception("WeCom message from %s failed", user)
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every accepted callback has been processed (tests, graceful shutdown)."""
        if self.inbox is not None:
            return self.inbox.drain(timeout)
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout=timeout)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.client.close()

    def shutdown(self, timeout: float) -> int:
        """Graceful stop (SIGTERM): answer what was accepted within `timeout` seconds. A reply
        that would wait for WeCom's rate limit past the bound is refused by the pacer and logged
        as not delivered (send_reply); messages still queued behind it are logged here, one
        ERROR line each, never dropped silently. Returns how many queued messages were not run.
        With an inbox, nothing is lost at a stop: the inbox's own stop drains (bot/server.py)."""
        if self.inbox is not None:
            return 0
        self.client.pacer.close_at(time.monotonic() + timeout)
        if self.drain(timeout):
            self.close()
            return 0
        with self._idle:
            left = [(user, msg) for user, queue in self._queues.items() for msg in queue]
            for queue in self._queues.values():
                queue.clear()
            self._pending -= len(left)
        for user, msg in left:
            log.error("WeCom message from %s (MsgId %s, %s) accepted but not answered: shutting down",
                      user, msg.get("MsgId", "?"), msg.get("MsgType", "?"))
        if not self.drain(5.0):
            log.error("%d WeCom replies still in progress at exit", self._pending)
        self._pool.shutdown(wait=False)
        self.client.close()
        return len(left)

    # -- the work (worker threads) ---------------------------------------------------------------

    def process(self, msg: Mapping[str, str]) -> None:
        """The direct path (no inbox): the replies are sent at once."""
        for reply, cards in self.respond(msg):
            self.send_reply(msg["FromUserName"], reply, cards=cards)

    def handle_row(self, row: "inbox_store.Claimed") -> list[NewMessage]:
        """The inbox's handler: the replies of one stored callback, as outbox rows to the member."""
        from bot.adapters.wecom.push import WeComMemberSender

        msg = json.loads(row.payload)
        replies = self.respond(msg)
        if not replies:
            return []
        org, today = inbox_store.reply_org(self.bot.engine), shanghai.today()
        return [NewMessage(key=reply_key(row, n), kind="reply", org_id=org, push_date=today,
                           platform="wecom_member", target=row.user_id, payload=reply.model_dump_json(),
                           rendered=WeComMemberSender.rendered(reply, cards))
                for n, (reply, cards) in enumerate(replies)]

    def respond(self, msg: Mapping[str, str]) -> list[tuple[Reply, bool]]:
        """Run a callback's command or click: the replies to send the member (and whether with
        cards). A click's card update is the one call made here (updating it twice is harmless)."""
        user = msg["FromUserName"]
        kind = msg.get("MsgType")
        if kind == "text":
            return [(self.bot.handle(Request(text=msg.get("Content", ""), platform="wecom", user_id=user,
                                             channel_kind="dm")), True)]
        if kind == "event":
            event = msg.get("Event", "")
            if event == "template_card_event":
                return self.on_click(msg)
            log.debug("WeCom event %s ignored", event[:40])
            return []
        return [(Reply(title="提示", summary=ONLY_TEXT), True)]

    def on_batch(self, msg: Mapping[str, str]) -> list[tuple[Reply, bool]]:
        """A batched card's submit: each chosen option is one of the items' button keys, run as
        that button's click would be (same action, same checks of role and scope); then the card
        is greyed out, or, if any was refused, the answers are sent as messages."""
        user = msg["FromUserName"]
        chosen = [o for _, options in parse_selected(msg.get("SelectedItems", "")) for o in options
                  if o != SKIP_OPTION]
        if not chosen:
            return [(Reply(title="未登记", summary=NOTHING_CHOSEN), False)]
        replies: list[Reply] = []
        for option in chosen:
            parsed = parse_button_key(option)
            if parsed is None:
                replies.append(Reply.error(STALE_BUTTON))
                continue
            replies.append(self.bot.handle_action(ActionRequest(action=parsed[0], value=parsed[1], platform="wecom",
                                                                user_id=user, channel_kind="dm")))
        code = msg.get("ResponseCode", "")
        if code and all(r.kind != "error" for r in replies):
            try:
                self.client.update_template_card([user], code, f"已登记 {len(replies)} 项跟进")
                return []
            except WeComError as exc:
                log.warning("WeCom card update failed: %s", exc)
        return [(r, False) for r in replies]

    def on_click(self, msg: Mapping[str, str]) -> list[tuple[Reply, bool]]:
        """A card button: run its action as the clicker, then grey the card out with who did it."""
        user = msg["FromUserName"]
        if msg.get("EventKey") == BATCH_SUBMIT or msg.get("CardType") == "multiple_interaction":
            return self.on_batch(msg)
        parsed = parse_button_key(msg.get("EventKey", ""))
        if parsed is None:
            return [(Reply.error(STALE_BUTTON), True)]
        action, value = parsed
        reply = self.bot.handle_action(ActionRequest(action=action, value=value, platform="wecom",
                                                     user_id=user, channel_kind="dm"))
        code = msg.get("ResponseCode", "")
        if reply.kind != "error" and code:
            try:
                self.client.update_template_card([user], code, render_done(reply, self.templates_dir))
                return []
            except WeComError as exc:  # code expired (72 h) or used: say it in a message instead
                log.warning("WeCom card update failed: %s", exc)
        return [(reply, False)]

    def send_reply(self, user: str, reply: Reply, *, cards: bool = True) -> None:
        try:
            deliver.to_member(self.client, user, reply, self.templates_dir, cards=cards)
        except WeComError as exc:
            # nobody to tell but the operator: the user's only channel is what just failed
            log.error("WeCom reply to %s not delivered: %s", user, exc)
