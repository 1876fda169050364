"""End-to-end latency of a slow Slack slash command (its answer after the ack deadline, via
response_url), answered directly (no inbox) and through the durable inbox and outbox:

    .venv/bin/python bench/slack_slow_latency.py [N]

The command sleeps 0.3 s against a 0.2 s ack deadline; the time is from the POST to the
answer's arrival at the fake Slack's response_url. Issue 14: the inbox may add at most 50 ms.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from starlette.applications import Starlette  # noqa: E402

from bot.adapters.slack import routes  # noqa: E402
from bot.adapters.slack.app import build_app as build_bolt  # noqa: E402
from bot.config import load_policy  # noqa: E402
from bot.core.app import Rmbot  # noqa: E402
from bot.core.inbox import InboxService  # noqa: E402
from bot.core.registry import REGISTRY, CommandSpec, Registry  # noqa: E402
from bot.core.reply import Reply  # noqa: E402
from tests.fakes.slack_api import FakeSlackAPI  # noqa: E402
from tests.slack.support import TEAM, U_WANG, SlackSim, build_store, serve, slack_settings  # noqa: E402


def _slow(ctx: object, args: list[str]) -> Reply:
    time.sleep(0.3)
    return Reply(title="慢命令", summary="slow answer")


def run(n: int, with_inbox: bool) -> list[float]:
    fake = FakeSlackAPI().start()
    with tempfile.TemporaryDirectory() as tmp:
        engine = build_store(Path(tmp) / "rmbot.db")
        settings = slack_settings(fake)
        registry = Registry()
        for spec in REGISTRY.commands():
            registry.add_command(spec)
        registry.add_command(CommandSpec(name="slowbench", summary="bench", usage="/slowbench", handler=_slow))
        bot = Rmbot(engine, load_policy(settings), registry=registry)
        inbox = InboxService(engine) if with_inbox else None
        bolt = build_bolt(bot, settings, answer_within=0.2, inbox=inbox)
        times = []
        with serve(Starlette(routes=routes(bot, settings, app=bolt))) as url:
            sim = SlackSim(url, fake)
            for i in range(n + 2):
                start = time.perf_counter()
                name = uuid.uuid4().hex
                response_url = fake.response_url(name)
                sim.post(urlencode({"team_id": TEAM, "channel_id": "D0RMBOT01", "channel_name": "directmessage",
                                    "user_id": U_WANG, "command": "/slowbench", "text": "",
                                    "response_url": response_url, "trigger_id": f"{i}.{name}"}))
                while not fake.calls("response_url", where=lambda c: c.path.endswith("/" + name)):
                    time.sleep(0.0005)
                if i >= 2:
                    times.append((time.perf_counter() - start) * 1000)
            sim.close()
        if inbox is not None:
            inbox.stop(2)
        engine.dispose()
    fake.stop()
    return times


def main(n: int = 15) -> None:
    for with_inbox in (False, True):
        times = run(n, with_inbox)
        print(f"slow slash command {'inbox ' if with_inbox else 'direct'}: p50 {statistics.median(times):.1f} ms, "
              f"max {max(times):.1f} ms over {n}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
