"""Callback crypto: the official worked example (WeCom developer documentation, "加解密方案说明"), round trips,
and every way a ciphertext can be wrong."""

from __future__ import annotations

import base64
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.adapters.wecom.crypto import (
    CryptoError,
    DecryptError,
    ReceiveIdError,
    SignatureError,
    WeComCrypto,
    aes_key_from_encoding,
    pad,
    signature,
    unpad,
)

# Official worked example (WeCom developer documentation, 加解密方案说明)
KAT_TOKEN = "QDG6eK"
KAT_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
KAT_CORP = "wx5823bf96d3bd56c7"
KAT_SIG = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
KAT_TS = "1409659589"
KAT_NONCE = "263014780"
KAT_ECHOSTR = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
KAT_PLAIN = "1616140317555161061"

OTHER_KEY = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"


@pytest.fixture
def kat() -> WeComCrypto:
    return WeComCrypto(KAT_TOKEN, KAT_KEY, KAT_CORP)


def test_known_answer_signature() -> None:
    assert signature(KAT_TOKEN, KAT_TS, KAT_NONCE, KAT_ECHOSTR) == KAT_SIG


def test_known_answer_url_check(kat: WeComCrypto) -> None:
    assert kat.check_url(KAT_SIG, KAT_TS, KAT_NONCE, KAT_ECHOSTR) == KAT_PLAIN


def test_known_answer_signature_is_case_insensitive_hex(kat: WeComCrypto) -> None:
    assert kat.check_url(KAT_SIG.upper(), KAT_TS, KAT_NONCE, KAT_ECHOSTR) == KAT_PLAIN


def test_known_answer_bad_signature(kat: WeComCrypto) -> None:
    with pytest.raises(SignatureError):
        kat.check_url(KAT_SIG[:-1] + "0", KAT_TS, KAT_NONCE, KAT_ECHOSTR)
    with pytest.raises(SignatureError):
        kat.check_url(KAT_SIG, KAT_TS, "263014781", KAT_ECHOSTR)


def test_key_decoding() -> None:
    assert len(aes_key_from_encoding(KAT_KEY)) == 32
    for bad in ("", KAT_KEY[:-1], KAT_KEY + "A", "!" * 43):
        with pytest.raises(ValueError):
            aes_key_from_encoding(bad)


def test_padding_is_to_32_byte_blocks() -> None:
    for n in range(0, 70):
        padded = pad(b"x" * n)
        assert len(padded) % 32 == 0 and 1 <= len(padded) - n <= 32
        assert unpad(padded) == b"x" * n
    with pytest.raises(DecryptError):
        unpad(b"x" * 31 + b"\x00")
    with pytest.raises(DecryptError):
        unpad(b"x" * 31 + b"\x21")  # 33 > block
    with pytest.raises(DecryptError):
        unpad(b"x" * 30 + b"\x01\x02")  # inconsistent pad bytes


def test_encrypt_is_32_block_aligned_and_randomised(kat: WeComCrypto) -> None:
    a, b = kat.encrypt(b"hello"), kat.encrypt(b"hello")
    assert a != b
    assert len(base64.b64decode(a)) % 32 == 0


def test_our_encryption_matches_wecoms_layout(kat: WeComCrypto) -> None:
    """Decrypt by hand, independently of our decrypt(): random16 | len BE | msg | corpid | pad."""
    enc = kat.encrypt("你好".encode(), random16=b"R" * 16)
    key = aes_key_from_encoding(KAT_KEY)
    d = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = d.update(base64.b64decode(enc)) + d.finalize()
    body = "你好".encode()
    expected = b"R" * 16 + struct.pack(">I", len(body)) + body + KAT_CORP.encode()
    assert plain[: len(expected)] == expected
    padn = plain[-1]
    assert plain[len(expected):] == bytes([padn]) * padn and len(plain) % 32 == 0


@settings(max_examples=200, deadline=None)
@given(message=st.binary(max_size=3000), corp=st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40))
def test_round_trip_bytes(message: bytes, corp: str) -> None:
    c = WeComCrypto("tok", KAT_KEY, corp)
    assert c.decrypt(c.encrypt(message)) == message


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=1000), ts=st.integers(0, 2**40).map(str), nonce=st.text(
    alphabet="0123456789abcdef", min_size=1, max_size=16))
def test_round_trip_signed_messages(text: str, ts: str, nonce: str) -> None:
    c = WeComCrypto(KAT_TOKEN, KAT_KEY, KAT_CORP)
    enc = c.encrypt(text.encode("utf-8", "surrogatepass"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        with pytest.raises(DecryptError):
            c.open(c.sign(ts, nonce, enc), ts, nonce, enc)
        return
    assert c.open(c.sign(ts, nonce, enc), ts, nonce, enc) == text


@settings(max_examples=100, deadline=None)
@given(message=st.binary(min_size=0, max_size=500))
def test_wrong_key_never_decrypts(message: bytes) -> None:
    ours = WeComCrypto("tok", KAT_KEY, KAT_CORP)
    theirs = WeComCrypto("tok", OTHER_KEY, KAT_CORP)
    with pytest.raises(CryptoError):
        ours.decrypt(theirs.encrypt(message))


def test_other_corp_is_refused(kat: WeComCrypto) -> None:
    forged = kat.encrypt(b"<xml/>", receive_id="wwANOTHERCORP")
    with pytest.raises(ReceiveIdError):
        kat.decrypt(forged)
    with pytest.raises(ReceiveIdError):  # a prefix of our corpid is not our corpid
        kat.decrypt(kat.encrypt(b"<xml/>", receive_id=KAT_CORP[:-1]))


@pytest.mark.parametrize("cut", [1, 4, 16, 31, 32, 44])
def test_truncated_ciphertext(kat: WeComCrypto, cut: int) -> None:
    raw = base64.b64decode(kat.encrypt(b"x" * 100))
    with pytest.raises(DecryptError):
        kat.decrypt(base64.b64encode(raw[:-cut]).decode())


@pytest.mark.parametrize("bad", ["", "not base64!!", "QUJD", "A" * 43, base64.b64encode(b"\x00" * 16).decode()])
def test_garbage_ciphertext(kat: WeComCrypto, bad: str) -> None:
    with pytest.raises(DecryptError):
        kat.decrypt(bad)


def test_length_field_lying(kat: WeComCrypto) -> None:
    """A correctly padded plaintext whose length field points past the end."""
    key = aes_key_from_encoding(KAT_KEY)
    plain = pad(b"R" * 16 + struct.pack(">I", 10_000) + b"<xml/>" + KAT_CORP.encode())
    e = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    with pytest.raises(DecryptError):
        kat.decrypt(base64.b64encode(e.update(plain) + e.finalize()).decode())


def test_seal_is_openable(kat: WeComCrypto) -> None:
    """A passive reply envelope decrypts back (and verifies) with the same parameters."""
    import re

    env = kat.seal("<xml><Content>好</Content></xml>", "1409659589", "nonce1")
    enc = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]>", env).group(1)  # type: ignore[union-attr]
    sig = re.search(r"<MsgSignature><!\[CDATA\[(.*?)\]\]>", env).group(1)  # type: ignore[union-attr]
    assert kat.open(sig, "1409659589", "nonce1", enc) == "<xml><Content>好</Content></xml>"
