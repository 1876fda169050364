"""Outbox retention: what a delivered push keeps, and for how long (`rmbot push purge`).

Two steps, both set-based and batched so a purge never holds a long lock:

1. **Slim**: a row verified sent (status 'sent' is only ever written after the platform
   acknowledged the message, or after a stale row was verified delivered) no longer needs the
   pictures it carried: a weekly report keeps 160–220 KB of PNG per row. The images are dropped
   from the payload at once (the next purge after delivery); the rest of the neutral payload
   stays, because the churn lists read their history of item refs back from it
   (bot/store/summary.py `_first_pushed`). `rendered` is already dropped when a row is marked sent.
2. **Delete**: sent rows whose `sent_at` is older than RMBOT_OUTBOX_RETENTION_DAYS go. Their
   keys go with them, so exactly-once for those days is kept by the build itself: the push
   service refuses to build a day older than the retention (`within_retention`), so a deleted
   key can never be enqueued again. Unsent and dead rows are never purged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.engine import Engine

from bot.store.models import Outbox

BATCH = 500
"""Rows per statement: a batch of slimmed payloads is ~100 MB at most, a delete is quick."""

SLIM_OVER = 2048
"""Only payloads longer than this (characters) and naming a PNG are read back to drop their
images: a long text-only push is not parsed again at every purge."""


@dataclass
class PurgeResult:
    slimmed: int = 0
    """Sent rows whose images were dropped from the payload."""
    bytes_freed: int = 0
    deleted: int = 0
    """Sent rows older than the retention, deleted."""
    cutoff: datetime | None = None


def cutoff(now: datetime, retention_days: int) -> datetime:
    return now - timedelta(days=retention_days)


def within_retention(day: date, today: date, retention_days: int) -> bool:
    """Whether a push day may still be built: its outbox keys are guaranteed to be kept."""
    return day >= today - timedelta(days=retention_days)


def slim_payload(payload: str) -> str | None:
    """The payload without its images' bytes, or None if it has none (nothing to change)."""
    try:
        doc = json.loads(payload)
    except ValueError:
        return None
    images = doc.get("images") if isinstance(doc, dict) else None
    if not images:
        return None
    doc["images"] = []
    notes = doc.setdefault("notes", [])
    if isinstance(notes, list):
        notes.append(f"（已发送的 {len(images)} 张图表按保留策略删除 charts dropped after delivery）")
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def slim_sent(engine: Engine, batch: int = BATCH) -> tuple[int, int]:
    """Drop the images of every sent row; returns (rows, characters freed). Keyed by id so each
    batch resumes after the last, and a row becomes slim once (its payload shrinks below the scan)."""
    rows = freed = 0
    last = 0
    while True:
        stmt = (select(Outbox.id, Outbox.payload)
                .where(Outbox.status == "sent", Outbox.id > last, func.length(Outbox.payload) > SLIM_OVER,
                       Outbox.payload.like('%"png_base64"%'))
                .order_by(Outbox.id).limit(batch))
        with engine.begin() as conn:
            found = conn.execute(stmt).all()
            if not found:
                return rows, freed
            params = []
            for row_id, payload in found:
                slim = slim_payload(payload)
                if slim is not None:
                    params.append({"row_id": row_id, "slim": slim})
                    freed += len(payload) - len(slim)
            if params:  # one executemany; the state is re-checked: only a sent row is slimmed
                conn.execute(update(Outbox).where(Outbox.id == bindparam("row_id"), Outbox.status == "sent")
                             .values(payload=bindparam("slim")), params)
            rows += len(params)
            last = found[-1][0]


def delete_sent_before(engine: Engine, before: datetime, batch: int = BATCH) -> int:
    """Delete sent rows sent before `before`, `batch` rows per statement (oldest first)."""
    total = 0
    while True:
        ids = (select(Outbox.id).where(Outbox.status == "sent", Outbox.sent_at < before)
               .order_by(Outbox.id).limit(batch).scalar_subquery())
        with engine.begin() as conn:
            n = conn.execute(delete(Outbox).where(Outbox.id.in_(ids), Outbox.status == "sent")).rowcount
        total += n
        if n < batch:
            return total


def purge(engine: Engine, now: datetime, retention_days: int, batch: int = BATCH) -> PurgeResult:
    """Delete sent rows older than the retention, then slim the sent rows left. Idempotent."""
    result = PurgeResult(cutoff=cutoff(now, retention_days))
    result.deleted = delete_sent_before(engine, result.cutoff, batch)  # first: nothing to slim in them
    result.slimmed, result.bytes_freed = slim_sent(engine, batch)
    return result
