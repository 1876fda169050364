"""Slash commands answered in the ack when the core is quick, via response_url when it is not.

Real HTTP, real SQLite store, the fake Slack for response_url and the Web API. Slowness is
real too: a write lock held on the database, or a middleware that sleeps in front of the core.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_bolt import App
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from sqlalchemy.engine import Engine
from starlette.applications import Starlette

import commands  # noqa: F401  (registers the shipped commands in REGISTRY, copied below)
from bot.adapters.slack.app import build_app as build_bolt
from bot.adapters.slack.endpoint import routes
from bot.adapters.slack.handlers import ANSWER_WITHIN_S, FAILED
from bot.adapters.slack.socket_mode import socket_mode_handler
from bot.config import Settings, load_policy
from bot.core.app import Rmbot
from bot.core.context import Context
from bot.core.middleware import DEFAULT_CHAIN, Call, Next
from bot.core.registry import REGISTRY, CommandSpec, Registry
from bot.core.reply import Image, Reply, Section
from tests.fakes.slack_api import FakeSlackAPI
from tests.slack.support import U_WANG, SlackSim, all_text, assert_valid_payload, response_bodies, serve, slack_settings

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


# -- commands that exist only in these tests ------------------------------------------------
def longread(ctx: Context, args: list[str]) -> Reply:
    """A reply of int(args[0]) Slack messages: each 5,000-character section fills one."""
    n = int(args[0]) if args else 3
    return Reply(title="长回复", summary=f"{n} 段",
                 sections=[Section(title=f"第{i}节", text=f"段落{i} " + "内容" * 2500) for i in range(n)])


def boom(ctx: Context, args: list[str]) -> Reply:
    raise RuntimeError("a bug deep inside a command")


def chart(ctx: Context, args: list[str]) -> Reply:
    return Reply(title="图表", summary="见图", images=[Image.from_png("趋势", "trend.png", PNG)])


def test_registry() -> Registry:
    registry = Registry()
    for spec in REGISTRY.commands():
        registry.add_command(spec)
    for name, fn in (("longread", longread), ("boom", boom), ("chart", chart)):
        registry.add_command(CommandSpec(name, f"测试 {name}", f"/{name}", fn))
    return registry


test_registry.__test__ = False  # type: ignore[attr-defined]  (a factory, not a test)


class SlowCore:
    """Sleeps before the core: slower than the ack deadline of the server under test."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def process(self, call: Call, next: Next) -> Reply:
        time.sleep(self.seconds)
        return next()


def slack_app(bot: Rmbot, settings: Settings, answer_within: float = ANSWER_WITHIN_S) -> Starlette:
    return Starlette(routes=routes(bot, settings, app=build_bolt(bot, settings, answer_within=answer_within)))


@pytest.fixture(scope="module")
def test_bot(engine: Engine, settings: Settings) -> Rmbot:
    return Rmbot(engine, load_policy(settings), registry=test_registry())


@pytest.fixture(scope="module")
def quick_url(test_bot: Rmbot, settings: Settings) -> Iterator[str]:
    with serve(slack_app(test_bot, settings)) as url:
        yield url


@pytest.fixture()
def quick(quick_url: str, fake: FakeSlackAPI) -> Iterator[SlackSim]:
    sim = SlackSim(quick_url, fake)
    yield sim
    sim.close()


@pytest.fixture()
def slow(engine: Engine, fake: FakeSlackAPI) -> Iterator[SlackSim]:
    """The core takes 1.5 s; the ack waits at most 0.5 s for it."""
    settings = slack_settings(fake)
    bot = Rmbot(engine, load_policy(settings), registry=test_registry(),
                middlewares=[SlowCore(1.5), *(cls() for cls in DEFAULT_CHAIN)])
    with serve(slack_app(bot, settings, answer_within=0.5)) as url:
        sim = SlackSim(url, fake)
        yield sim
        sim.close()


def settle(fake: FakeSlackAPI, url: str, expected: int) -> None:
    """Nothing more arrives at the response_url than `expected` messages."""
    time.sleep(0.3)
    path = "/response/" + url.rsplit("/", 1)[1]
    assert len(fake.calls("response_url", ok_only=False, where=lambda c: c.path == path)) == expected


# -- quick: the answer is the ack -----------------------------------------------------------
def test_quick_tier_is_answered_in_the_ack(quick: SlackSim, fake: FakeSlackAPI) -> None:
    started = time.monotonic()
    resp, url = quick.command("tier", "C0000001")
    assert time.monotonic() - started < 1.0
    body = resp.json()
    assert body["response_type"] == "ephemeral"
    assert_valid_payload(body)
    assert "张三" in all_text(body)
    settle(fake, url, 0)


def test_a_long_answer_starts_in_the_ack_and_continues_in_order(quick: SlackSim, fake: FakeSlackAPI) -> None:
    resp, url = quick.command("longread", "3")
    first = resp.json()
    assert first["text"].startswith("长回复（1/3）")
    later = response_bodies(fake, url, count=2)
    assert [b["text"] for b in later] == ["长回复（2/3）", "长回复（3/3）"]
    for body in (first, *later):
        assert_valid_payload(body)
        assert body["response_type"] == "ephemeral"
    assert "段落0" in all_text(first) and "段落2" in all_text(later[1])
    settle(fake, url, 2)


def test_more_than_the_response_url_takes_overflows_to_a_dm(quick: SlackSim, fake: FakeSlackAPI) -> None:
    resp, url = quick.command("longread", "8")
    assert resp.json()["text"].startswith("长回复（1/8）")
    later = response_bodies(fake, url, count=5)  # parts 2-5, then the notice
    assert [b["text"] for b in later[:4]] == [f"长回复（{n}/8）" for n in range(2, 6)]
    assert "其余 3 条已通过私信发给您" in all_text(later[4])
    dm = fake.wait_for("chat.postMessage", count=3)
    assert [c.params["text"] for c in dm] == [f"长回复（{n}/8）" for n in range(6, 9)]
    settle(fake, url, 5)


def test_charts_follow_an_inline_answer_by_dm(quick: SlackSim, fake: FakeSlackAPI) -> None:
    resp, url = quick.command("chart")
    assert "见图" in all_text(resp.json())
    [notice] = response_bodies(fake, url)
    assert "图表（1 张）已通过私信发给您" in all_text(notice)
    [shared] = fake.files("D" + U_WANG[1:11])
    assert shared["name"] == "trend.png" and shared["data"] == PNG


def test_a_failing_command_is_a_short_reply_in_the_ack(quick: SlackSim, fake: FakeSlackAPI) -> None:
    resp, url = quick.command("boom")
    body = resp.json()
    assert_valid_payload(body)
    text = all_text(body)
    assert "处理时出错" in text and "Traceback" not in text and "deep inside" not in text
    settle(fake, url, 0)


def test_a_broken_template_still_acks_without_a_traceback(engine: Engine, fake: FakeSlackAPI,
                                                          tmp_path: Path) -> None:
    """Rendering itself fails (a bank's template override with an error): the ack still goes out."""
    (tmp_path / "slack_reply.j2").write_text("{{ no_such_variable }}\n", encoding="utf-8")
    settings = slack_settings(fake, RMBOT_TEMPLATES_DIR=str(tmp_path))
    bot = Rmbot(engine, load_policy(settings))
    with serve(slack_app(bot, settings)) as url:
        sim = SlackSim(url, fake)
        resp, response_url = sim.command("whoami")
        sim.close()
    assert resp.status_code == 200
    assert resp.json() == {"response_type": "ephemeral", "text": FAILED}
    settle(fake, response_url, 0)


# -- slow: an empty ack by the deadline, the answer via response_url, once -------------------
def test_a_slow_core_acks_empty_at_the_deadline_and_answers_once(slow: SlackSim, fake: FakeSlackAPI) -> None:
    started = time.monotonic()
    resp, url = slow.command("whoami", user=U_WANG)
    acked = time.monotonic() - started
    assert resp.status_code == 200 and resp.content == b""
    assert 0.5 <= acked < 1.2
    [body] = response_bodies(fake, url, timeout=5)
    assert time.monotonic() - started >= 1.5
    assert body["response_type"] == "ephemeral" and "王芳" in all_text(body)
    settle(fake, url, 1)


def test_a_slow_long_answer_comes_whole_via_response_url(slow: SlackSim, fake: FakeSlackAPI) -> None:
    resp, url = slow.command("longread", "3")
    assert resp.content == b""
    bodies = response_bodies(fake, url, count=3, timeout=5)
    assert [b["text"] for b in bodies] == ["长回复（1/3）：3 段", "长回复（2/3）", "长回复（3/3）"]
    settle(fake, url, 3)


def test_a_locked_store_acks_within_slacks_window_then_answers_once(
        quick: SlackSim, fake: FakeSlackAPI, engine: Engine) -> None:
    """/tier writes its audit row: while another writer holds the database, it cannot finish.
    The ack must still leave before Slack's 3 s, and the answer arrive once the lock is gone."""
    holder = sqlite3.connect(str(engine.url.database), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        resp, url = quick.command("tier", "C0000001")
        acked = time.monotonic() - started
    finally:
        holder.rollback()
        holder.close()
    assert resp.status_code == 200 and resp.content == b""
    assert ANSWER_WITHIN_S <= acked < 3.0
    [body] = response_bodies(fake, url, timeout=10)
    assert "张三" in all_text(body)
    settle(fake, url, 1)


# -- Socket Mode: the same listener, the ack payload over the websocket -----------------------
class RecordingSocketClient:
    """Stands in for slack_sdk's websocket client: records what would go over the socket."""

    def __init__(self) -> None:
        import logging

        self.logger = logging.getLogger("test.socket")
        self.sent: list[tuple[float, SocketModeResponse]] = []

    def send_socket_mode_response(self, response: SocketModeResponse) -> None:
        self.sent.append((time.monotonic(), response))


def socket_command(fake: FakeSlackAPI, name: str, text: str, envelope: str) -> tuple[SocketModeRequest, str]:
    url = fake.response_url(envelope)
    payload = {"team_id": "T00000001", "channel_id": "D0RMBOT01", "channel_name": "directmessage", "user_id": U_WANG,
               "command": f"/{name}", "text": text, "api_app_id": "A0RMBOT01", "response_url": url,
               "trigger_id": "1.2.3"}
    return SocketModeRequest(type="slash_commands", envelope_id=envelope, payload=payload), url


def test_socket_mode_ack_carries_the_answer_and_the_rest_follows_it(test_bot: Rmbot, fake: FakeSlackAPI) -> None:
    settings = slack_settings(fake, SLACK_APP_TOKEN="xapp-1-test")
    app: App = build_bolt(test_bot, settings)
    handler = socket_mode_handler(test_bot, settings, app)
    client = RecordingSocketClient()

    request, url = socket_command(fake, "tier", "C0000001", "env-tier")
    handler.handle(client, request)  # type: ignore[arg-type]
    [(_, ack)] = client.sent
    assert ack.envelope_id == "env-tier"
    payload: dict[str, Any] = ack.payload or {}
    assert payload["response_type"] == "ephemeral" and "张三" in all_text(payload)
    settle(fake, url, 0)

    request, url = socket_command(fake, "longread", "2", "env-long")
    threading.Thread(target=handler.handle, args=(client, request)).start()
    [later] = response_bodies(fake, url)
    acked_at, ack = client.sent[1]
    assert (ack.payload or {})["text"].startswith("长回复（1/2）") and later["text"] == "长回复（2/2）"
    [call] = fake.calls("response_url", where=lambda c: c.path.endswith("/env-long"))
    assert call.at >= acked_at  # the follow-up waited for the ack to be sent
