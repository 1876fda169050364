"""End-to-end latency of a WeCom `/tier` reply through a real `rmbot serve wecom` process:
from our POST of the callback to the reply arriving at the fake WeCom server (message/send).

    .venv/bin/python bench/wecom_reply_latency.py [N]   (N ≤ 12: WeCom paces a member to 30 a minute)

Issue 14 measured it before and after the durable inbox (README, "The inbox"): the p50 must
stay within 50 ms of the direct path's.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlmodel import Session  # noqa: E402

from bot.adapters.wecom.crypto import WeComCrypto  # noqa: E402
from bot.store.staff import link_identity  # noqa: E402
from bot.testing import seeded_sqlite  # noqa: E402
from tests.fakes.wecom_api import AES_KEY, CORP_ID, TOKEN, FakeWeCom, WeComSender  # noqa: E402
from tests.ops.conftest import USER, Served, environment  # noqa: E402


def main(n: int = 12) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bank = Path(tmp) / "bank.db"
        engine = seeded_sqlite(bank)
        with Session(engine) as s:
            link_identity(s, "wecom", USER, "RM001")
            s.commit()
        engine.dispose()
        wecom = FakeWeCom().start()
        served = Served(["serve", "wecom", "--no-scheduler"], environment(f"sqlite:///{bank}", wecom), Path(tmp))
        try:
            served.wait_healthy()
            sender = WeComSender(served.url, WeComCrypto(TOKEN, AES_KEY, CORP_ID))
            times: list[float] = []
            for i in range(n + 3):
                before = len(wecom.delivered())
                start = time.perf_counter()
                assert sender.text(USER, "/tier C0000001").status_code == 200
                while len(wecom.delivered()) == before:
                    time.sleep(0.0005)
                took = (time.perf_counter() - start) * 1000
                if i >= 3:  # warm-up: first connections, caches
                    times.append(took)
                time.sleep(0.05)  # the reply may come in several messages: let them all land
            sender.close()
            q = statistics.quantiles(times, n=20)
            print(f"/tier end to end over {n}: p50 {statistics.median(times):.1f} ms, p95 {q[18]:.1f} ms, "
                  f"min {min(times):.1f} ms, max {max(times):.1f} ms")
        finally:
            served.terminate()
            served.kill()
            wecom.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 12)
