"""The callback server over real HTTP (uvicorn on a free port), with the fake WeCom API behind it
and a real SQLite store: URL check, commands, clicks, retries, and every kind of bad input."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.adapters.wecom.callback import CALLBACK_PATH, WeComAdapter
from bot.adapters.wecom.crypto import WeComCrypto
from bot.config import Settings
from bot.core.app import Rmbot
from bot.server import build_app
from bot.store.models import Contact
from tests.fakes.wecom_api import (
    AES_KEY,
    AGENT_ID,
    CORP_ID,
    HTTP_TIMEOUT,
    LONG_TEXT,
    OTHER_RM_USER,
    RM_USER,
    SECRET,
    TOKEN,
    UNLINKED_USER,
    FakeWeCom,
    LiveServer,
    Sleeps,
    WeComSender,
)

SEND = "/cgi-bin/message/send"
UPDATE = "/cgi-bin/message/update_template_card"
ZWSP = "\u200b"

KAT = {"token": "QDG6eK", "key": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "corp": "wx5823bf96d3bd56c7"}
KAT_QUERY = {"msg_signature": "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "timestamp": "1409659589",
             "nonce": "263014780",
             "echostr": "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="}


def markdowns(fake: FakeWeCom, user: str = RM_USER) -> list[str]:
    return [c.body["markdown"]["content"] for c in fake.delivered(SEND)
            if c.body["msgtype"] == "markdown" and c.body["touser"] == user]


def settle(adapter: WeComAdapter) -> None:
    assert adapter.drain(HTTP_TIMEOUT)


# -- URL verification ------------------------------------------------------------------------------------


def test_url_check_known_answer_over_http_through_the_server_app(engine: Engine, fake: FakeWeCom) -> None:
    """The official worked example, through `bot.server.build_app` as production mounts it."""
    settings = Settings.model_validate({  # model_validate: no .env or environment in tests
        "WECOM_CORP_ID": KAT["corp"], "WECOM_TOKEN": KAT["token"], "WECOM_ENCODING_AES_KEY": KAT["key"],
        "WECOM_SECRET": SECRET, "WECOM_AGENT_ID": AGENT_ID, "WECOM_API_URL": fake.url})
    from rules.policy import default_policy

    app = build_app(Rmbot(engine, default_policy()), settings, ["wecom"])
    # the example is from 2014: this adapter instance must accept its old timestamp
    for route in app.routes:
        adapter = getattr(getattr(route, "endpoint", None), "__self__", None)
        if isinstance(adapter, WeComAdapter):
            adapter.max_skew = None
    with LiveServer(app) as server, httpx.Client(timeout=HTTP_TIMEOUT) as http:
        r = http.get(server.url + CALLBACK_PATH, params=KAT_QUERY)
        assert r.status_code == 200
        assert r.content == b"1616140317555161061"  # no quotes, BOM or newline
        bad = dict(KAT_QUERY, msg_signature="0" * 40)
        assert http.get(server.url + CALLBACK_PATH, params=bad).status_code == 403
        assert http.get(server.url + "/healthz").json()["platforms"] == ["wecom"]


def test_url_check_with_fresh_values(wecom: WeComSender, crypto: WeComCrypto) -> None:
    ts, nonce = str(int(time.time())), "123456"
    echostr = crypto.encrypt(b"8223372036854775807")
    r = wecom.http.get(wecom.url, params={"msg_signature": crypto.sign(ts, nonce, echostr), "timestamp": ts,
                                          "nonce": nonce, "echostr": echostr})
    assert r.status_code == 200 and r.text == "8223372036854775807"


def test_url_check_with_unescaped_plus_in_echostr(wecom: WeComSender, crypto: WeComCrypto) -> None:
    ts, nonce = str(int(time.time())), "7"
    echostr = next(e for e in (crypto.encrypt(b"plus-test") for _ in range(200)) if "+" in e)
    sig = crypto.sign(ts, nonce, echostr)
    raw_query = f"msg_signature={sig}&timestamp={ts}&nonce={nonce}&echostr={echostr}"  # "+" left as is
    r = wecom.http.get(f"{wecom.url}?{raw_query}")
    assert r.status_code == 200 and r.text == "plus-test"


def test_url_check_refusals(wecom: WeComSender, crypto: WeComCrypto) -> None:
    ts, nonce = str(int(time.time())), "1"
    echostr = crypto.encrypt(b"42")
    good = {"msg_signature": crypto.sign(ts, nonce, echostr), "timestamp": ts, "nonce": nonce, "echostr": echostr}
    assert wecom.http.get(wecom.url, params={k: v for k, v in good.items() if k != "echostr"}).status_code == 400
    assert wecom.http.get(wecom.url, params=dict(good, msg_signature="f" * 40)).status_code == 403
    other = WeComCrypto(TOKEN, AES_KEY, "wwOTHERCORP")
    forged = other.encrypt(b"42")
    r = wecom.http.get(wecom.url, params={"msg_signature": crypto.sign(ts, nonce, forged), "timestamp": ts,
                                          "nonce": nonce, "echostr": forged})
    assert r.status_code == 403


def test_routes_need_full_configuration(core_bot: Rmbot) -> None:
    from bot.adapters.wecom import routes

    with pytest.raises(ValueError, match="WECOM_SECRET"):
        routes(core_bot, Settings.model_validate({"WECOM_CORP_ID": CORP_ID, "WECOM_TOKEN": TOKEN,
                                                  "WECOM_ENCODING_AES_KEY": AES_KEY, "WECOM_AGENT_ID": AGENT_ID}))


# -- commands ---------------------------------------------------------------------------------------------


def test_text_command_reply_is_delivered(wecom: WeComSender, fake: FakeWeCom, adapter: WeComAdapter) -> None:
    r = wecom.text(RM_USER, "/whoami")
    assert r.status_code == 200 and r.content == b""
    settle(adapter)
    [reply] = markdowns(fake)
    assert "我的身份" in reply and "王芳" in reply and "RM001" in reply and "私聊" in reply
    send = fake.delivered(SEND)[0].body
    assert send["touser"] == RM_USER and send["agentid"] == AGENT_ID


@pytest.mark.parametrize("text", ["help", "帮助", "／ｈｅｌｐ", "  /HELP  "])
def test_command_forms(wecom: WeComSender, fake: FakeWeCom, adapter: WeComAdapter, text: str) -> None:
    wecom.text(RM_USER, text)
    settle(adapter)
    assert "可用命令" in markdowns(fake)[0]


def test_unlinked_user_gets_a_chinese_hint(wecom: WeComSender, fake: FakeWeCom, adapter: WeComAdapter) -> None:
    wecom.text(UNLINKED_USER, "/whoami")
    settle(adapter)
    [reply] = markdowns(fake, UNLINKED_USER)
    assert "尚未关联" in reply and "rmbot staff link wecom stranger" in reply


def test_non_text_message_gets_a_hint(wecom: WeComSender, fake: FakeWeCom, adapter: WeComAdapter) -> None:
    xml = (f"<xml><ToUserName>{CORP_ID}</ToUserName><FromUserName>{RM_USER}</FromUserName>"
           f"<CreateTime>{int(time.time())}</CreateTime><MsgType>image</MsgType><PicUrl>http://x</PicUrl>"
           f"<MediaId>m</MediaId><MsgId>{wecom.next_msgid()}</MsgId><AgentID>{AGENT_ID}</AgentID></xml>")
    assert wecom.post(xml).status_code == 200
    settle(adapter)
    assert "只支持文字命令" in markdowns(fake)[0]


def test_other_events_are_ignored(wecom: WeComSender, fake: FakeWeCom, adapter: WeComAdapter) -> None:
    xml = (f"<xml><ToUserName>{CORP_ID}</ToUserName><FromUserName>{RM_USER}</FromUserName>"
           f"<CreateTime>{int(time.time())}</CreateTime><MsgType>event</MsgType><Event>enter_agent</Event>"
           f"<EventKey></EventKey><AgentID>{AGENT_ID}</AgentID></xml>")
    assert wecom.post(xml).status_code == 200
    settle(adapter)
    assert not fake.calls_to(SEND)


def test_same_msgid_twice_is_processed_once(wecom: WeComSender, fake: FakeWeCom, adapter: WeComAdapter) -> None:
    msgid = wecom.next_msgid()
    assert wecom.text(RM_USER, "/whoami", msgid=msgid).status_code == 200
    assert wecom.text(RM_USER, "/whoami", msgid=msgid).status_code == 200  # WeCom's retry
    settle(adapter)
    assert len(markdowns(fake)) == 1
    wecom.text(RM_USER, "/whoami")  # a new MsgId is a new message
    settle(adapter)
    assert len(markdowns(fake)) == 2


def test_answers_at_once_even_when_wecom_is_slow(wecom: WeComSender, fake: FakeWeCom, adapter: WeComAdapter) -> None:
    fake.delay = 0.4  # every API call (gettoken, then send) takes 0.4 s
    start = time.monotonic()
    assert wecom.text(RM_USER, "/whoami").status_code == 200
    assert time.monotonic() - start < 5  # WeCom's limit
    assert not fake.calls_to(SEND)  # answered before the reply could have gone out
    settle(adapter)
    assert len(markdowns(fake)) == 1


def test_expired_token_is_refreshed_and_reply_delivered_once(wecom: WeComSender, fake: FakeWeCom,
                                                             adapter: WeComAdapter) -> None:
    wecom.text(RM_USER, "/whoami")
    settle(adapter)
    fake.expire_tokens()
    wecom.text(RM_USER, "/help")
    settle(adapter)
    replies = markdowns(fake)
    assert len(replies) == 2 and "可用命令" in replies[1]
    assert len(fake.calls_to("/cgi-bin/gettoken")) == 2
    assert [c.answer["errcode"] for c in fake.calls_to(SEND)] == [0, 42001, 0]


def test_45009_is_retried(wecom: WeComSender, fake: FakeWeCom, adapter: WeComAdapter, sleeps: Sleeps) -> None:
    fake.fail_next(SEND, 45009, times=2)
    wecom.text(RM_USER, "/whoami")
    settle(adapter)
    assert len(markdowns(fake)) == 1
    assert [c.answer["errcode"] for c in fake.calls_to(SEND)] == [45009, 45009, 0]
    assert sleeps.calls == [1.0, 2.0]


def test_undeliverable_reply_is_logged_not_raised(wecom: WeComSender, fake: FakeWeCom, adapter: WeComAdapter,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    fake.fail_next(SEND, 45009, times=adapter.client.max_retries + 1)
    wecom.text(RM_USER, "/whoami")
    settle(adapter)
    assert "not delivered" in caplog.text
    wecom.text(RM_USER, "/whoami")  # the worker is still alive
    settle(adapter)
    assert len(markdowns(fake)) == 1


def test_5000_character_reply_is_split_and_delivered_whole(wecom: WeComSender, fake: FakeWeCom,
                                                           adapter: WeComAdapter) -> None:
    wecom.text(RM_USER, "/longtest")
    settle(adapter)
    parts = markdowns(fake)
    assert len(parts) >= 4
    for part in parts:
        assert len(part.encode("utf-8")) <= 2048
    whole = "".join(parts).replace(ZWSP, "")
    assert LONG_TEXT.strip() in whole and whole.startswith("### 长回复测试")


def test_messages_from_one_user_are_answered_in_order(wecom: WeComSender, fake: FakeWeCom,
                                                      adapter: WeComAdapter) -> None:
    for text in ["/whoami", "/help", "/whoami", "/help"]:
        wecom.text(RM_USER, text)
    settle(adapter)
    titles = ["我的身份" in m for m in markdowns(fake)]
    assert titles == [True, False, True, False]


# -- cards and clicks ---------------------------------------------------------------------------------------


def contacts(engine: Engine) -> list[Contact]:
    with Session(engine) as s:
        return list(s.execute(select(Contact)).scalars())


def test_card_click_records_followup_and_updates_card(wecom: WeComSender, fake: FakeWeCom, adapter: WeComAdapter,
                                                      engine: Engine) -> None:
    wecom.text(RM_USER, "/cardtest")
    settle(adapter)
    sends = fake.delivered(SEND)
    assert [c.body["msgtype"] for c in sends] == ["markdown", "template_card"]
    card_call = sends[1]
    card = card_call.body["template_card"]
    assert card["card_type"] == "button_interaction" and card["sub_title_text"].startswith("C0000001")
    key = card["button_list"][0]["key"]
    assert key == "followup|contacted|C0000001|tier:C0000001"

    # WeCom calls back with the clicked key and a response code for updating the card
    click = wecom.click_xml(RM_USER, key, card_call.answer["response_code"], task_id=card["task_id"])
    assert wecom.post(click).status_code == 200
    assert wecom.post(click).status_code == 200  # a retry of the same click
    settle(adapter)

    [contact] = contacts(engine)
    assert (contact.customer_id, contact.staff_id, contact.outcome, contact.ref) == \
        ("C0000001", "RM001", "contacted", "tier:C0000001")
    [update] = fake.delivered(UPDATE)
    assert update.body["userids"] == [RM_USER] and update.body["response_code"] == card_call.answer["response_code"]
    label = update.body["button"]["replace_name"]
    assert "已联系" in label and "王芳" in label
    assert len(fake.delivered(SEND)) == 2  # nothing else was sent


def test_tier_answer_with_follow_up_card_round_trip(wecom: WeComSender, fake: FakeWeCom, adapter: WeComAdapter,
                                                    engine: Engine) -> None:
    """The shipped /tier command: answer in markdown, follow-up buttons in a card, click logged."""
    wecom.text(RM_USER, "分层 C0000001")
    settle(adapter)
    sends = fake.delivered(SEND)
    assert [c.body["msgtype"] for c in sends] == ["markdown", "template_card"]
    text = sends[0].body["markdown"]["content"]
    assert "客户分层" in text and "C0000001" in text and "13800001234" in text  # DM: unmasked
    card = sends[1].body["template_card"]
    assert [b["text"] for b in card["button_list"]] == ["已联系", "已承接", "已流失"]
    lost = card["button_list"][2]["key"]
    wecom.post(wecom.click_xml(RM_USER, lost, sends[1].answer["response_code"], task_id=card["task_id"]))
    settle(adapter)
    assert [(c.outcome, c.ref) for c in contacts(engine)] == [("lost", "tier:C0000001")]
    assert "已流失" in fake.delivered(UPDATE)[0].body["button"]["replace_name"]


def test_click_on_a_customer_one_may_not_see_is_refused(wecom: WeComSender, fake: FakeWeCom, adapter: WeComAdapter,
                                                       engine: Engine) -> None:
    click = wecom.click_xml(OTHER_RM_USER, "followup|lost|C0000001|maturing:H1", "RC-unused")
    assert wecom.post(click).status_code == 200
    settle(adapter)
    assert contacts(engine) == []
    assert not fake.calls_to(UPDATE)
    [reply] = markdowns(fake, OTHER_RM_USER)
    assert "无权查看" in reply


def test_click_with_expired_response_code_falls_back_to_a_message(wecom: WeComSender, fake: FakeWeCom,
                                                                  adapter: WeComAdapter, engine: Engine) -> None:
    wecom.post(wecom.click_xml(RM_USER, "followup|retained|C0000001|tier:C0000001", "RC-expired"))
    settle(adapter)
    assert [c.outcome for c in contacts(engine)] == ["retained"]
    [reply] = markdowns(fake)
    assert "已记录跟进" in reply and "已承接" in reply


def test_click_with_junk_key(wecom: WeComSender, fake: FakeWeCom, adapter: WeComAdapter, engine: Engine) -> None:
    wecom.post(wecom.click_xml(RM_USER, "nonsense", "RC-x"))
    wecom.post(wecom.click_xml(RM_USER, "followup|bogus|C0000001|x", "RC-y", create_time=int(time.time()) - 1))
    settle(adapter)
    assert contacts(engine) == []
    replies = markdowns(fake)
    assert len(replies) == 2
    assert "按钮已失效" in replies[0] and "按钮数据无效" in replies[1]


# -- bad input: always 4xx with a log line, never a 500, and the server keeps serving ------------------------------


@pytest.fixture
def still_serving(wecom: WeComSender, fake: FakeWeCom, adapter: WeComAdapter) -> Iterator[None]:
    yield
    wecom.text(RM_USER, "/whoami")
    settle(adapter)
    assert len(markdowns(fake)) == 1, "only the final good message may have produced a reply"


def _refused(r: httpx.Response, status: int, caplog: pytest.LogCaptureFixture) -> None:
    assert r.status_code == status
    assert "WeCom callback refused" in caplog.text
    caplog.clear()


def test_bad_signature(wecom: WeComSender, caplog: pytest.LogCaptureFixture, still_serving: None) -> None:
    enc = wecom.crypto.encrypt(wecom.text_xml(RM_USER, "/whoami", wecom.next_msgid()).encode())
    _refused(wecom.post_encrypted(enc, signature="0" * 40), 403, caplog)
    _refused(wecom.post_encrypted(enc, signature="not-hex"), 403, caplog)


def test_missing_or_bad_query(wecom: WeComSender, caplog: pytest.LogCaptureFixture, still_serving: None) -> None:
    _refused(wecom.http.post(wecom.url, content=b"<xml/>"), 400, caplog)
    enc = wecom.crypto.encrypt(b"<xml/>")
    _refused(wecom.post_encrypted(enc, timestamp="12ab"), 400, caplog)


def test_stale_timestamp_is_refused(wecom: WeComSender, caplog: pytest.LogCaptureFixture, still_serving: None) -> None:
    enc = wecom.crypto.encrypt(wecom.text_xml(RM_USER, "/whoami", wecom.next_msgid()).encode())
    _refused(wecom.post_encrypted(enc, timestamp=str(int(time.time()) - 3600)), 403, caplog)


@pytest.mark.parametrize("body", [
    b"", b"not xml", b"<xml><Encrypt>abc", b"<notxml><Encrypt>x</Encrypt></notxml>", b"<xml></xml>",
    b"\xff\xfe<\x00x\x00", "<xml><Encrypt>\u00e9</Encrypt>".encode("latin-1"),
])
def test_malformed_xml(wecom: WeComSender, caplog: pytest.LogCaptureFixture, still_serving: None,
                       body: bytes) -> None:
    _refused(wecom.post_encrypted("x", body=body), 400, caplog)


def test_xxe_and_entity_bombs_are_refused(wecom: WeComSender, caplog: pytest.LogCaptureFixture,
                                          still_serving: None) -> None:
    xxe = b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Encrypt>&e;</Encrypt></xml>'
    bomb = (b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            b"<xml><Encrypt>&b;</Encrypt></xml>")
    _refused(wecom.post_encrypted("x", body=xxe), 400, caplog)
    _refused(wecom.post_encrypted("x", body=bomb), 400, caplog)


def test_xxe_inside_the_encrypted_message(wecom: WeComSender, caplog: pytest.LogCaptureFixture,
                                          still_serving: None) -> None:
    inner = '<!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><FromUserName>&e;</FromUserName></xml>'
    _refused(wecom.post(inner), 400, caplog)


def test_wrong_aes_key(wecom: WeComSender, caplog: pytest.LogCaptureFixture, still_serving: None) -> None:
    """Signed with our token (so it gets past the signature) but encrypted with another key."""
    other = WeComCrypto(TOKEN, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG", CORP_ID)
    enc = other.encrypt(wecom.text_xml(RM_USER, "/whoami", wecom.next_msgid()).encode())
    r = wecom.post_encrypted(enc)
    assert r.status_code in (400, 403)
    assert "WeCom callback refused" in caplog.text


def test_truncated_ciphertext(wecom: WeComSender, caplog: pytest.LogCaptureFixture, still_serving: None) -> None:
    enc = wecom.crypto.encrypt(wecom.text_xml(RM_USER, "/whoami", wecom.next_msgid()).encode())
    _refused(wecom.post_encrypted(enc[:-24]), 400, caplog)  # signed after truncation: only the AES check can tell
    _refused(wecom.post_encrypted(enc[:40]), 400, caplog)


def test_receive_id_of_another_corp(wecom: WeComSender, caplog: pytest.LogCaptureFixture,
                                    still_serving: None) -> None:
    enc = wecom.crypto.encrypt(wecom.text_xml(RM_USER, "/whoami", wecom.next_msgid()).encode(),
                               receive_id="wwANOTHERCORP")
    _refused(wecom.post_encrypted(enc), 403, caplog)


def test_oversized_body(wecom: WeComSender, caplog: pytest.LogCaptureFixture, still_serving: None) -> None:
    big = b"<xml><Encrypt>" + b"A" * (65 * 1024) + b"</Encrypt></xml>"
    _refused(wecom.post_encrypted("A", body=big), 413, caplog)

    def chunks() -> Iterator[bytes]:
        for _ in range(70):
            yield b"A" * 1024

    ts = str(int(time.time()))
    r = wecom.http.post(wecom.url, params={"msg_signature": "0" * 40, "timestamp": ts, "nonce": "1"},
                        content=chunks())  # chunked: no Content-Length to refuse early on
    _refused(r, 413, caplog)


def test_inner_message_without_sender(wecom: WeComSender, caplog: pytest.LogCaptureFixture,
                                      still_serving: None) -> None:
    _refused(wecom.post("<xml><MsgType>text</MsgType><Content>/help</Content></xml>"), 400, caplog)
    _refused(wecom.post("plain text, not xml"), 400, caplog)


def test_no_encrypt_element(wecom: WeComSender, caplog: pytest.LogCaptureFixture, still_serving: None) -> None:
    _refused(wecom.post_encrypted("", body=b"<xml><ToUserName>x</ToUserName></xml>"), 400, caplog)
