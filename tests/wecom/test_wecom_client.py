"""The API client against the fake WeCom over real HTTP, and the pacer on a fake clock."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import pytest

from bot.adapters.wecom.client import (
    MEMBER_LIMITS,
    ROBOT_LIMITS,
    Limit,
    Pacer,
    TokenCache,
    WeComClient,
    WeComError,
)
from tests.fakes.wecom_api import AGENT_ID, CORP_ID, ROBOT_KEY, SECRET, FakeWeCom, Sleeps

SEND = "/cgi-bin/message/send"
TOKEN = "/cgi-bin/gettoken"


def test_token_is_fetched_once_and_reused(client: WeComClient, fake: FakeWeCom) -> None:
    client.send_markdown("wangfang", "**一**")
    client.send_markdown("wangfang", "**二**")
    assert len(fake.calls_to(TOKEN)) == 1
    assert [c.body["markdown"]["content"] for c in fake.delivered()] == ["**一**", "**二**"]
    body = fake.delivered()[0].body
    assert body["touser"] == "wangfang" and body["agentid"] == AGENT_ID and body["msgtype"] == "markdown"


def test_token_cache_is_shared_per_app(fake: FakeWeCom) -> None:
    tokens = TokenCache()
    a = WeComClient(CORP_ID, SECRET, AGENT_ID, fake.url, tokens=tokens, timeout=5)
    b = WeComClient(CORP_ID, SECRET, AGENT_ID, fake.url, tokens=tokens, timeout=5)
    try:
        a.send_text("u1", "a")
        b.send_text("u1", "b")
        assert len(fake.calls_to(TOKEN)) == 1
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("errcode", [42001, 40014])
def test_expired_token_is_refreshed_and_delivered_once(client: WeComClient, fake: FakeWeCom, errcode: int) -> None:
    client.send_markdown("wangfang", "先取得令牌")
    if errcode == 42001:
        fake.expire_tokens()  # the fake then answers 42001 itself
    else:
        fake.fail_next(SEND, 40014)
    client.send_markdown("wangfang", "过期后")
    assert len(fake.calls_to(TOKEN)) == 2
    assert [c.body["markdown"]["content"] for c in fake.delivered()] == ["先取得令牌", "过期后"]


def test_token_refresh_is_tried_once_only(client: WeComClient, fake: FakeWeCom) -> None:
    fake.fail_next(SEND, 42001, times=5)
    with pytest.raises(WeComError) as err:
        client.send_markdown("wangfang", "x")
    assert err.value.errcode == 42001
    assert len(fake.calls_to(SEND)) == 2 and not fake.delivered()


@pytest.mark.parametrize("errcode", [45009, 45033, -1])
def test_rate_and_busy_errors_are_retried_with_backoff(client: WeComClient, fake: FakeWeCom, sleeps: Sleeps,
                                                       errcode: int) -> None:
    fake.fail_next(SEND, errcode, times=2)
    client.send_markdown("wangfang", "重试")
    assert len(fake.calls_to(SEND)) == 3 and len(fake.delivered()) == 1
    assert sleeps.calls == [1.0, 2.0]


def test_persistent_45009_gives_up(client: WeComClient, fake: FakeWeCom) -> None:
    fake.fail_next(SEND, 45009, times=10)
    with pytest.raises(WeComError) as err:
        client.send_markdown("wangfang", "x")
    assert err.value.errcode == 45009
    assert len(fake.calls_to(SEND)) == client.max_retries + 1


def test_gettoken_errors_are_not_retried(fake: FakeWeCom) -> None:
    c = WeComClient(CORP_ID, "wrong-secret", AGENT_ID, fake.url, tokens=TokenCache(), timeout=5)
    try:
        with pytest.raises(WeComError) as err:
            c.send_markdown("wangfang", "x")
        assert err.value.errcode == 40001
        assert len(fake.calls_to(TOKEN)) == 1 and not fake.calls_to(SEND)
    finally:
        c.close()


def test_oversized_markdown_is_refused_before_sending(client: WeComClient, fake: FakeWeCom) -> None:
    with pytest.raises(ValueError):
        client.send_markdown("wangfang", "好" * 683)  # 2049 bytes
    client.send_markdown("wangfang", "好" * 682 + "x" * 2)  # 2048 bytes: fits exactly
    assert len(fake.delivered()) == 1 and not any(c.answer["errcode"] for c in fake.calls)


def test_template_card_returns_response_code_and_card_can_be_updated(client: WeComClient, fake: FakeWeCom) -> None:
    card = {"card_type": "button_interaction", "main_title": {"title": "t"}, "task_id": "t1",
            "button_list": [{"text": "已联系", "key": "followup|contacted|C1|r"}]}
    answer = client.send_template_card("wangfang", card)
    code = answer["response_code"]
    client.update_template_card(["wangfang"], code, "已联系 · 王芳")
    with pytest.raises(WeComError):  # a response code is good for one update only
        client.update_template_card(["wangfang"], code, "again")
    update = fake.calls_to("/cgi-bin/message/update_template_card")[0].body
    assert update == {"userids": ["wangfang"], "agentid": AGENT_ID, "response_code": code,
                      "button": {"replace_name": "已联系 · 王芳"}}


def test_appchat_and_webhook(client: WeComClient, fake: FakeWeCom) -> None:
    client.appchat_send_markdown("chat01", "**群消息**")
    client.webhook_markdown(ROBOT_KEY, "机器人 <@wangfang>")
    assert fake.delivered("/cgi-bin/appchat/send")[0].body == {
        "chatid": "chat01", "msgtype": "markdown", "markdown": {"content": "**群消息**"}}
    hook = fake.delivered("/cgi-bin/webhook/send")[0]
    assert hook.query == {"key": ROBOT_KEY} and "access_token" not in hook.query
    with pytest.raises(WeComError) as err:
        client.webhook_markdown("no-such-key", "x")
    assert err.value.errcode == 93000


def test_robot_markdown_allows_4096_bytes(client: WeComClient, fake: FakeWeCom) -> None:
    client.webhook_markdown(ROBOT_KEY, "好" * 1365)  # 4095 bytes
    with pytest.raises(ValueError):
        client.webhook_markdown(ROBOT_KEY, "好" * 1366)


def test_unreachable_server_is_a_wecom_error_not_a_hang(sleeps: Sleeps) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: connection refused
    c = WeComClient(CORP_ID, SECRET, AGENT_ID, f"http://127.0.0.1:{port}", tokens=TokenCache(), timeout=2,
                    sleep=sleeps)
    try:
        with pytest.raises(WeComError) as err:
            c.send_markdown("wangfang", "x")
        assert err.value.errcode == -1
    finally:
        c.close()


def test_read_timeout_is_not_resent(fake: FakeWeCom) -> None:
    """A send that may have arrived is not repeated (no double messages)."""
    c = WeComClient(CORP_ID, SECRET, AGENT_ID, fake.url, tokens=TokenCache(), timeout=0.3)
    try:
        c.access_token()
        fake.delay = 1.0
        start = time.monotonic()
        with pytest.raises(WeComError) as err:
            c.send_markdown("wangfang", "x")
        assert err.value.errcode == -3 and time.monotonic() - start < 1.0
        fake.delay = 0.0
        assert len(fake.calls_to(SEND)) <= 1
    finally:
        c.close()


# -- pacing ---------------------------------------------------------------------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_pacer_member_limits_have_a_10_percent_margin() -> None:
    """WeCom drops member messages past 30 a minute and 1000 an hour (WeCom docs, 发送应用消息): we stay
    10% under, since WeCom counts arrivals on its own clock."""
    assert [(limit.count, limit.window) for limit in MEMBER_LIMITS] == [(27, 60.0), (900, 3600.0)]


def test_pacer_member_27_per_minute() -> None:
    t = FakeTime()
    p = Pacer(clock=t.clock, sleep=t.sleep)
    stamps = []
    for _ in range(60):
        p.acquire(["member:a"], MEMBER_LIMITS)
        stamps.append(t.now)
        t.now += 0.1  # sends as fast as the code can
    assert stamps[26] < 1000 + 60 <= stamps[27]  # the 28th waits for the first to age out
    assert stamps[54] >= 1000 + 120
    for i in range(len(stamps)):  # never more than 27 in any 60 s window
        assert sum(1 for s in stamps if s <= stamps[i] < s + 60) <= 27


def test_pacer_member_900_per_hour() -> None:
    t = FakeTime()
    p = Pacer(clock=t.clock, sleep=t.sleep)
    stamps = []
    for _ in range(901):
        p.acquire(["member:a"], MEMBER_LIMITS)
        stamps.append(t.now)
        t.now += 0.01
    assert stamps[899] < 1000 + 3600 <= stamps[900]
    assert len(stamps) == 901  # waited, nothing dropped


def test_pacer_robot_20_per_minute() -> None:
    t = FakeTime()
    p = Pacer(clock=t.clock, sleep=t.sleep)
    for _ in range(20):
        p.acquire(["robot:x"], ROBOT_LIMITS)
    assert t.slept == []
    p.acquire(["robot:x"], ROBOT_LIMITS)
    assert t.slept == [60.0]
    assert p.sent_in("robot:x", 60) == 1


def test_pacer_keys_are_independent_and_taken_together() -> None:
    t = FakeTime()
    p = Pacer(clock=t.clock, sleep=t.sleep)
    limits = (Limit(2, 10.0),)
    p.acquire(["a"], limits)
    p.acquire(["a"], limits)
    p.acquire(["b"], limits)
    assert t.slept == []
    p.acquire(["a", "b"], limits)  # a is full: the send to both waits, b's slot is not taken early
    assert t.slept == [10.0]
    assert p._sent["a"][-1] == p._sent["b"][-1] == 1010.0  # recorded when sent, for both


def test_pacer_threads_never_exceed_the_limit() -> None:
    """Real threads, real (short) windows: the lock keeps concurrent senders within limits."""
    p = Pacer()
    limits = (Limit(5, 0.3), Limit(1000, 3600.0))  # the hour keeps every send time in the record

    def worker() -> None:
        for _ in range(3):
            p.acquire(["k"], limits)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=5)
    stamps = sorted(p._sent["k"])  # taken under the pacer's lock: the true send times
    assert len(stamps) == 12
    for s in stamps:
        assert sum(1 for x in stamps if x <= s < x + 0.3) <= 5


def test_client_paces_sends_to_a_member(fake: FakeWeCom) -> None:
    t = FakeTime()
    c = WeComClient(CORP_ID, SECRET, AGENT_ID, fake.url, tokens=TokenCache(), timeout=5,
                    pacer=Pacer(clock=t.clock, sleep=t.sleep))
    try:
        for i in range(31):
            c.send_text(["a", "b"], f"m{i}")
        assert t.slept and sum(t.slept) >= 60 - 1e-9
        assert len(fake.delivered()) == 31
    finally:
        c.close()


def test_http_client_has_timeouts(client: WeComClient) -> None:
    timeout = client._http.timeout
    assert isinstance(timeout, httpx.Timeout) and timeout.read and timeout.connect
