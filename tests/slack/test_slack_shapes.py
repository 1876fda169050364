"""Issue 13 (7): a correctly signed body of any shape gets a clean answer (2xx or 4xx), never a
500, and nothing it causes, in the request or in the work after the ack, logs a traceback.

Generated payloads (hypothesis) are signed and sent over real HTTP to the live endpoint, whose
lazy listeners run on an executor the test can wait for; the Web API is the fake Slack server.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from bot.adapters.slack import routes
from bot.adapters.slack.app import build_app as build_bolt
from bot.adapters.slack.shapes import shape_problem
from bot.config import Settings
from bot.core.app import Rmbot
from bot.render.blockkit import ACTION_PREFIX
from tests.fakes.slack_api import FakeSlackAPI
from tests.slack.support import TEAM, U_WANG, SlackSim, serve

FORM = "application/x-www-form-urlencoded"
FUZZ = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


class TrackingExecutor(ThreadPoolExecutor):
    """A thread pool that remembers its futures, so a test can wait until the lazy work is done."""

    def __init__(self) -> None:
        super().__init__(4, thread_name_prefix="fuzz-lazy")
        self.futures: list[Future[Any]] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:  # type: ignore[override]
        future = super().submit(fn, *args, **kwargs)
        self.futures.append(future)
        return future

    def drain(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pending = [f for f in self.futures if not f.done()]
            if not pending:
                return
            wait(pending, timeout=0.5)
        raise AssertionError("lazy work still running")


class Live:
    def __init__(self, sim: SlackSim, pool: TrackingExecutor, fake: FakeSlackAPI) -> None:
        self.sim, self.pool, self.fake = sim, pool, fake


@pytest.fixture(scope="module")
def live(core_bot: Rmbot, settings: Settings, fake_api: FakeSlackAPI) -> Iterator[Live]:
    pool = TrackingExecutor()
    app = build_bolt(core_bot, settings, executor=pool)
    with serve(Starlette(routes=routes(core_bot, settings, app=app))) as url:
        sim = SlackSim(url, fake_api)
        yield Live(sim, pool, fake_api)
        sim.close()
    pool.shutdown(wait=True)


# -- the payloads, as Slack sends them, and ways to break them --------------------------------
def command_form(fake: FakeSlackAPI) -> dict[str, Any]:
    return {"token": "x", "team_id": TEAM, "team_domain": "bank", "channel_id": "D0RMBOT01",
            "channel_name": "directmessage", "user_id": U_WANG, "user_name": "wang", "command": "/whoami",
            "text": "", "api_app_id": "A0RMBOT01", "is_enterprise_install": "false",
            "response_url": fake.response_url("fuzz-command"), "trigger_id": "1.2.3"}


def click(fake: FakeSlackAPI) -> dict[str, Any]:
    return {"type": "block_actions", "user": {"id": U_WANG, "username": "wang", "team_id": TEAM},
            "api_app_id": "A0RMBOT01", "token": "x", "trigger_id": "1.2.3", "team": {"id": TEAM, "domain": "bank"},
            "container": {"type": "message", "message_ts": "1.1", "channel_id": "D0RMBOT01", "is_ephemeral": True},
            "channel": {"id": "D0RMBOT01", "name": "directmessage"}, "response_url": fake.response_url("fuzz-click"),
            "message": {"type": "message", "ts": "1.1", "text": "x", "blocks": []},
            "actions": [{"type": "button", "block_id": "buttons", "action_id": f"{ACTION_PREFIX}:followup:buttons:0",
                         "value": "contacted|C0000001|tier:C0000001", "action_ts": "1.2"}]}


def view_submission(fake: FakeSlackAPI) -> dict[str, Any]:
    return {"type": "view_submission", "team": {"id": TEAM, "domain": "bank"},
            "user": {"id": U_WANG, "username": "wang", "team_id": TEAM}, "api_app_id": "A0RMBOT01", "token": "x",
            "trigger_id": "1.2.3", "view": {"id": "V0001", "team_id": TEAM, "type": "modal", "callback_id": "cb",
                                            "private_metadata": "", "state": {"values": {}}, "hash": "1.a",
                                            "blocks": []},
            "response_urls": []}


def event(fake: FakeSlackAPI) -> dict[str, Any]:
    return {"token": "x", "team_id": TEAM, "api_app_id": "A0RMBOT01", "type": "event_callback",
            "event_id": "Ev0FUZZ", "event_time": int(time.time()),
            "event": {"type": "message", "channel_type": "im", "channel": "D0RMBOT01", "user": U_WANG,
                      "text": "/whoami", "ts": "1.1", "event_ts": "1.1", "team": TEAM,
                      "message": {"type": "message", "text": "x", "ts": "1.0"}},
            "authorizations": [{"team_id": TEAM, "user_id": "UBOT00001", "is_bot": True}]}


def paths(node: Any, prefix: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Every key path in a payload (list elements by index), the payload's own included."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield (*prefix, k)
            yield from paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield (*prefix, i)
            yield from paths(v, (*prefix, i))


json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(["", "x", "D0RMBOT01", "C0TEAM001", TEAM, "T0OTHER"])
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.sampled_from(["type", "id", "team_id", "x"]),
                                                                inner, max_size=2),
    max_leaves=4)
DELETE = object()


@st.composite
def broken(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """The payload with a few of its fields deleted or replaced by any JSON value."""
    body = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(1, 3))):
        where = list(paths(body))
        if not where:
            break
        path = draw(st.sampled_from(where))
        parent: Any = body
        for key in path[:-1]:
            parent = parent[key]
        value = draw(st.just(DELETE) | json_value)
        if path[-1] == "response_url" or (path and path[0] == "response_url"):
            value = DELETE  # never point our webhook client at a generated address
        if value is DELETE:
            del parent[path[-1]]
        else:
            parent[path[-1]] = value
    return body


def send(live: Live, body: str, content_type: str, *, may_repeat: bool = False) -> None:
    resp = live.sim.post(body, content_type=content_type)
    replayed = resp.status_code == 401 and resp.text == "replayed request"
    assert resp.status_code < 500 and (resp.status_code != 401 or (may_repeat and replayed)), (
        resp.status_code, resp.text[:200], body[:300])
    assert "Traceback" not in resp.text


@pytest.fixture()
def no_tracebacks(live: Live, caplog: pytest.LogCaptureFixture) -> Callable[[], None]:
    def check() -> None:
        live.pool.drain()
        bad = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
        caplog.clear()
        assert not bad, [(r.name, r.getMessage()[:200]) for r in bad]

    caplog.set_level(logging.WARNING)
    return check


def nonce() -> str:
    return uuid.uuid4().hex  # no two examples share a body, so none is refused as a replay


@FUZZ
@given(data=st.data())
def test_generated_slash_commands(live: Live, no_tracebacks: Callable[[], None], data: st.DataObject) -> None:
    form = command_form(live.fake)
    for key in data.draw(st.lists(st.sampled_from(sorted(form)), max_size=3, unique=True)):
        if key == "response_url" or data.draw(st.booleans()):
            form.pop(key)
        else:
            form[key] = data.draw(st.sampled_from(["", "x", "/tier", "C0TEAM001", "T0OTHER", "%", "\u0000", "é" * 3]))
    form["x_nonce"] = nonce()
    send(live, urlencode(form), FORM)
    no_tracebacks()


@FUZZ
@given(data=st.data())
def test_generated_clicks(live: Live, no_tracebacks: Callable[[], None], data: st.DataObject) -> None:
    body = data.draw(broken(click(live.fake)))
    send(live, urlencode({"payload": json.dumps({**body, "x_nonce": nonce()})}), FORM)
    no_tracebacks()


@FUZZ
@given(data=st.data())
def test_generated_view_submissions(live: Live, no_tracebacks: Callable[[], None], data: st.DataObject) -> None:
    body = data.draw(broken(view_submission(live.fake)))
    send(live, urlencode({"payload": json.dumps({**body, "x_nonce": nonce()})}), FORM)
    no_tracebacks()


@FUZZ
@given(data=st.data())
def test_generated_events(live: Live, no_tracebacks: Callable[[], None], data: st.DataObject) -> None:
    body = data.draw(broken(event(live.fake)))
    if isinstance(body.get("event_id"), str):
        body["event_id"] = "Ev" + nonce()[:12]
    send(live, json.dumps({**body, "x_nonce": nonce()}), "application/json")
    no_tracebacks()


@FUZZ
@given(body=json_value)
def test_generated_bodies_of_any_json(live: Live, no_tracebacks: Callable[[], None], body: Any) -> None:
    """Not even an envelope: a bare JSON value, as an event body and as an interactivity payload."""
    send(live, json.dumps(body), "application/json", may_repeat=True)  # a bare value has no room for a nonce
    send(live, urlencode({"payload": json.dumps(body), "x_nonce": nonce()}), FORM)
    no_tracebacks()


def test_view_submission_without_a_view_type_is_400(live: Live, no_tracebacks: Callable[[], None]) -> None:
    """The reported case: Bolt read body["view"]["type"] and answered 500 with a KeyError."""
    body = view_submission(live.fake)
    del body["view"]["type"]
    resp = live.sim.post(urlencode({"payload": json.dumps(body)}))
    assert resp.status_code == 400 and resp.text == "bad request: view has no type"
    body["view"] = "V0001"
    assert live.sim.post(urlencode({"payload": json.dumps(body)})).status_code == 400
    no_tracebacks()


def test_shape_problem_names_the_field_not_its_value() -> None:
    assert shape_problem({"type": "block_actions", "actions": [{"action_id": 5, "value": "13812341234"}]}) \
        == "actions[0].action_id has the wrong type"
    assert shape_problem({"type": "block_actions", "actions": []}) == "block_actions without actions"
    assert shape_problem({"type": "event_callback", "event": {"type": "message", "message": "x"}}) \
        == "event.message has the wrong type"
    assert shape_problem({"team": None, "channel": None, "user": {"id": "U1", "team_id": None}}) is None
    assert shape_problem({"command": "/x", "is_enterprise_install": "false"}) is None
    assert shape_problem({"type": "view_submission", "view": None}) == "view has the wrong type"


def test_socket_mode_acks_a_malformed_payload_without_a_traceback(
        core_bot: Rmbot, fake: FakeSlackAPI, caplog: pytest.LogCaptureFixture) -> None:
    from slack_sdk.socket_mode.request import SocketModeRequest

    from bot.adapters.slack import socket_mode_handler

    class Recorder:
        logger = logging.getLogger("test.socket")

        def __init__(self) -> None:
            self.sent: list[Any] = []

        def send_socket_mode_response(self, response: Any) -> None:
            self.sent.append(response)

    handler = socket_mode_handler(core_bot, Settings(_env_file=None, SLACK_BOT_TOKEN="xoxb-test",  # type: ignore[call-arg]
                                                     SLACK_APP_TOKEN="xapp-1-test", SLACK_API_URL=fake.base_url))
    body = view_submission(fake)
    del body["view"]["type"]
    client = Recorder()
    try:
        with caplog.at_level(logging.WARNING):
            handler.handle(client, SocketModeRequest(type="interactive", envelope_id="e1", payload=body))  # type: ignore[arg-type]
    finally:
        handler.close()
    [ack] = client.sent
    assert ack.envelope_id == "e1" and not ack.payload
    assert "view has no type" in caplog.text
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_events_slack_really_sends_pass_the_shape_check() -> None:
    """Fields whose type differs by event (a channel object, a hidden flag) are not refused."""
    assert shape_problem({"type": "event_callback", "event": {
        "type": "message", "subtype": "message_changed", "hidden": True, "channel": "C0TEAM001",
        "message": {"type": "message", "text": "x", "ts": "1.1"}, "previous_message": {"type": "message"}}}) is None
    assert shape_problem({"type": "event_callback", "event": {
        "type": "channel_created", "channel": {"id": "C0NEW0001", "name": "new"}}}) is None
    assert shape_problem({"type": "event_callback", "event": {
        "type": "user_change", "user": {"id": "U1", "team_id": "T1"}}}) is None
