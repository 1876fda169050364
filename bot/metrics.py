"""Prometheus metrics (`GET /metrics` of `rmbot serve`), multiprocess-safe.

Where each series is recorded, once:
* commands by name and outcome, with latency: `Instrument`, the outermost link of the core's
  middleware chain (bot/core/middleware.py), so every platform and every command is counted;
* refusals by reason: the Slack workspace guard, the WeCom callback's checks, the core's
  role/scope refusals (every audit row staged as "denied");
* database errors: the chain's error boundary;
* delivery latency (enqueued → acknowledged) and outcomes: the delivery worker's settle step;
* outbox and inbox state: read from the database at scrape time (`StoreCollector`: a few
  aggregate queries on the partial indexes of unsent rows), so every replica reports the same
  shared truth and nothing is double counted across worker processes.

Multiprocess: `rmbot serve` calls `prepare_multiprocess()` before anything records a sample: it
points PROMETHEUS_MULTIPROC_DIR at a fresh temporary directory for this serve run (removed at
exit), which the spawned HTTP workers inherit; each process writes its samples there and
/metrics, answered by any worker, sums them (prometheus_client's MultiProcessCollector).
prometheus_client picks its value storage when first imported, so this module imports it only
inside functions, after `prepare_multiprocess()` had its chance.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
DELIVERY_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0)

_lock = threading.Lock()
_metrics: dict[str, Any] = {}


def prepare_multiprocess() -> str | None:
    """For `rmbot serve`: a fresh samples directory for this run, unless the operator set one.
    Returns the directory. Must run before prometheus_client is first imported in this process."""
    if os.environ.get(ENV):
        return os.environ[ENV]
    path = tempfile.mkdtemp(prefix="rmbot-metrics-")
    os.environ[ENV] = path
    owner = os.getpid()

    def _cleanup() -> None:
        if os.getpid() == owner:
            shutil.rmtree(path, ignore_errors=True)

    atexit.register(_cleanup)
    return path


def _get() -> dict[str, Any]:
    """The metric objects, created on first use (see the module docstring on why lazily)."""
    if _metrics:
        return _metrics
    with _lock:
        if _metrics:
            return _metrics
        from prometheus_client import Counter, Histogram

        _metrics.update(
            commands=Counter("rmbot_commands_total", "Chat commands and button clicks handled, by outcome.",
                             ["command", "outcome"]),
            latency=Histogram("rmbot_command_duration_seconds", "Time to answer a command (the core chain).",
                              ["command"], buckets=LATENCY_BUCKETS),
            refusals=Counter("rmbot_refusals_total", "Inbound requests or commands refused, by reason.",
                             ["platform", "reason"]),
            db_errors=Counter("rmbot_db_errors_total", "Database errors that reached a chat user as 暂时不可用.",
                              ["where"]),
            deliveries=Counter("rmbot_outbox_deliveries_total", "Outbox send attempts settled, by outcome.",
                               ["platform", "outcome"]),
            delivery=Histogram("rmbot_delivery_latency_seconds",
                               "From a message's enqueueing to the platform's acknowledgement.",
                               ["platform", "kind"], buckets=DELIVERY_BUCKETS),
        )
    return _metrics


# -- recording (cheap, never raises into the caller) -----------------------------------------


def command(name: str, outcome: str, seconds: float) -> None:
    try:
        m = _get()
        m["commands"].labels(name, outcome).inc()
        m["latency"].labels(name).observe(seconds)
    except Exception:  # noqa: BLE001  (metrics must never break a command)
        pass


def refusal(platform: str, reason: str) -> None:
    try:
        _get()["refusals"].labels(platform, reason).inc()
    except Exception:  # noqa: BLE001
        pass


def db_error(where: str) -> None:
    try:
        _get()["db_errors"].labels(where).inc()
    except Exception:  # noqa: BLE001
        pass


def delivered(platform: str, kind: str, outcome: str, enqueued_at: datetime | None, now: datetime) -> None:
    try:
        m = _get()
        m["deliveries"].labels(platform, outcome).inc()
        if outcome in ("sent", "verified") and enqueued_at is not None:
            m["delivery"].labels(platform, kind).observe(max(0.0, (now - enqueued_at).total_seconds()))
    except Exception:  # noqa: BLE001
        pass


# -- exposition --------------------------------------------------------------------------------


class StoreCollector:
    """Outbox and inbox state from the shared database, computed when scraped.

    Only unsent and dead rows are read (the partial index on unsent rows, the status index):
    their number is what is waiting, not the outbox's whole history. A database error yields
    `rmbot_store_up 0` instead of failing the scrape."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        up = GaugeMetricFamily("rmbot_store_up", "1 if the store answered the metrics queries.")
        try:
            families = self._families()
        except Exception:  # noqa: BLE001
            db_error("metrics")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self) -> list[Any]:
        from prometheus_client.core import GaugeMetricFamily
        from sqlalchemy import func, select

        from bot import clock
        from bot.store.models import InboxRow, Outbox

        now = clock.now()
        rows = GaugeMetricFamily("rmbot_outbox_rows", "Outbox rows not yet sent (and dead ones), by kind and state.",
                                 labels=["kind", "state"])
        age = GaugeMetricFamily("rmbot_outbox_oldest_age_seconds", "Age of the oldest row per kind and state.",
                                labels=["kind", "state"])
        dead = GaugeMetricFamily("rmbot_outbox_dead_rows", "Outbox rows given up on: an operator must look.",
                                 labels=["kind"])
        inbox = GaugeMetricFamily("rmbot_inbox_rows", "Accepted inbound messages not finished, by state.",
                                  labels=["state"])
        lag = GaugeMetricFamily("rmbot_inbox_lag_seconds", "Age of the oldest accepted message not yet answered.")
        with self.engine.connect() as conn:
            stmt = (select(Outbox.kind, Outbox.status, func.count(), func.min(Outbox.created_at))
                    .where(Outbox.status != "sent").group_by(Outbox.kind, Outbox.status))
            for kind, state, n, oldest in conn.execute(stmt):
                rows.add_metric([kind, state], int(n))
                age.add_metric([kind, state], _age(now, oldest))
                if state == "dead":
                    dead.add_metric([kind], int(n))
            oldest_open = None
            for state, n, oldest in conn.execute(
                    select(InboxRow.state, func.count(), func.min(InboxRow.created_at))
                    .where(InboxRow.state.in_(("pending", "working", "dead"))).group_by(InboxRow.state)):
                inbox.add_metric([state], int(n))
                if state in ("pending", "working") and oldest is not None:
                    oldest_open = oldest if oldest_open is None else min(oldest_open, oldest)
        lag.add_metric([], _age(now, oldest_open) if oldest_open is not None else 0.0)
        return [rows, age, dead, inbox, lag]


def _age(now: datetime, then: Any) -> float:
    """Raw aggregate values bypass the model's time zone handling: naive values are Shanghai."""
    from bot.clock import SHANGHAI

    if then is None:
        return 0.0
    if isinstance(then, str):
        then = datetime.fromisoformat(then)
    if then.tzinfo is None:
        then = then.replace(tzinfo=SHANGHAI)
    return max(0.0, (now - then) / timedelta(seconds=1))


def exposition(engine: Any) -> tuple[bytes, str]:
    """The /metrics body: this serve run's samples of every process, plus the store's state."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    _get()  # declared even before the first command, so dashboards see zeros, not gaps
    registry = CollectorRegistry()
    if os.environ.get(ENV):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        for collector in _metrics.values():  # this process's own (no --workers: no samples directory)
            registry.register(collector)
    registry.register(StoreCollector(engine))
    return generate_latest(registry), CONTENT_TYPE_LATEST

