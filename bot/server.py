"""One ASGI app serving every configured platform, plus /healthz and /readyz.

Each adapter package exposes `routes(bot, settings) -> list[starlette Route]`; a platform whose
settings are missing is simply not mounted. The core is synchronous; endpoints hand work to a
thread so the event loop keeps acknowledging within the platforms' deadlines.

`rmbot serve --workers N` runs N uvicorn worker processes, each building its own app from
the settings with `create_app` (uvicorn's app factory): Python runs one thread at a time per
process, so a second process is what lets a second core serve requests. Every replica shares
the store-backed deduper and replay guard, so a retry or replay is still processed once.

Probes: `/healthz` is liveness (the process answers); `/readyz` is readiness: the database
answers, its schema is at this code's head revision, and each served platform's settings are
valid (bot/startup.py); otherwise 503 with the reasons. Shutdown: on SIGTERM uvicorn stops
accepting and finishes open requests, then the app's lifespan shutdown drains work accepted
but not finished (WeCom replies) within RMBOT_SHUTDOWN_TIMEOUT; the process exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence

from sqlalchemy import text
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from uvicorn.protocols.http.h11_impl import H11Protocol

from bot.config import Settings
from bot.core.app import Rmbot
from bot.core.dedupe import Deduper, StoreDeduper
from bot.logs import setup_logging

log = logging.getLogger("rmbot.server")

POOL = {"pool_size": 20, "max_overflow": 20, "pool_use_lifo": True}
"""The served engine's connection pool. Up to 40 request threads write the replay guard, and
the core and lazy listeners hold sessions: SQLAlchemy's default (5 + 10 overflow, overflow
closed on return) would open and close a connection per request under load, and a new SQLite
connection starts with an empty page cache. LIFO reuses the warmest connections first."""

PLATFORMS_ENV = "RMBOT_SERVE_PLATFORMS"
"""The platforms `rmbot serve` mounts over HTTP, handed to worker processes (comma-separated)."""


def _set(value: object) -> bool:
    secret = getattr(value, "get_secret_value", None)
    return bool(secret() if secret else value)


def configured_platforms(settings: Settings) -> list[str]:
    """Platforms whose settings are all present and valid (bot/startup.py decides)."""
    from bot.startup import mentioned, problems

    return [p for p in mentioned(settings) if not problems(settings, p)]


def build_app(bot: Rmbot, settings: Settings, platforms: Sequence[str], deduper: Deduper | None = None) -> Starlette:
    """`deduper`: pass `StoreDeduper(engine)` when several replicas serve the same app, so a
    retried event or callback landing on another replica is still processed once."""
    from bot.core.inbox import InboxService

    routes: list[BaseRoute] = [Route("/healthz", _health, methods=["GET"]), Route("/readyz", _ready, methods=["GET"]),
                               Route("/metrics", _metrics, methods=["GET"])]
    inbox = InboxService(bot.engine)
    """Accepted messages are stored before they are acknowledged and answered by its workers."""
    drains: list[Callable[[float], object]] = []
    """Called at shutdown with the seconds left: finish accepted work within them."""
    for platform in platforms:
        if platform == "slack":
            from bot.adapters.slack import routes as slack_routes

            routes += slack_routes(bot, settings, deduper=deduper, inbox=inbox)
        elif platform == "wecom":
            from bot.adapters.wecom.callback import WeComAdapter

            adapter = WeComAdapter.from_settings(bot, settings, deduper, inbox=inbox)
            routes += adapter.routes()
            drains.append(adapter.shutdown)
        else:
            raise ValueError(f"unknown platform {platform!r}")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if inbox.handlers:
            await run_in_threadpool(inbox.start)
        yield
        deadline = _stop_deadline(settings.shutdown_timeout)
        for drain in drains:
            await run_in_threadpool(drain, max(0.0, deadline - time.monotonic()))
        if inbox.handlers:
            await run_in_threadpool(inbox.stop, max(0.0, deadline - time.monotonic()))
        log.info("HTTP worker %d stopped: accepted work drained", os.getpid())

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.platforms = list(platforms)
    app.state.engine = bot.engine
    app.state.settings = settings
    app.state.inbox = inbox
    return app


async def _health(request: Request) -> JSONResponse:
    """Liveness: the process answers (nothing else is checked: a restart would not fix it)."""
    return JSONResponse({"status": "ok", "platforms": request.app.state.platforms})


async def _ready(request: Request) -> JSONResponse:
    """Readiness: 200 when this replica can answer, else 503 with every reason."""
    state = request.app.state
    reasons = await run_in_threadpool(readiness_problems, state.engine, state.settings, state.platforms)
    body = {"status": "ok" if not reasons else "unavailable", "platforms": state.platforms, "reasons": reasons}
    return JSONResponse(body, status_code=200 if not reasons else 503)


async def _metrics(request: Request) -> Response:
    """Prometheus text format: every worker process's samples of this serve run, and the
    outbox/inbox state read from the database at scrape time (bot/metrics.py)."""
    from bot.metrics import exposition

    body, content_type = await run_in_threadpool(exposition, request.app.state.engine)
    return Response(body, media_type=content_type)


def readiness_problems(engine: Engine, settings: Settings, platforms: Sequence[str]) -> list[str]:
    """Database reachable, schema at head, each served platform's settings valid."""
    from bot.startup import check
    from bot.store.migrate import current_revision, head_revision

    reasons: list[str] = []
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        current = current_revision(engine)
    except Exception as exc:  # noqa: BLE001  (any failure is the reason, not a 500)
        reasons.append(f"database unreachable: {exc.__class__.__name__}")
    else:
        head = head_revision()
        if current != head:
            reasons.append(f"schema at revision {current or 'none'}, this code needs {head}: run rmbot db upgrade")
    reasons += check(settings, list(platforms))
    return reasons


def serving_engine(settings: Settings) -> Engine:
    """The store engine of a serving process, its pool sized for the request threads, every
    statement bounded so a stalled database answers 暂时不可用 within seconds."""
    from bot.store.db import make_engine

    return make_engine(settings.database_url, timeouts=settings.db_timeouts(interactive=True), **POOL)


def create_app() -> Starlette:
    """uvicorn's app factory in each worker of `rmbot serve --workers N`: settings from the
    environment and .env, platforms from RMBOT_SERVE_PLATFORMS (default: every configured one).
    Workers serve HTTP only; the scheduler and Socket Mode run once, in the parent."""
    from bot.config import get_settings, load_policy

    settings = get_settings()
    setup_logging(settings)
    engine = serving_engine(settings)
    default = ",".join(configured_platforms(settings))
    platforms = [p for p in os.environ.get(PLATFORMS_ENV, default).split(",") if p]
    return build_app(Rmbot(engine, load_policy(settings)), settings, platforms, deduper=StoreDeduper(engine))


class NoDelayH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol with Nagle's algorithm off on every connection.

    asyncio turns Nagle off only for sockets created with proto=IPPROTO_TCP; the listening
    socket uvicorn creates for `workers > 1` has proto 0, so its connections keep Nagle on and a
    response written in two parts (headers, body) waits for the client's delayed ACK: about
    40 ms per request on Linux, measured in bench/tier_http.py.
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)


_stop_requested_at: float | None = None
"""When this process was asked to stop (time.monotonic): the drain bound counts from there."""


def _stop_deadline(timeout: float) -> float:
    return (_stop_requested_at or time.monotonic()) + timeout


def _server_class():  # noqa: ANN202  (uvicorn is imported lazily)
    import uvicorn

    class GracefulServer(uvicorn.Server):
        """uvicorn's server, noting when the stop signal came (for the drain bound)."""

        def handle_exit(self, sig: int, frame: object) -> None:  # type: ignore[override]
            global _stop_requested_at
            _stop_requested_at = _stop_requested_at or time.monotonic()
            super().handle_exit(sig, frame)  # type: ignore[arg-type]

    return GracefulServer


@contextlib.contextmanager
def absorbed_stop_signals() -> Iterator[list[int]]:
    """uvicorn raises the stop signal again once it has shut down gracefully, which kills the
    process with 143: inside this block that signal is only recorded, so the caller finishes
    its own shutdown (scheduler, Socket Mode) and exits 0. Yields the signals received."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        yield received
        return
    previous = {sig: signal.signal(sig, lambda s, _f: received.append(s)) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(app: Starlette | str, *, host: str, port: int, workers: int = 1, log_level: str = "info",
        shutdown_timeout: float = 20.0) -> None:
    """Serve `app`: the app itself in this process or, for `workers > 1`, the import path of an
    app factory such as "bot.server:create_app", built anew in each worker process. Returns
    after a graceful stop (SIGTERM, Ctrl-C): open requests finished, accepted work drained."""
    if workers == 1 or not hasattr(socket, "SO_REUSEPORT"):
        _serve(app, host=host, port=port, log_level=log_level, shutdown_timeout=shutdown_timeout, workers=workers)
        return
    if not isinstance(app, str):
        raise TypeError("several workers need the import path of an app factory")
    _supervise(app, host, port, workers, log_level, shutdown_timeout)


def _serve(app: Starlette | str, *, host: str | None = None, port: int | None = None, log_level: str,
           shutdown_timeout: float, workers: int = 1, sockets: list[socket.socket] | None = None) -> None:
    import uvicorn

    kwargs = {} if sockets else {"host": host, "port": port, "workers": workers}
    config = uvicorn.Config(app, factory=isinstance(app, str), log_level=log_level, log_config=None,
                            http=NoDelayH11Protocol, timeout_graceful_shutdown=max(1, round(shutdown_timeout)),
                            **kwargs)  # type: ignore[arg-type]
    server = _server_class()(config)
    with absorbed_stop_signals():
        server.run(sockets=sockets)
    if not server.started:
        raise SystemExit(3)  # as uvicorn.run: the port is taken or the app failed to start


def reuseport_socket(host: str, port: int) -> socket.socket:
    """A listening socket of its own for one worker: the kernel spreads new connections over
    every worker's socket. With one shared socket (uvicorn's workers) whichever process is first
    to accept takes them, and kept-alive connections stay there: in bench/tier_http.py one of two
    workers served all 50 connections while the other idled."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _worker(factory: str, host: str, port: int, log_level: str, shutdown_timeout: float) -> None:
    """One HTTP worker process (spawned): its own socket, app, engine and thread pools. On
    SIGTERM (from the supervisor) it stops gracefully, as a single process would, and exits 0."""
    from bot.config import get_settings

    setup_logging(get_settings())  # a spawned process: nothing of the parent's setup is here
    _serve(factory, log_level=log_level, shutdown_timeout=shutdown_timeout, sockets=[reuseport_socket(host, port)])


def _supervise(factory: str, host: str, port: int, workers: int, log_level: str, shutdown_timeout: float) -> None:
    """Start the workers, restart any that dies; on SIGTERM or Ctrl-C pass SIGTERM on to each
    and wait for their graceful stop (the drain bound, plus a little), killing any still there."""
    import multiprocessing
    import threading

    reuseport_socket(host, port).close()  # a port taken by another program fails here, once
    spawn = multiprocessing.get_context("spawn")
    stop = threading.Event()

    def start(n: int) -> multiprocessing.process.BaseProcess:
        proc = spawn.Process(target=_worker, args=(factory, host, port, log_level, shutdown_timeout),
                             name=f"rmbot-http-{n}")
        proc.start()
        return proc

    def stop_requested(*_: object) -> None:
        global _stop_requested_at
        _stop_requested_at = _stop_requested_at or time.monotonic()
        stop.set()

    previous = {sig: signal.signal(sig, stop_requested) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        procs = [start(n) for n in range(workers)]
        log.info("serving on %s:%d with %d worker processes", host, port, workers)
        while not stop.wait(1.0):
            for n, proc in enumerate(procs):
                if not proc.is_alive():
                    log.error("HTTP worker %s exited with code %s; starting another", proc.pid, proc.exitcode)
                    procs[n] = start(n)
        log.info("stopping %d HTTP worker processes (up to %.0f s)", workers, shutdown_timeout)
        for proc in procs:
            proc.terminate()
        deadline = _stop_deadline(shutdown_timeout) + 5.0
        for proc in procs:
            proc.join(timeout=max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                log.error("HTTP worker %s did not stop within the bound: killed", proc.pid)
                proc.kill()
                proc.join(timeout=5)
            elif proc.exitcode:
                log.warning("HTTP worker %s exited with code %s", proc.pid, proc.exitcode)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
