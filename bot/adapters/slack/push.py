"""Push sender for the outbox worker (`bot.push`): masked branch pushes into Slack channels.

target = a channel id (C…/G…). Every message carries Slack message metadata
    {"event_type": "rmbot_push", "event_payload": {"key": <outbox key>}}
so `find_sent` can find it again in `conversations.history` after a crash between send and
mark (this is what makes Slack delivery exactly-once; the bot needs `channels:history` /
`groups:history` to read it back, see slack_manifest.yaml). A Reply that renders into several
Slack messages is posted in order, message i of n marked {"key", "part": i, "parts": n}, and
the message id is the ts list joined by ",".

Several messages for one row: counted as found only when ALL parts are in the channel. When
only some are, `find_sent` answers None and remembers them, and `send` then posts just the
missing parts. `send` also looks in the channel by itself before posting a multi-message reply
(not a single one: that costs no history call), because a row whose earlier attempt failed
halfway comes back as plain `pending`, maybe in a new process. Each part arrives once.

Fast enough for 2,000 channels at Slack's 1 message/s each: `render` makes a row's Block Kit
messages when the push is built (stored in `Outbox.rendered`; `send_rendered` posts them), so
delivery spends no ~2 ms a message validating and templating, and the client keeps its HTTP
connections alive (`KeepAliveWebClient`) instead of opening one per message.

Errors, as the worker needs them:
* `TransientSendError`: Slack said no and nothing was posted — 429 after the SDK's own retries,
  5xx, `ratelimited`/`internal_error`…, a connection that could not be made, or an API error we
  do not know (retried with backoff, dead after the worker's max attempts, `last_error` shows it).
* `PermanentSendError`: an operator must act (`channel_not_found`, `not_in_channel`,
  `invalid_auth`, `account_inactive`, `is_archived`, `msg_too_long`, `missing_scope` …), or an
  unmasked reply addressed to a channel (`MaskingRefused`).
* `SendOutcomeUnknown` (deliberately neither): the request may have reached Slack (read timeout,
  connection dropped before the answer). The worker leaves the row `sending`; when the lease
  runs out it is verified with `find_sent` before any second post.
* `VerifyUnavailable` from `find_sent` (Slack could not be asked): also neither, so the row stays
  `verifying` and is asked about again after the lease — a `TransientSendError` there would put
  the row back to `pending`, and the retry would post without checking.
"""

from __future__ import annotations

import logging
import io
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.request import Request

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import RetryHandler
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest as RetryHttpRequest
from slack_sdk.http_retry.response import HttpResponse as RetryHttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web import SlackResponse
from sqlalchemy.engine import Engine

from bot import clock
from bot.adapters.slack.client import make_client
from bot.adapters.slack.delivery import Delivery, MaskingRefused, guard
from bot.adapters.slack.inbound import channel_kind
from bot.config import Settings
from bot.core.reply import Reply
from bot.core.request import ChannelKind
from bot.push.keepalive import ConnectionPool
from bot.push.senders import PermanentSendError, TransientSendError

log = logging.getLogger("rmbot.slack")

EVENT_TYPE = "rmbot_push"
HISTORY_PAGE = 200
CLOCK_SKEW = timedelta(minutes=10)
"""Slack stamps messages with its own clock: look this much further back than asked."""
PARTIAL_LOOKBACK = timedelta(days=2)
"""How far back `send` looks for parts of a multi-message reply posted by an earlier attempt
(the worker's backoff adds up to ~1.5 h over 8 attempts)."""

PERMANENT = frozenset({
    "channel_not_found", "not_in_channel", "is_archived", "msg_too_long", "msg_blocks_too_long",
    "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "missing_scope",
    "no_permission", "restricted_action", "team_access_not_granted", "ekm_access_denied",
    "invalid_blocks", "invalid_metadata_format", "invalid_metadata_schema", "channel_type_not_supported",
})
"""Everything else ok: false (ratelimited, internal_error, fatal_error, service_unavailable, an
error we do not know), 429 and 5xx are transient: a rejected post was not posted, so retrying
is safe, and the worker's max attempts still ends it, visibly."""


class SendOutcomeUnknown(RuntimeError):
    """chat.postMessage may or may not have arrived: leave the row to be verified after its lease."""


class VerifyUnavailable(RuntimeError):
    """conversations.history could not be read: leave the row `verifying` for the next lease."""


class KeepAliveWebClient(WebClient):
    """The SDK's WebClient (its retry handlers, errors and responses) over kept-alive connections
    (`bot.push.keepalive`) instead of a new connection per call; failures raise what urllib
    raises (URLError only when the request never left), so `classify_send` reads them the same.
    Behind a proxy it falls back to urllib."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pool = ConnectionPool(timeout=self.timeout, ssl_context=self.ssl)

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        if self.proxy is not None or not url.lower().startswith(("http://", "https://")):
            return super()._perform_urllib_http_request_internal(url, req)
        resp = self.pool.post(url, req.data, dict(req.header_items()))  # type: ignore[arg-type]
        if not 200 <= resp.status < 300:
            raise HTTPError(url, resp.status, resp.reason, resp.headers, io.BytesIO(resp.body))
        if resp.headers.get_content_type() == "application/gzip":
            return {"status": resp.status, "headers": resp.headers, "body": resp.body}
        charset = resp.headers.get_content_charset() or "utf-8"
        return {"status": resp.status, "headers": resp.headers, "body": resp.body.decode(charset)}

    def post_json(self, api_method: str, body: bytes) -> SlackResponse:
        """A call whose JSON body is already encoded (a push rendered when it was built), with the
        SDK's own retry handlers, response and errors, as `_perform_urllib_http_request` runs
        them — but without the SDK walking the message's blocks and encoding them again, which
        costs more CPU than the HTTP itself."""
        url = f"{self.base_url}{api_method}"
        headers = self._build_urllib_request_headers(token=self.token or "", has_json=True, has_files=False,
                                                     additional_headers={})
        request = RetryHttpRequest(method="POST", url=url, headers={k: [v] for k, v in headers.items()}, data=body)
        state = RetryState()
        while True:
            state.next_attempt_requested = False
            response: RetryHttpResponse | None = None
            error: Exception | None = None
            try:
                resp = self.pool.post(url, body, headers)
            except Exception as exc:  # noqa: BLE001  (the handlers decide; re-raised as is)
                error = exc
            else:
                data = _json_body(resp.body)
                response = RetryHttpResponse(status_code=resp.status, headers={k: [v] for k, v in resp.headers.items()},
                                             body=data, data=resp.body)
                if not 200 <= resp.status < 300:
                    error = HTTPError(url, resp.status, resp.reason, resp.headers, None)
            for handler in self.retry_handlers:
                if handler.can_retry(state=state, request=request, response=response, error=error):
                    handler.prepare_for_next_attempt(state=state, request=request, response=response, error=error)
                    break
            if state.next_attempt_requested:
                continue
            if response is None:
                assert error is not None
                raise error
            return SlackResponse(client=self, http_verb="POST", api_url=url, req_args={}, data=response.body or {},
                                 headers=dict(resp.headers.items()), status_code=resp.status).validate()


def _json_body(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError:
        return {"ok": False, "error": f"unexpected response: {raw[:100]!r}"}
    return data if isinstance(data, dict) else {"ok": False, "error": "unexpected response"}


def push_client(settings: Settings) -> WebClient:
    """The adapter's client settings (base URL, timeout, 429/5xx retries) on kept-alive
    connections, except that connection errors are retried only when the request never left
    (URLError from connect/send). The SDK would also retry a connection reset after the request
    was sent, which can post twice."""
    made = make_client(settings)
    return KeepAliveWebClient(token=made.token, base_url=made.base_url, timeout=made.timeout,
                              retry_handlers=[_never_sent_only(h) for h in made.retry_handlers])


def _never_sent_only(handler: RetryHandler) -> RetryHandler:
    if isinstance(handler, ConnectionErrorRetryHandler):
        return ConnectionErrorRetryHandler(max_retry_count=handler.max_retry_count, error_types=[URLError])
    return handler


def api_error(exc: SlackApiError) -> str:
    return str(exc.response.get("error") or "unknown_error") if exc.response is not None else "unknown_error"


def _status(exc: SlackApiError) -> int:
    return int(getattr(exc.response, "status_code", 200) or 200)


def _is_permanent(exc: SlackApiError) -> bool:
    status, error = _status(exc), api_error(exc)
    return status != 429 and status < 500 and error in PERMANENT


def operator_hint(error: str, channel: str | None) -> str:
    """What an operator does about a permanent error: the one wording both the dead row's
    last_error (rmbot push status) and the log line carry, so a dead row never goes unexplained."""
    where = channel or "?"
    if error == "not_in_channel":
        return (f"机器人不在 Slack 频道 {where} 中：请在该频道输入 /invite @rmbot，再运行 rmbot push dest check "
                f"和 rmbot push run（重发）。The bot is not a member of channel {where}: invite it there "
                f"(/invite @rmbot), then check with `rmbot push dest check` and rerun the push (docs/slack.md).")
    if error in ("channel_not_found", "is_archived"):
        return (f"Slack 频道 {where} 不存在或已归档：请用 rmbot push dest set 改为正确的频道 ID。"
                f"Channel {where} is gone or archived: set the branch's destination again (docs/slack.md).")
    return ""


def classify_send(exc: Exception, channel: str | None = None) -> Exception:
    """A failed chat.postMessage → the exception the worker understands."""
    if isinstance(exc, SlackApiError):
        status, error = _status(exc), api_error(exc)
        text = f"Slack {error} (HTTP {status})"
        if _is_permanent(exc):
            hint = operator_hint(error, channel)
            return PermanentSendError(f"{text}: {hint}" if hint else text)
        return TransientSendError(text)  # 429, 5xx, ratelimited, internal_error, or unknown
    if isinstance(exc, URLError) and not isinstance(exc, HTTPError):
        return TransientSendError(f"Slack unreachable: {exc.reason}")  # never connected/sent
    return SendOutcomeUnknown(f"{exc.__class__.__name__}: {exc}")


def _metadata(key: str, part: int | None = None, parts: int | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"key": key}
    if part is not None:
        payload.update(part=part, parts=parts)
    return {"event_type": EVENT_TYPE, "event_payload": payload}


class SlackSender:
    platform = "slack"
    min_interval = 1.0
    """Seconds between rows in one channel (the worker paces by it): chat.postMessage allows about
    one message per second per channel; a burst beyond that is answered 429, which the SDK waits out."""

    def __init__(self, client: WebClient, engine: Engine | None = None, templates_dir: str | None = None,
                 now: Callable[[], datetime] = clock.now) -> None:
        self.client = client
        self.delivery = Delivery(client, engine, templates_dir)
        """Renders (RMs' @-mentions resolved from chat identities) and posts behind the masking guard."""
        self.now = now
        self._found_parts: dict[tuple[str, str], dict[int, str]] = {}
        """(channel, key) → parts known to be in the channel, from find_sent or a half-done send."""

    @classmethod
    def from_settings(cls, settings: Settings, engine: Engine | None = None) -> SlackSender:
        if not settings.slack_bot_token:
            raise ValueError("Slack pushes need SLACK_BOT_TOKEN")
        if engine is None:
            from bot.store.db import make_engine

            engine = make_engine(settings.database_url)
        templates = str(settings.templates_dir) if settings.templates_dir else None
        return cls(push_client(settings), engine, templates)

    # -- rendering ahead of delivery -------------------------------------------------------
    def render(self, reply: Reply) -> str | None:
        """The reply's Slack messages for `Outbox.rendered` (made when the push is built), so
        delivery only posts them: {"masked": bool, "messages": [chat.postMessage body as JSON
        text, …]}. None for a reply with charts: they are uploaded from the Reply at send. A
        reply that cannot be rendered raises; the build then leaves it to `send`, which marks
        the row dead with the reason."""
        if reply.images:
            return None
        messages = [json.dumps({k: v for k, v in p.items() if v is not None}, ensure_ascii=False)
                    for p in self.delivery.payloads(reply)]
        return json.dumps({"masked": reply.masked, "messages": messages}, ensure_ascii=False)

    def send_rendered(self, target: str, rendered: str, key: str) -> str | None:
        """Post what `render` made; the same metadata, parts, masking guard and errors as `send`.
        A single message (every push part) goes as its stored JSON plus channel and metadata."""
        doc = json.loads(rendered)
        produced_for: ChannelKind = "group" if doc["masked"] else "dm"
        messages: list[str] = doc["messages"]
        if len(messages) == 1 and isinstance(self.client, KeepAliveWebClient) and self.client.proxy is None:
            return self._post_encoded(target, messages[0], key, produced_for)
        return self._send_text(target, [json.loads(m) for m in messages], key, produced_for)

    def _post_encoded(self, channel: str, message: str, key: str, produced_for: ChannelKind) -> str:
        try:
            guard(produced_for, channel_kind(channel), channel)
        except MaskingRefused as exc:
            raise PermanentSendError(str(exc)) from exc
        if not (message.startswith("{") and message.endswith("}") and len(message) > 2):
            raise PermanentSendError(f"rendered message is not a JSON object: {message[:60]!r}")
        body = f'{message[:-1]},"channel":{json.dumps(channel)},"metadata":{json.dumps(_metadata(key))}}}'
        try:
            resp = self.client.post_json("chat.postMessage", body.encode("utf-8"))  # type: ignore[attr-defined]
        except Exception as exc:
            raise classify_send(exc, channel) from exc
        return str(resp.get("ts"))

    # -- sending ------------------------------------------------------------------------
    def send(self, target: str, reply: Reply, key: str) -> str | None:
        # Pushes are masked for the branch channel; anything else must not reach a channel.
        produced_for: ChannelKind = "group" if reply.masked else "dm"
        try:
            payloads = self.delivery.payloads(reply)
        except ValueError as exc:  # RenderError: cannot be shown without losing data
            raise PermanentSendError(f"cannot render: {exc}") from exc
        message_id = self._send_text(target, payloads, key, produced_for)
        if reply.images:
            self._upload_images(target, reply, key, produced_for)
        return message_id

    def _upload_images(self, target: str, reply: Reply, key: str, produced_for: ChannelKind) -> None:
        """Charts follow the text, best effort: once the text is in the channel, failing the row
        would post it again on retry, and a file upload carries no metadata `find_sent` could
        check. A failed upload is logged; the text (with every figure) has arrived."""
        try:
            self.delivery.upload_images(target, reply, produced_for=produced_for)
        except Exception as exc:  # noqa: BLE001
            error = api_error(exc) if isinstance(exc, SlackApiError) else f"{exc.__class__.__name__}: {exc}"
            log.warning("push %s: %d chart(s) not uploaded to %s: %s", key, len(reply.images), target, error)

    def _send_text(self, target: str, payloads: Sequence[Mapping[str, Any]], key: str,
                   produced_for: ChannelKind) -> str | None:
        n = len(payloads)
        if n == 1:
            return self._post(target, dict(payloads[0], metadata=_metadata(key)), produced_for)
        done = self._found_parts.pop((target, key), None)
        if done is None:
            done, _ = self._parts_in_channel(target, key, self.now() - PARTIAL_LOOKBACK, send=True)
            if 0 in done:  # an earlier attempt rendered it as one message (mentions changed since)
                return done[0]
        for i, payload in enumerate(payloads, start=1):
            if i in done:
                continue
            try:
                done[i] = self._post(target, dict(payload, metadata=_metadata(key, i, n)), produced_for)
            except Exception:
                if done:
                    self._found_parts[(target, key)] = done
                raise
        return ",".join(done[i] for i in range(1, n + 1))

    def _post(self, channel: str, payload: Mapping[str, Any], produced_for: ChannelKind) -> str:
        try:
            [ts] = self.delivery.post_payloads(channel, [payload], produced_for=produced_for)
        except MaskingRefused as exc:
            raise PermanentSendError(str(exc)) from exc
        except Exception as exc:
            raise classify_send(exc, channel) from exc
        return ts

    # -- reading back -------------------------------------------------------------------
    def find_sent(self, target: str, key: str, since: datetime) -> str | None:
        parts, total = self._parts_in_channel(target, key, since)
        if 0 in parts:
            return parts[0]
        if total and all(i in parts for i in range(1, total + 1)):
            return ",".join(parts[i] for i in range(1, total + 1))
        if parts:
            self._found_parts[(target, key)] = parts  # a strict subset: `send` posts the rest
            log.warning("push %s: %d of %d parts already in %s; posting the rest", key, len(parts), total, target)
        return None

    def _parts_in_channel(self, channel: str, key: str, since: datetime,
                          send: bool = False) -> tuple[dict[int, str], int]:
        """Our messages for `key` in the channel: part number (0 for a single-message reply) → ts,
        and how many parts the reply has (0 when unknown)."""
        found: dict[int, str] = {}
        total = 0
        try:
            for message in self._history(channel, since - CLOCK_SKEW):
                meta = message.get("metadata")
                if not isinstance(meta, dict) or meta.get("event_type") != EVENT_TYPE:
                    continue
                payload = meta.get("event_payload")
                if not isinstance(payload, dict) or payload.get("key") != key:
                    continue
                part, parts = payload.get("part"), payload.get("parts")
                if part is None:
                    return {0: str(message["ts"])}, 1
                if isinstance(part, int) and isinstance(parts, int):
                    found.setdefault(part, str(message["ts"]))
                    total = parts
                    if len(found) >= total:
                        break
        except SlackApiError as exc:
            if _is_permanent(exc):
                hint = operator_hint(api_error(exc), channel)
                raise PermanentSendError(f"Slack {api_error(exc)} reading {channel}" + (f": {hint}" if hint else "")) from exc
            if send:  # nothing posted yet in this attempt: an ordinary retry is safe
                raise classify_send(exc, channel) from exc
            raise VerifyUnavailable(f"Slack {api_error(exc)} (HTTP {_status(exc)}) reading {channel}") from exc
        except Exception as exc:
            if send:
                raise TransientSendError(f"Slack unreachable reading {channel}: {exc}") from exc
            raise VerifyUnavailable(f"{exc.__class__.__name__} reading {channel}: {exc}") from exc
        return found, total

    def _history(self, channel: str, oldest: datetime) -> Iterator[dict[str, Any]]:
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=clock.SHANGHAI)
        cursor: str | None = None
        while True:
            resp = self.client.conversations_history(channel=channel, oldest=f"{oldest.timestamp():.6f}",
                                                     include_all_metadata=True, limit=HISTORY_PAGE, cursor=cursor)
            yield from resp.get("messages") or []
            cursor = (resp.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return
