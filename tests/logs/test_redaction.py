"""The one redaction filter (bot/logs.py): every credential shape, in the message, its args,
the exception and the stack text; both formats; Asia/Shanghai time with its offset."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from bot.config import Settings
from bot.logs import REDACTION, JsonFormatter, TextFormatter, TEXT_FORMAT, mask_secret, redact, register_secret, \
    register_settings, request_id

SHAPES = [
    ("GET http://127.0.0.1:9/cgi-bin/gettoken?corpid=ww1&corpsecret=S3cretCorp-1 \"HTTP/1.1 200 OK\"", "S3cretCorp-1"),
    ("POST http://x/cgi-bin/message/send?access_token=TOKEN-ab12cd34", "TOKEN-ab12cd34"),
    ("POST https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7e0a-4bc4-97a0-0ec2a1fa5aaa", "693a91f6"),
    ("/wecom/callback?msg_signature=5c1a9e77f0&timestamp=1&nonce=2", "5c1a9e77f0"),
    ("form token=legacyVerif123&team_id=T1", "legacyVerif123"),
    ("{'Authorization': 'Bearer abc.def.ghi', 'X': 1}", "abc.def.ghi"),
    ("Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
    ('{"access_token": "TOKEN-9z9z9z", "expires_in": 7200}', "TOKEN-9z9z9z"),
    ('{"password": "hunter2hunter2"}', "hunter2hunter2"),
    ("slack said invalid_auth for xoxb-1234-5678-AbCdEf", "AbCdEf"),
    ("socket mode xapp-1-A0123-4567-ZyXw", "ZyXw"),
    ("user token xoxp-99-88-77", "xoxp-99"),
    ("connect postgresql+psycopg://rmbot:Pg-Pass_w0rd@db.bank:5432/rmbot failed", "Pg-Pass_w0rd"),
    ("client_secret=abc123456 signing_secret=def789012", "abc123456"),
]


@pytest.mark.parametrize("line,secret", SHAPES)
def test_every_credential_shape_is_redacted(line: str, secret: str) -> None:
    assert secret not in redact(line)
    assert "***" in redact(line)


def test_what_is_not_a_credential_stays() -> None:
    line = "push maturing|SB01|2026-11-23 sent to 西湖支行（SB01）: 3 items, keys=3, monkey business"
    assert redact(line) == line
    assert redact("GET /healthz?corpid=ww1&timestamp=17") == "GET /healthz?corpid=ww1&timestamp=17"


def test_configured_secrets_are_replaced_wherever_they_appear() -> None:
    settings = Settings(_env_file=None, WECOM_SECRET="corp+secret/with=odd&chars", WECOM_TOKEN="cbTokenLiteral77",
                        WECOM_ENCODING_AES_KEY="A" * 20 + "bcdefghijklmnopqrstuvw",
                        SLACK_SIGNING_SECRET="sign-SECRET-literal-1", RMBOT_AUDIT_KEY="audit-key-literal-2",
                        RMBOT_AUDIT_OLD_KEYS="old-audit-one,old-audit-two",
                        DATABASE_URL="postgresql+psycopg://u:db-pass-literal@h/db")
    register_settings(settings)
    text = ("token cbTokenLiteral77 aes AAAAAAAAAAAAAAAAAAAAbcdefghijklmnopqrstuvw sign sign-SECRET-literal-1 "
            "audit audit-key-literal-2 old old-audit-two db db-pass-literal "
            "raw corp+secret/with=odd&chars encoded corp%2Bsecret%2Fwith%3Dodd%26chars plus corp%2Bsecret%2Fwith%3Dodd%26chars")
    out = redact(text)
    for secret in ("cbTokenLiteral77", "bcdefghijklmnopqrstuvw", "sign-SECRET-literal-1", "audit-key-literal-2",
                   "old-audit-two", "db-pass-literal", "corp+secret", "corp%2Bsecret"):
        assert secret not in out, (secret, out)


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40),
       st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40))
@hsettings(max_examples=60, deadline=None)
def test_a_registered_secret_never_survives_any_surrounding_text(before: str, after: str) -> None:
    secret = "Reg1stered-Secret-Value"
    register_secret(secret)
    assert secret not in redact(before + secret + after)
    assert redact(redact(before + after)) == redact(before + after)  # idempotent: several handlers, one record


@pytest.fixture
def capture() -> Iterator[tuple[logging.Logger, io.StringIO, logging.Handler]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(REDACTION)
    handler.setFormatter(TextFormatter(TEXT_FORMAT))
    logger = logging.getLogger("rmbot.test.redaction")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield logger, stream, handler
    logger.removeHandler(handler)


def test_args_exceptions_and_stacks_are_redacted(capture: tuple[logging.Logger, io.StringIO, logging.Handler]) -> None:
    logger, stream, _ = capture
    logger.debug("calling %s with %r", "https://h/cgi-bin/gettoken?corpsecret=ArgSecret1", {"token": "DictTok1"})
    try:
        raise RuntimeError("Client error for url 'https://h/webhook/send?key=ExcKey12345'")
    except RuntimeError:
        logger.exception("send failed, Authorization: Bearer xoxb-9-9-ExcBot")
    logger.warning("where", stack_info=True, extra={"request_id": "req-42"})
    out = stream.getvalue()
    for secret in ("ArgSecret1", "DictTok1", "ExcKey12345", "ExcBot"):
        assert secret not in out
    assert "Traceback" in out and "RuntimeError" in out and "[req=req-42]" in out
    first = out.splitlines()[0]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+08:00 DEBUG rmbot\.test\.redaction ", first), first


def test_json_lines_parse_and_carry_time_level_logger_request_id(
        capture: tuple[logging.Logger, io.StringIO, logging.Handler]) -> None:
    logger, stream, handler = capture
    handler.setFormatter(JsonFormatter())
    token = request_id.set("req-ctx-7")
    try:
        logger.info("hello %s", "access_token=JsonTok99")
        try:
            raise ValueError("corpsecret=JsonExc99")
        except ValueError:
            logger.exception("boom")
    finally:
        request_id.reset(token)
    logger.info("no request")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3  # a traceback is a field, not extra lines
    entries = [json.loads(line) for line in lines]
    assert entries[0]["message"] == "hello access_token=***" and entries[0]["level"] == "INFO"
    assert entries[0]["logger"] == "rmbot.test.redaction" and entries[0]["request_id"] == "req-ctx-7"
    assert entries[0]["time"].endswith("+08:00")
    assert "ValueError" in entries[1]["exc"] and "JsonExc99" not in entries[1]["exc"]
    assert "request_id" not in entries[2]


def test_operators_see_only_the_last_four_of_a_robot_key() -> None:
    key = "693a91f6-7e0a-4bc4-97a0-0ec2a1fa5aaa"
    assert mask_secret(key) == "***5aaa"
    url = f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={key}"
    assert mask_secret(url) == "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***5aaa"
    assert mask_secret("short") == "***"


@given(st.sampled_from(["corpsecret", "access_token", "key", "token", "msg_signature", "password", "client_secret"]),
       st.text(alphabet="ABCDEFabcdef0123456789-_.~%+/", min_size=6, max_size=60),
       st.sampled_from(["https://h/p?{p}={v}&x=1", "{p}={v}", "GET /a?b=1&{p}={v} HTTP/1.1", "{{\"{p}\": \"{v}\"}}",
                        "{{'{p}': '{v}'}}"]))
@hsettings(max_examples=80, deadline=None)
def test_any_value_of_a_credential_parameter_or_field_is_masked(name: str, value: str, shape: str) -> None:
    assert value not in redact(shape.format(p=name, v=value))
