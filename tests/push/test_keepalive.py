"""Kept-alive connections for pushes: reused, never reused once the server closed them, and
failures that still say whether the request may have arrived (real sockets on 127.0.0.1)."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.error import URLError

import pytest

from bot.adapters.slack.push import SendOutcomeUnknown, classify_send
from bot.push.keepalive import ConnectionPool
from tests.fakes.slack_api import FakeSlackAPI

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}"


def read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), 0)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head


@contextmanager
def raw_server(handle: Callable[[socket.socket], None]) -> Iterator[tuple[str, list[int]]]:
    """A one-behaviour HTTP server: `handle(conn)` per connection; yields its URL and a list
    that counts connections."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[int] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(1)
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/api/chat.postMessage", accepted
    finally:
        listener.close()


def test_calls_reuse_one_connection() -> None:
    fake = FakeSlackAPI().start()
    try:
        pool = ConnectionPool(timeout=5)
        url = fake.base_url + "auth.test"
        first = pool.post(url, b"", {"Authorization": "Bearer xoxb-t"})
        sock = pool._idle[("http", "127.0.0.1", fake.port)][0][1].sock
        for _ in range(3):
            assert pool.post(url, b"", {"Authorization": "Bearer xoxb-t"}).status == 200
        [(_, conn)] = pool._idle[("http", "127.0.0.1", fake.port)]
        assert first.status == 200 and conn.sock is sock
        pool.close()
    finally:
        fake.stop()


def test_a_connection_the_server_closed_is_not_reused() -> None:
    def answer_once_then_close(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(ANSWER)  # keep-alive by HTTP/1.1 default …
        conn.close()  # … but the server drops it while idle, as on its keep-alive timeout

    with raw_server(answer_once_then_close) as (url, accepted):
        pool = ConnectionPool(timeout=5)
        assert pool.post(url, b"{}", {}).body == b'{"ok":true}'
        time.sleep(0.1)  # the FIN arrives
        assert pool.post(url, b"{}", {}).status == 200  # not an "unknown outcome" on the dead one
        assert len(accepted) == 2


def test_idle_connections_are_retired_before_servers_time_them_out() -> None:
    def keep_answering(conn: socket.socket) -> None:
        while read_request(conn):
            conn.sendall(ANSWER)

    with raw_server(keep_answering) as (url, accepted):
        pool = ConnectionPool(timeout=5, idle_seconds=0.05)
        pool.post(url, b"{}", {})
        pool.post(url, b"{}", {})
        time.sleep(0.1)
        pool.post(url, b"{}", {})
        assert len(accepted) == 2


def test_no_connection_means_never_sent() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(URLError):
        ConnectionPool(timeout=2).post(f"http://127.0.0.1:{port}/api/chat.postMessage", b"{}", {})


def test_a_lost_answer_is_an_unknown_outcome() -> None:
    """The server read the whole request, then the connection died: it may have been posted."""

    def read_then_drop(conn: socket.socket) -> None:
        read_request(conn)
        conn.close()

    with raw_server(read_then_drop) as (url, _):
        with pytest.raises(http.client.RemoteDisconnected) as caught:
            ConnectionPool(timeout=5).post(url, b'{"channel": "C1"}', {})
    assert not isinstance(caught.value, URLError)
    assert isinstance(classify_send(caught.value), SendOutcomeUnknown)
