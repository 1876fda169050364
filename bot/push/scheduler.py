"""APScheduler 3 cron jobs for the pushes, firing only on Chinese working days.

Every replica may run the scheduler: one of them builds each (kind, day) (bot/push/catchup.py:
a lock and a build row), building is idempotent per (kind, branch, day) through the outbox's
unique keys anyway, and delivery claims rows under locks, so replicas never double-send. A
scheduler starting after a push time builds the day at once (catch-up) if nobody did.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import date, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from bot import clock
from bot.push.delivery import DeliveryWorker
from bot.push.kinds import DEFAULT_TIMES, KINDS
from bot.push.service import PushService
from rules.calendar import is_working_day

log = logging.getLogger("rmbot.push")


def parse_hhmm(value: str) -> tuple[int, int]:
    try:
        hour, minute = (int(x) for x in value.split(":"))
    except ValueError:
        raise ValueError(f"push time must look like 08:30, got {value!r}") from None
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ValueError(f"push time out of range: {value!r}")
    return hour, minute


def run_kind(service: PushService, worker: DeliveryWorker, kind: str, day: date | None = None) -> None:
    """The cron job: never raises (a failing job must not stop the scheduler)."""
    day = day or clock.today()
    try:
        wd = is_working_day(service.calendar, day)
        if wd.fallback:
            log.warning("no official holiday data for %s: assuming Mon–Fri (%s)", day.year, wd.reason.text)
        from bot.push.catchup import build_once

        result = build_once(service, kind, day, now=worker.now())
        if result is None:  # built by another replica (or by us before a restart)
            worker.drain()
            return
        if result.skipped:
            log.info("push %s %s skipped: %s", kind, day, result.skipped)
            return
        log.info("push %s %s: %d rows enqueued", kind, day, sum(b.enqueued for b in result.branches))
        worker.drain()
    except Exception:  # noqa: BLE001
        log.exception("push %s %s failed; rerun with `rmbot push run --date %s --kind %s`", kind, day, day, kind)


def build_scheduler(service: PushService, worker: DeliveryWorker, times: dict[str, str],
                    deliver_every_seconds: int = 15) -> BackgroundScheduler:
    sched = BackgroundScheduler(timezone=clock.SHANGHAI,
                                job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600})
    for kind in KINDS:
        hour, minute = parse_hhmm(times.get(kind) or DEFAULT_TIMES.get(kind, "08:30"))
        sched.add_job(run_kind, CronTrigger(hour=hour, minute=minute, timezone=clock.SHANGHAI),
                      args=[service, worker, kind], id=f"push-{kind}", replace_existing=True)
    # Retries and anything a crashed replica left behind: at start, then every few seconds.
    sched.add_job(worker.drain, "interval", seconds=deliver_every_seconds, id="push-deliver", replace_existing=True,
                  next_run_time=datetime.now(clock.SHANGHAI))
    # Retention: charts of delivered rows dropped, delivered rows past the retention deleted.
    sched.add_job(purge_job, CronTrigger(hour=PURGE_AT[0], minute=PURGE_AT[1], timezone=clock.SHANGHAI),
                  args=[service], id="push-purge", replace_existing=True)
    # A push time that passed while no scheduler ran: built now, once.
    sched.add_job(catch_up_job, args=[service, worker, times], id="push-catchup", replace_existing=True,
                  next_run_time=datetime.now(clock.SHANGHAI))
    return sched


PURGE_AT = (3, 15)
"""Asia/Shanghai: after the night's imports, long before the first push."""


def purge_job(service: PushService) -> None:
    """The daily `rmbot push purge`; never raises. Idempotent, so every replica may run it."""
    from bot.store.retention import purge

    try:
        result = purge(service.engine, clock.now(), service.retention_days)
        log.info("outbox purge: %d sent rows older than %d days deleted, charts of %d rows dropped",
                 result.deleted, service.retention_days, result.slimmed)
    except Exception:  # noqa: BLE001
        log.exception("outbox purge failed; run `rmbot push purge` by hand")


def catch_up_job(service: PushService, worker: DeliveryWorker, times: dict[str, str]) -> None:
    """Never raises, like the cron jobs."""
    from bot.push.catchup import catch_up

    try:
        if catch_up(service, times, worker.now()):
            worker.drain()
    except Exception:  # noqa: BLE001
        log.exception("push catch-up failed; check `rmbot push status` and rerun with `rmbot push run`")


def shutdown(sched: BackgroundScheduler, worker: DeliveryWorker, timeout: float) -> bool:
    """Graceful stop: no new jobs, the delivery worker stops claiming (rows not started go back
    to the outbox), running jobs get `timeout` seconds to finish. False if one is still running
    then (a build: it rolls back, and the next start's catch-up builds the day again)."""
    worker.stop()
    stopper = threading.Thread(target=sched.shutdown, kwargs={"wait": True}, name="scheduler-stop", daemon=True)
    start = time.monotonic()
    stopper.start()
    stopper.join(timeout)
    if stopper.is_alive():
        log.error("push scheduler: a job still running after %.0f s; exiting anyway", timeout)
        return False
    log.info("push scheduler stopped in %.1f s", time.monotonic() - start)
    return True
