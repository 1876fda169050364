"""SIGTERM to `rmbot serve` (one process and --workers 2) and `rmbot scheduler`: what was
accepted is answered within the drain bound, what cannot be is logged as not sent, exit 0."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from bot.adapters.wecom.crypto import WeComCrypto
from tests.fakes.wecom_api import AES_KEY, CORP_ID, TOKEN, FakeWeCom, WeComSender
from tests.ops.conftest import RMBOT, USER, Served, environment, wait_until


def _sender(served: Served) -> WeComSender:
    return WeComSender(served.url, WeComCrypto(TOKEN, AES_KEY, CORP_ID))


def _replies_to(wecom: FakeWeCom, user: str) -> list[str]:
    return [str(c.body.get("markdown", {}).get("content", "")) for c in wecom.delivered() if c.body.get("touser") == user]


def test_sigterm_answers_the_accepted_callback_and_exits_0(bank: Path, wecom: FakeWeCom, tmp_path: Path) -> None:
    served = Served(["serve", "wecom", "--no-scheduler"], environment(f"sqlite:///{bank}", wecom), tmp_path)
    try:
        served.wait_healthy()
        sender = _sender(served)
        assert sender.text(USER, "/whoami").status_code == 200  # accepted; the work runs after the 200
        code = served.terminate()
        sender.close()
    finally:
        served.kill()
    assert code == 0, served.output()[-3000:]
    _answered_now_or_after_restart(wecom, 1, bank, tmp_path, served)
    assert "RM001" in "".join(_replies_to(wecom, USER))


def test_sigterm_with_two_workers_exits_0_after_answering(bank: Path, wecom: FakeWeCom, tmp_path: Path) -> None:
    served = Served(["serve", "wecom", "--no-scheduler", "--workers", "2"], environment(f"sqlite:///{bank}", wecom),
                    tmp_path)
    try:
        served.wait_healthy()
        sender = _sender(served)
        for _ in range(4):  # over fresh connections: both workers get some
            assert sender.text(USER, "/whoami").status_code == 200
        code = served.terminate()
        sender.close()
    finally:
        served.kill()
    assert code == 0, served.output()[-3000:]
    _answered_now_or_after_restart(wecom, 4, bank, tmp_path, served)


def _answered_now_or_after_restart(wecom: FakeWeCom, n: int, bank: Path, tmp_path: Path, served: Served) -> None:
    """Each accepted message is answered before the exit, or (accepted but not yet started when
    the signal came: kept in the durable inbox) by the next start; never lost, never twice."""
    if len(_replies_to(wecom, USER)) < n:
        assert "left for the next start" in served.output(), served.output()[-3000:]
        again = Served(["serve", "wecom", "--no-scheduler"], environment(f"sqlite:///{bank}", wecom), tmp_path)
        try:
            again.wait_healthy()
            wait_until(lambda: len(_replies_to(wecom, USER)) >= n, 60, "the replies left for the next start")
            assert again.terminate() == 0
        finally:
            again.kill()
    assert len(_replies_to(wecom, USER)) == n, served.output()[-3000:]


def test_replies_waiting_for_the_rate_limit_stay_queued_for_the_next_start(bank: Path, wecom: FakeWeCom,
                                                                          tmp_path: Path) -> None:
    """rmbot sends a member 27 messages a minute (WeCom's 30 less a 10% margin): the 28th waits
    a minute, past a 3 s bound. The stop keeps the bound; the 9 replies not sent stay in the
    outbox (the inbox, issue 14) and the next start sends them: 36 in all, none twice."""
    env = environment(f"sqlite:///{bank}", wecom, RMBOT_SHUTDOWN_TIMEOUT="3")
    served = Served(["serve", "wecom", "--no-scheduler"], env, tmp_path)
    total = 36
    try:
        served.wait_healthy()
        sender = _sender(served)
        for _ in range(total):
            assert sender.text(USER, "/whoami").status_code == 200
        wait_until(lambda: len(_replies_to(wecom, USER)) >= 27, 60, "the first 27 replies")
        started = time.monotonic()
        code = served.terminate()
        took = time.monotonic() - started
        sender.close()
    finally:
        served.kill()
    output = served.output()
    assert code == 0, output[-3000:]
    assert took < 3 + 8, took  # the bound, plus start-up of the stop
    assert len(_replies_to(wecom, USER)) == 27, output[-4000:]
    assert "left for the next start" in output, output[-4000:]
    again = Served(["serve", "wecom", "--no-scheduler"], env, tmp_path)
    try:
        again.wait_healthy()
        wait_until(lambda: len(_replies_to(wecom, USER)) >= total, 60, "the 9 replies left")
        time.sleep(0.5)
        assert again.terminate() == 0
    finally:
        again.kill()
    assert len(_replies_to(wecom, USER)) == total, again.output()[-4000:]


def test_scheduler_sigterm_exits_0(bank: Path, tmp_path: Path) -> None:
    proc = subprocess.Popen(RMBOT + ["scheduler"], cwd=tmp_path, env=environment(f"sqlite:///{bank}"),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "Push scheduler running" in line:
                break
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, "".join(lines) + rest
    assert "Push scheduler stopped" in rest and "push scheduler stopped in" in rest
