"""The dedupe store behind the Events API retry handling."""

from __future__ import annotations

import threading

from bot.adapters.slack.dedupe import Deduper, MemoryDeduper, event_key


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_first_seen_once_within_ttl() -> None:
    clock = FakeClock()
    store: Deduper = MemoryDeduper(ttl=600, clock=clock)
    assert store.first_seen("event:Ev1") is True
    assert store.first_seen("event:Ev1") is False
    clock.t += 599
    assert store.first_seen("event:Ev1") is False
    clock.t += 602  # past the TTL, counted from the first sighting
    assert store.first_seen("event:Ev1") is True


def test_bounded_size() -> None:
    store = MemoryDeduper(ttl=3600, capacity=100, clock=FakeClock())
    for n in range(1000):
        assert store.first_seen(f"k{n}")
    assert len(store._seen) <= 100
    assert store.first_seen("k999") is False


def test_atomic_under_threads() -> None:
    store = MemoryDeduper()
    results: list[bool] = []
    lock = threading.Lock()

    def hit() -> None:
        r = store.first_seen("event:same")
        with lock:
            results.append(r)

    threads = [threading.Thread(target=hit) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=5)
    assert results.count(True) == 1 and len(results) == 32


def test_only_event_callbacks_have_keys() -> None:
    assert event_key({"type": "event_callback", "event_id": "Ev9"}) == "event:Ev9"
    assert event_key({"type": "block_actions"}) is None
    assert event_key({"type": "event_callback"}) is None
