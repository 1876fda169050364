"""`/metrics` (issue 14 item 8): Prometheus text scraped over HTTP, counters moving after
commands and refusals, the outbox/inbox state read at scrape time, and with `--workers 2` every
worker's samples adding up in one scrape."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, update
from starlette.testclient import TestClient

from bot import clock
from bot.adapters.wecom.crypto import WeComCrypto
from bot.config import Settings
from bot.core.app import Rmbot
from bot.server import build_app
from bot.core.reply import Reply
from bot.push.delivery import DeliveryWorker
from bot.push.senders import FileSender
from bot.store import inbox, outbox
from bot.store.models import Customer, Outbox
from bot.testing import Harness
from rules.policy import default_policy
from tests.fakes.wecom_api import AES_KEY, CORP_ID, TOKEN, FakeWeCom, WeComSender
from tests.ops.conftest import USER, Served, environment, wait_until


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text exposition, by name and labels."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(scraped: dict, name: str, **labels: str) -> float:
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_metrics_counters_move_after_commands_and_the_store_is_read_at_scrape(db: str,
                                                                            request: pytest.FixtureRequest) -> None:
    rmbot: Harness = request.getfixturevalue("rmbot" if db == "sqlite" else "rmbot_pg")
    folder = request.getfixturevalue("tmp_path") / "out"
    app = build_app(rmbot.bot, Settings(_env_file=None), [])
    with TestClient(app) as client:
        resp = client.get("/metrics")
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
        before = samples(resp.text)
        assert value(before, "rmbot_store_up") == 1.0

        with rmbot.engine.connect() as conn:
            foreign = conn.execute(select(Customer.id).where(Customer.rm_id != "RM001").limit(1)).scalar_one()
        rmbot.ask("RM001", "/tier C0000001")
        rmbot.ask("RM001", "/tier C0000001")
        rmbot.ask("RM001", "/nosuchcommand")
        rmbot.ask("RM001", f"/tier {foreign}")  # out of the RM's scope: refused and audited

        now = clock.now()
        outbox.enqueue(rmbot.engine, [
            outbox.NewMessage(f"m:{i}", "churn", "SB01", now.date(), "file", str(folder),
                              Reply(title=f"推送 {i}").model_dump_json()) for i in range(3)],
            now - timedelta(minutes=10))
        with rmbot.engine.begin() as conn:
            conn.execute(update(Outbox).where(Outbox.key == "m:2").values(status="dead"))
        inbox.accept(rmbot.engine, "msg:1", "wecom", "u1", "{}", now - timedelta(seconds=90))
        after = samples(client.get("/metrics").text)
        stats = DeliveryWorker(rmbot.engine, {"file": FileSender()}).drain()
        assert stats.sent == 2
        delivered = samples(client.get("/metrics").text)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("rmbot_commands_total", command="tier", outcome="ok") == 2
    assert moved("rmbot_commands_total", command="unknown", outcome="user_error") == 1
    assert moved("rmbot_commands_total", command="tier", outcome="denied") == 1
    assert moved("rmbot_refusals_total", platform="console", reason="scope") == 1
    assert moved("rmbot_command_duration_seconds_count", command="tier") == 3
    assert value(after, "rmbot_outbox_rows", kind="churn", state="pending") == 2
    assert value(after, "rmbot_outbox_rows", kind="churn", state="dead") == 1
    assert value(after, "rmbot_outbox_dead_rows", kind="churn") == 1
    assert 590 <= value(after, "rmbot_outbox_oldest_age_seconds", kind="churn", state="pending") <= 3600
    assert value(before, "rmbot_inbox_lag_seconds") == 0.0
    assert 90 <= value(after, "rmbot_inbox_lag_seconds") < 3600
    assert value(after, "rmbot_inbox_rows", state="pending") == 1
    # delivered: the pending rows leave the gauge, the delivery latency (enqueued 10 min ago) is observed
    assert value(delivered, "rmbot_outbox_rows", kind="churn", state="pending") == 0
    assert value(delivered, "rmbot_outbox_rows", kind="churn", state="dead") == 1
    assert value(delivered, "rmbot_delivery_latency_seconds_count", platform="file", kind="churn") \
        - value(after, "rmbot_delivery_latency_seconds_count", platform="file", kind="churn") == 2
    assert value(delivered, "rmbot_delivery_latency_seconds_bucket", platform="file", kind="churn", le="300.0") \
        == value(after, "rmbot_delivery_latency_seconds_bucket", platform="file", kind="churn", le="300.0")
    assert value(delivered, "rmbot_delivery_latency_seconds_bucket", platform="file", kind="churn", le="900.0") \
        - value(after, "rmbot_delivery_latency_seconds_bucket", platform="file", kind="churn", le="900.0") == 2


def test_metrics_of_two_workers_add_up(bank: Path, wecom: FakeWeCom, tmp_path: Path) -> None:
    """Commands and refusals land in whichever worker took the connection; every scrape (any
    worker may answer it) shows the sum. The samples directory is named here to see both
    workers wrote to it; by default serve makes one of its own per run."""
    samples_dir = tmp_path / "prom"
    samples_dir.mkdir()
    env = environment(f"sqlite:///{bank}", wecom, PROMETHEUS_MULTIPROC_DIR=str(samples_dir))
    served = Served(["serve", "wecom", "--no-scheduler", "--workers", "2"], env, tmp_path)
    commands, forged = 8, 5
    try:
        served.wait_healthy()
        crypto = WeComCrypto(TOKEN, AES_KEY, CORP_ID)
        for _ in range(commands):  # a client per message: fresh connections spread over both workers
            sender = WeComSender(served.url, crypto)
            assert sender.text(USER, "/whoami").status_code == 200
            sender.close()
        for _ in range(forged):
            sender = WeComSender(served.url, crypto)
            assert sender.post(sender.text_xml(USER, "/whoami", sender.next_msgid()), signature="0" * 40).status_code == 403
            sender.close()
        wait_until(lambda: sum(1 for c in wecom.delivered() if c.body.get("touser") == USER) >= commands, 60,
                   "every reply delivered")

        def scrape() -> dict:
            return samples(httpx.get(served.url + "/metrics", timeout=10).text)

        wait_until(lambda: value(scrape(), "rmbot_commands_total", command="whoami", outcome="ok") == commands, 30,
                   "the commands counted")
        for _ in range(6):  # whichever worker answers, the same sums
            got = scrape()
            assert value(got, "rmbot_commands_total", command="whoami", outcome="ok") == commands
            assert value(got, "rmbot_refusals_total", platform="wecom", reason="signature") == forged
            assert value(got, "rmbot_command_duration_seconds_count", command="whoami") == commands
            assert value(got, "rmbot_inbox_rows", state="pending") == 0
        writers = {p.stem.rsplit("_", 1)[1] for p in samples_dir.glob("counter_*.db")}
        assert len(writers) >= 2, writers
        assert served.terminate() == 0
    finally:
        served.kill()


def test_serve_makes_its_own_samples_directory(bank: Path, wecom: FakeWeCom, tmp_path: Path) -> None:
    served = Served(["serve", "wecom", "--no-scheduler"], environment(f"sqlite:///{bank}", wecom), tmp_path)
    try:
        served.wait_healthy()
        sender = WeComSender(served.url, WeComCrypto(TOKEN, AES_KEY, CORP_ID))
        assert sender.text(USER, "/whoami").status_code == 200
        sender.close()
        wait_until(lambda: value(samples(httpx.get(served.url + "/metrics", timeout=10).text),
                                 "rmbot_commands_total", command="whoami", outcome="ok") == 1, 30, "counted")
        assert served.terminate() == 0
    finally:
        served.kill()
