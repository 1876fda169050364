"""Process each Events API delivery once.

Slack retries an event it thinks we missed (at once, after 1 and 5 minutes, with
`x-slack-retry-num`), e.g. when an ack was slow. Bolt has no dedupe, and a retried DM would
be answered twice or a follow-up written twice. The store is an interface so a DB- or
Redis-backed one can replace the process-local set when several bot processes run.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from slack_bolt.middleware import Middleware
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

log = logging.getLogger("rmbot.slack")


class Deduper(Protocol):
    def first_seen(self, key: str) -> bool:
        """True exactly once per key within the retention window; records the key atomically."""
        ...


class MemoryDeduper:
    """A TTL set in this process. Slack's last retry comes ~5 minutes after the first try."""

    def __init__(self, ttl_s: float = 3600, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.max_keys = max_keys
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_seen(self, key: str) -> bool:
        now = self._clock()
        with self._lock:
            while self._seen and (next(iter(self._seen.values())) < now - self.ttl_s or len(self._seen) >= self.max_keys):
                self._seen.popitem(last=False)
            if key in self._seen:
                return False
            self._seen[key] = now
            return True


def event_key(body: dict) -> str | None:
    if isinstance(body, dict) and body.get("type") == "event_callback" and body.get("event_id"):
        return f"event:{body['event_id']}"
    return None


class DedupeMiddleware(Middleware):
    """Runs after Bolt's signature check, so forged requests cannot burn event ids."""

    def __init__(self, store: Deduper) -> None:
        self.store = store

    def process(self, *, req: BoltRequest, resp: BoltResponse,
                next: Callable[[], BoltResponse]) -> BoltResponse | None:
        key = event_key(req.body)
        if key is not None and not self.store.first_seen(key):
            retry = (req.headers.get("x-slack-retry-num") or ["?"])[0]
            log.info("duplicate delivery of %s (retry %s) acknowledged, not processed", key, retry)
            return BoltResponse(status=200, body="")
        return next()
