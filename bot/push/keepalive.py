"""Keep-alive HTTP connections shared by the delivery worker's sending threads.

urllib (what slack_sdk's WebClient uses) opens a new TCP (and TLS) connection for every call:
at 2,000 posts a second that is most of the CPU a post costs, and a TLS handshake per message
to the real Slack. This pool keeps connections open between calls, for any thread.

What a failure means matters for exactly-once delivery, so errors keep urllib's meaning:
* `URLError`: the request never left — the connection could not be made, or broke while the
  request was being written (a server acts only on a complete request). Safe to retry.
* anything else (a timeout or a reset while waiting for the answer): it may have arrived.
A connection is reused only if it has been idle less than `idle_seconds` and the server has not
closed it (checked without blocking), so the race with a server's keep-alive timeout is rare;
when it happens the outcome is "unknown", which the worker verifies before any resend.
"""

from __future__ import annotations

import http.client
import select
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from urllib.error import URLError
from urllib.parse import urlsplit

Origin = tuple[str, str, int]


@dataclass
class Response:
    status: int
    reason: str
    headers: Message
    body: bytes


class ConnectionPool:
    def __init__(self, timeout: float, ssl_context: ssl.SSLContext | None = None, max_idle: int = 256,
                 idle_seconds: float = 4.0) -> None:
        self.timeout = timeout
        self.ssl_context = ssl_context
        self.max_idle = max_idle
        self.idle_seconds = idle_seconds
        """Below any sane server's keep-alive timeout (nginx 75 s, AWS load balancers 60 s)."""
        self._idle: dict[Origin, list[tuple[float, http.client.HTTPConnection]]] = {}
        self._lock = threading.Lock()

    def post(self, url: str, body: bytes | None, headers: Mapping[str, str]) -> Response:
        parts = urlsplit(url)
        origin: Origin = (parts.scheme, parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn = self._checkout(origin)
        try:
            conn.request("POST", path, body, dict(headers))
        except OSError as exc:  # connecting, or writing the request: it was never complete at the server
            conn.close()
            raise URLError(exc) from exc
        try:
            resp = conn.getresponse()
            data = resp.read()
        except BaseException:
            conn.close()  # the answer was lost: whether the request arrived is unknown
            raise
        if resp.will_close:
            conn.close()
        else:
            self._checkin(origin, conn)
        return Response(resp.status, resp.reason, resp.headers, data)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for _, conn in conns:
                conn.close()

    def _checkout(self, origin: Origin) -> http.client.HTTPConnection:
        now = time.monotonic()
        while True:
            with self._lock:
                conns = self._idle.get(origin)
                entry = conns.pop() if conns else None
            if entry is None:
                return self._connect(origin)
            since, conn = entry
            if now - since < self.idle_seconds and not _dropped(conn):
                return conn
            conn.close()

    def _checkin(self, origin: Origin, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            conns = self._idle.setdefault(origin, [])
            if len(conns) < self.max_idle:
                conns.append((time.monotonic(), conn))
                return
        conn.close()

    def _connect(self, origin: Origin) -> http.client.HTTPConnection:
        scheme, host, port = origin
        if scheme == "https":
            context = self.ssl_context or ssl.create_default_context()
            return http.client.HTTPSConnection(host, port, timeout=self.timeout, context=context)
        return http.client.HTTPConnection(host, port, timeout=self.timeout)


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """The server closed an idle connection (it is readable: EOF, or unexpected bytes)."""
    sock = conn.sock
    if sock is None:
        return True
    poller = select.poll()  # not select.select: it fails for descriptors above 1024
    poller.register(sock, select.POLLIN | select.POLLERR | select.POLLHUP)
    try:
        return bool(poller.poll(0))
    except OSError:
        return True
