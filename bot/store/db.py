"""Engines and sessions. SQLite file by default; any SQLAlchemy URL via DATABASE_URL.

Every engine has timeouts (`DbTimeouts`), so a stalled database costs a chat user seconds, not
minutes: a connection that cannot be opened within `connect`, a statement the server has not
answered within `statement` (PostgreSQL cancels it) plus a grace, a pool ping not answered
within `ping`, and SQLite's wait for another writer's lock (`busy`). On PostgreSQL the client
side of this lives in one place, `_TimedConnection.wait`: every round trip of psycopg (queries,
commits, rollbacks, pings) goes through it, so no path can wait forever on a dead link, which a
server-side `statement_timeout` alone cannot catch (the server never hears of a stalled link).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine


def normalize_url(url: str) -> str:
    """Accept the common postgres:// and postgresql:// forms and use psycopg 3 for them."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


@dataclass(frozen=True)
class DbTimeouts:
    """Seconds. `statement` None: no limit (imports, seeding, builds at bank scale)."""

    connect: float = 10.0
    statement: float | None = None
    busy: float = 30.0
    ping: float = 2.0
    grace: float = 1.0
    """How long past `statement` the client still waits for the server's cancellation."""

    def wait(self) -> float | None:
        """The longest a round trip may go unanswered before the link is taken for dead."""
        return None if self.statement is None else self.statement + self.grace


BATCH = DbTimeouts()
"""make_engine's default: long statements allowed, a writer waited for as before."""


def make_engine(url: str, *, timeouts: DbTimeouts = BATCH, **kwargs: Any) -> Engine:
    url = normalize_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        connect_args = {"check_same_thread": False, "timeout": timeouts.busy, **kwargs.pop("connect_args", {})}
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        busy_ms = int(timeouts.busy * 1000)
        event.listen(engine, "connect", lambda conn, record: _sqlite_pragmas(conn, record, busy_ms))
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(url, **kwargs)
    if engine.dialect.driver == "psycopg":
        _time_psycopg(engine, timeouts)
    return engine


def _time_psycopg(engine: Engine, timeouts: DbTimeouts) -> None:
    """Connect timeout, server-side statement timeout and client-side waits on every connection."""
    from bot.store.pg_timeouts import TimedConnection

    @event.listens_for(engine, "do_connect")
    def _connect(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        cparams.setdefault("connect_timeout", max(1, round(timeouts.connect)))
        if timeouts.statement is not None:
            option = f"-c statement_timeout={int(timeouts.statement * 1000)}"
            cparams["options"] = f"{cparams.get('options', '')} {option}".strip()
        conn = TimedConnection.connect(*cargs, **cparams)
        conn.rmbot_wait = timeouts.wait()
        return conn

    ping = engine.dialect.do_ping

    def timed_ping(dbapi_connection: Any) -> bool:
        """The pool's check before each checkout answers within `ping`: a stalled link is found
        there, before a command starts, and the pool opens a fresh connection instead."""
        dbapi_connection.rmbot_ping = timeouts.ping
        try:
            return ping(dbapi_connection)
        finally:
            dbapi_connection.rmbot_ping = None

    engine.dialect.do_ping = timed_ping  # type: ignore[method-assign]


def _sqlite_pragmas(dbapi_conn: Any, _record: Any, busy_ms: int) -> None:
    # WAL lets the bot read while a push or import writes; NORMAL keeps commits cheap and safe
    # under WAL; foreign keys are off by default in SQLite.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={busy_ms}")
    cur.execute("PRAGMA cache_size=-65536")  # 64 MB page cache per connection for lookups on large files
    cur.close()


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: committed on success, rolled back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def has_schema(engine: Engine) -> bool:
    names = set(inspect(engine).get_table_names())
    return {"alembic_version", "customer", "staff", "audit_log"} <= names
