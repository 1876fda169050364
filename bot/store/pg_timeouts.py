"""psycopg 3's connection with a bound on every wait for the server (see bot/store/db.py)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import errors


class TimedConnection(psycopg.Connection):  # type: ignore[type-arg]
    """Every round trip (query, commit, rollback, ping) goes through `wait`. One not answered
    within its bound means the link is dead or stalled: the connection is closed (its protocol
    state is unknown) and an OperationalError raised, which SQLAlchemy takes as a disconnect and
    the core turns into 暂时不可用."""

    rmbot_wait: float | None = None
    """Bound for queries: the server's statement_timeout plus a grace; None: unbounded."""
    rmbot_ping: float | None = None
    """Bound while the pool pings the connection (set around the ping)."""

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:  # type: ignore[override]
        bound = self.rmbot_ping or self.rmbot_wait
        if timeout is None:
            timeout = bound
        try:
            return super().wait(gen, interval=interval, timeout=timeout)
        except errors._WaitTimeout:  # noqa: SLF001  (psycopg's own signal for a bounded wait)
            self.pgconn.finish()
            raise psycopg.OperationalError(
                f"no answer from the database within {timeout:g} s: connection closed") from None
