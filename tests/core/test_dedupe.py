"""The store-backed deduper: every replica sees the same keys, on SQLite and PostgreSQL."""

import threading
from datetime import timedelta

from sqlalchemy import func, select, update

from bot.clock import now
from bot.core.dedupe import StoreDeduper
from bot.store.models import SeenKey
from bot.testing import Harness


def test_two_replicas_process_a_key_once(rmbot: Harness, rmbot_pg: Harness) -> None:
    for h in (rmbot, rmbot_pg):
        replicas = [StoreDeduper(h.engine), StoreDeduper(h.engine)]
        wins: list[bool] = []
        lock = threading.Lock()

        def deliver(d: StoreDeduper) -> None:
            for i in range(50):
                first = d.first_seen(f"event:Ev{i}")
                with lock:
                    wins.append(first)

        threads = [threading.Thread(target=deliver, args=(d,)) for d in replicas]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(wins) == 50 and len(wins) == 100


def test_old_keys_are_swept(rmbot: Harness) -> None:
    d = StoreDeduper(rmbot.engine, ttl=timedelta(minutes=5), sweep_every=3)
    assert d.first_seen("old")
    with rmbot.engine.begin() as conn:
        conn.execute(update(SeenKey).values(seen_at=now() - timedelta(hours=1)))
    d.first_seen("b")
    d.first_seen("c")  # third call sweeps
    with rmbot.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(SeenKey)).scalar_one() == 2
    assert d.first_seen("old")  # forgotten after the window: a new delivery
