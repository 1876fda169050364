"""One ASGI app serving every configured platform, plus /healthz.

Each adapter package exposes `routes(bot, settings) -> list[starlette Route]`; a platform whose
settings are missing is simply not mounted. The core is synchronous; endpoints hand work to a
thread so the event loop keeps acknowledging within the platforms' deadlines.

`rmbot serve --workers N` runs N uvicorn worker processes, each building its own app from
the settings with `create_app` (uvicorn's app factory): Python runs one thread at a time per
process, so a second process is what lets a second core serve requests. Every replica shares
the store-backed deduper and replay guard, so a retry or replay is still processed once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Sequence

from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
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
    platforms = []
    if _set(settings.slack_bot_token) and (_set(settings.slack_signing_secret) or _set(settings.slack_app_token)):
        platforms.append("slack")
    if all(_set(v) for v in (settings.wecom_corp_id, settings.wecom_secret, settings.wecom_token, settings.wecom_aes_key)):
        platforms.append("wecom")
    return platforms


def build_app(bot: Rmbot, settings: Settings, platforms: Sequence[str], deduper: Deduper | None = None) -> Starlette:
    """`deduper`: pass `StoreDeduper(engine)` when several replicas serve the same app, so a
    retried event or callback landing on another replica is still processed once."""
    routes: list[BaseRoute] = [Route("/healthz", _health, methods=["GET"])]
    for platform in platforms:
        if platform == "slack":
            from bot.adapters.slack import routes as slack_routes

            routes += slack_routes(bot, settings, deduper=deduper)
        elif platform == "wecom":
            from bot.adapters.wecom import routes as wecom_routes

            routes += wecom_routes(bot, settings, deduper=deduper)
        else:
            raise ValueError(f"unknown platform {platform!r}")
    app = Starlette(routes=routes)
    app.state.platforms = list(platforms)
    return app


async def _health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok", "platforms": request.app.state.platforms})


def serving_engine(url: str) -> Engine:
    """The store engine of a serving process, its pool sized for the request threads."""
    from bot.store.db import make_engine

    return make_engine(url, **POOL)


def create_app() -> Starlette:
    """uvicorn's app factory in each worker of `rmbot serve --workers N`: settings from the
    environment and .env, platforms from RMBOT_SERVE_PLATFORMS (default: every configured one).
    Workers serve HTTP only; the scheduler and Socket Mode run once, in the parent."""
    from bot.config import get_settings, load_policy

    settings = get_settings()
    setup_logging(settings)
    engine = serving_engine(settings.database_url)
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


def run(app: Starlette | str, *, host: str, port: int, workers: int = 1, log_level: str = "info") -> None:
    """Serve `app`: the app itself in this process or, for `workers > 1`, the import path of an
    app factory such as "bot.server:create_app", built anew in each worker process."""
    import uvicorn

    if workers == 1 or not hasattr(socket, "SO_REUSEPORT"):
        uvicorn.run(app, host=host, port=port, workers=workers, factory=isinstance(app, str), log_level=log_level,
                    log_config=None, http=NoDelayH11Protocol)
        return
    if not isinstance(app, str):
        raise TypeError("several workers need the import path of an app factory")
    _supervise(app, host, port, workers, log_level)


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


def _worker(factory: str, host: str, port: int, log_level: str) -> None:
    """One HTTP worker process (spawned): its own socket, app, engine and thread pools."""
    import uvicorn

    from bot.config import get_settings

    setup_logging(get_settings())  # a spawned process: nothing of the parent's setup is here
    sock = reuseport_socket(host, port)
    config = uvicorn.Config(factory, factory=True, log_level=log_level, log_config=None, http=NoDelayH11Protocol)
    uvicorn.Server(config).run(sockets=[sock])


def _supervise(factory: str, host: str, port: int, workers: int, log_level: str) -> None:
    """Start the workers, restart any that dies, stop them all on SIGTERM or Ctrl-C."""
    import multiprocessing
    import signal
    import threading

    reuseport_socket(host, port).close()  # a port taken by another program fails here, once
    spawn = multiprocessing.get_context("spawn")
    stop = threading.Event()

    def start(n: int) -> multiprocessing.process.BaseProcess:
        proc = spawn.Process(target=_worker, args=(factory, host, port, log_level), name=f"rmbot-http-{n}")
        proc.start()
        return proc

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    procs = [start(n) for n in range(workers)]
    log.info("serving on %s:%d with %d worker processes", host, port, workers)
    while not stop.wait(1.0):
        for n, proc in enumerate(procs):
            if not proc.is_alive():
                log.error("HTTP worker %s exited with code %s; starting another", proc.pid, proc.exitcode)
                procs[n] = start(n)
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.join(timeout=30)
