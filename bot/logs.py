"""The one logging setup of every rmbot process, and the one redaction filter on its handlers.

Why one place: httpx logs every request URL at INFO, and WeCom puts its credentials in the
query string (`gettoken?corpsecret=…`, `message/send?access_token=…`, `webhook/send?key=…`);
Slack tokens, Authorization headers and database URLs turn up in library debug lines and in
exception texts. A filter per call site would be forgotten by the next one, so the filter sits
on the root handler (every library's records propagate there; uvicorn is run without its own
logging config for that reason) and rewrites the finished message, the arguments merged into
it, the exception text and the stack text before any formatter sees them.

What is redacted (`redact`):
- query parameters and JSON/dict fields named like a credential (secret, corpsecret,
  access_token, key, token, signature, password, …): the value becomes `***`;
- Slack tokens (xoxb-, xoxp-, xapp-, …) and `Authorization:` header values;
- the password of a URL (`postgresql://user:***@host/db`);
- the literal values of every configured secret (each `SecretStr` setting, the database
  password) and of secrets met at run time (WeCom access tokens, robot webhook keys), raw and
  URL-encoded: `register_secret`.

Times are Asia/Shanghai with their offset. `RMBOT_LOG_FORMAT=json` writes one JSON object per
line: time, level, logger, message, request_id (when the record or the current context has one)
and exc (the redacted traceback, when there is one).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
from contextvars import ContextVar
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, quote_plus

from bot.clock import SHANGHAI

if TYPE_CHECKING:
    from bot.config import Settings

MASK = "***"
MIN_SECRET_LENGTH = 4
"""Shorter configured values are not replaced literally (they would blank ordinary words)."""

request_id: ContextVar[str | None] = ContextVar("rmbot_request_id", default=None)
"""The inbound request being handled, for log lines that do not pass `extra={"request_id": …}`."""

_NAME = re.compile(r"(?i)[A-Za-z0-9_-]*(?:secret|token|password|passwd|signature)"
                   r"|[A-Za-z0-9_-]*_key|key|apikey|api-key|pwd|sign|encodingaeskey")
"""Names of credential parameters and fields, checked on a whole name (linear time on long text)."""
_PARAM = re.compile(r"(?<![A-Za-z0-9_-])([A-Za-z0-9_-]+)=([^&\s'\"<>;,)]+)")
_FIELD = re.compile(r"([\"'])([A-Za-z0-9_-]+)\1(\s*:\s*)([\"'])(.*?)(?<!\\)\4")
_AUTH = re.compile(r"(?i)\b((?:proxy-)?authorization)([\"']?\s*[:=]\s*[\"']?)"
                   r"(?:(bearer|basic|token|digest)\s+)?[^\s\"',;}]+")
_SLACK = re.compile(r"\b(xox[a-z]|xapp)-[A-Za-z0-9-]+")
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]*:)([^@\s/]+)@")

_lock = threading.Lock()
_secrets: set[str] = set()
_literal: re.Pattern[str] | None = None


def register_secret(value: str | None) -> None:
    """Redact this exact value (and its URL-encoded forms) from every log line from now on."""
    global _literal
    if not value or len(value) < MIN_SECRET_LENGTH:
        return
    forms = {value, quote(value, safe=""), quote_plus(value)}
    with _lock:
        if forms <= _secrets:
            return
        _secrets.update(forms)
        ordered = sorted(_secrets, key=len, reverse=True)  # a longer secret before its prefix
        _literal = re.compile("|".join(re.escape(s) for s in ordered))


def register_settings(settings: "Settings") -> None:
    """Every SecretStr setting (Slack, WeCom, an audit key…) and the database URL's password."""
    from pydantic import SecretStr
    from sqlalchemy.engine import make_url

    for name in type(settings).model_fields:
        value = getattr(settings, name, None)
        if isinstance(value, SecretStr):
            secret = value.get_secret_value()
            register_secret(secret)
            for part in secret.split(","):  # lists of keys (retired audit keys)
                register_secret(part.strip())
    try:
        register_secret(make_url(settings.database_url).password)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001  (a malformed URL is reported by the command, not here)
        pass


def redact(text: str) -> str:
    """`text` with every credential we know the shape or the value of replaced by ***."""
    if not text:
        return text
    literal = _literal
    if literal is not None:
        text = literal.sub(MASK, text)
    # each pattern only where its anchor occurs: a DEBUG line can be a 300 KB request body
    if "xox" in text or "xapp-" in text:
        text = _SLACK.sub(lambda m: f"{m.group(1)}-{MASK}", text)
    if "uthorization" in text or "UTHORIZATION" in text:
        text = _AUTH.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3) + ' ' if m.group(3) else ''}{MASK}", text)
    if "://" in text:
        text = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}{MASK}@", text)
    if "=" in text:
        text = _PARAM.sub(_param, text)
    if ":" in text:
        text = _FIELD.sub(_field, text)
    return text


def _param(m: re.Match[str]) -> str:
    return f"{m.group(1)}={MASK}" if _NAME.fullmatch(m.group(1)) else m.group(0)


def _field(m: re.Match[str]) -> str:
    if not _NAME.fullmatch(m.group(2)):
        return m.group(0)
    quote, value_quote = m.group(1), m.group(4)
    return f"{quote}{m.group(2)}{quote}{m.group(3)}{value_quote}{MASK}{value_quote}"


def mask_secret(value: str, keep: int = 4) -> str:
    """For showing a credential to an operator (`rmbot push dest list`): only its last characters.
    In a URL only the key parameter is masked, so the operator still sees where it points."""
    if "key=" in value:
        return re.sub(r"(key=)([^&\s]+)", lambda m: m.group(1) + mask_secret(m.group(2), keep), value)
    if len(value) <= keep * 2:
        return MASK
    return MASK + value[-keep:]


class RedactingFilter(logging.Filter):
    """Rewrites a record in place: message with its args merged, exception and stack text."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001  (bad format args: keep what can be shown)
            message = f"{record.msg!r} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = _PLAIN.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


REDACTION = RedactingFilter()
"""The one instance on every handler (attaching it twice is a no-op)."""


def _time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, SHANGHAI).isoformat(timespec="milliseconds")


def _request_id(record: logging.LogRecord) -> str | None:
    value = getattr(record, "request_id", None) or request_id.get()
    return str(value) if value else None


class TextFormatter(logging.Formatter):
    """`2026-12-02T13:06:27.123+08:00 INFO rmbot.wecom message [req=…]`."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return _time(record)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = _request_id(record)
        if rid:
            first, nl, rest = line.partition("\n")
            line = f"{first} [req={rid}]{nl}{rest}"
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line; a traceback is a field, never extra lines."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {"time": _time(record), "level": record.levelname, "logger": record.name,
                                 "message": record.getMessage()}
        rid = _request_id(record)
        if rid:
            entry["request_id"] = rid
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(self.formatException(record.exc_info))
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False)


_PLAIN = logging.Formatter()
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__()

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


_handler: logging.Handler | None = None


def setup_logging(settings: "Settings | None" = None, *, level: str | None = None, fmt: str | None = None) -> None:
    """Configure the root logger once per process; later calls update level, format and secrets.

    Our handler is added only when the root has none (as `logging.basicConfig`): a test runner's
    capture handlers stay in charge, levels included, and still get the redaction filter."""
    global _handler
    if settings is not None:
        register_settings(settings)
        level = level or settings.log_level
        fmt = fmt or settings.log_format
    level = (level or os.environ.get("RMBOT_LOG_LEVEL") or "INFO").upper()
    fmt = (fmt or os.environ.get("RMBOT_LOG_FORMAT") or "text").lower()
    formatter: logging.Formatter = JsonFormatter() if fmt == "json" else TextFormatter(TEXT_FORMAT)
    root = logging.getLogger()
    with _lock:
        if _handler is None:
            _handler = _StderrHandler()
            _handler.addFilter(REDACTION)
        _handler.setFormatter(formatter)
        if not root.handlers:
            root.addHandler(_handler)
        for handler in root.handlers:
            if REDACTION not in handler.filters:
                handler.addFilter(REDACTION)
        if _handler not in root.handlers:
            return  # someone else configured logging (a test runner): levels stay theirs, as with basicConfig
        logging.lastResort = _handler
    try:
        root.setLevel(level)
    except ValueError:
        root.setLevel(logging.INFO)
        logging.getLogger("rmbot").warning("RMBOT_LOG_LEVEL %r is not a level; using INFO", level[:20])
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
