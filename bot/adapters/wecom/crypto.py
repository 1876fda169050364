"""WeCom callback crypto ("加解密方案"), on `cryptography` directly.

WeCom signs every callback with sha1 over the sorted [token, timestamp, nonce, encrypt] and
encrypts the body with AES-256-CBC (IV = first 16 key bytes) and PKCS#7 padding to *32-byte*
blocks, which `cryptography`'s PKCS7(128) rejects, so padding is done by hand here. The
plaintext carries the receive id (our corpid): checking it stops another corp's traffic,
signed with a leaked token, from being taken as ours.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32
"""WeCom pads to 32 bytes, not AES's 16."""
MAX_MESSAGE = 1 << 20
"""A decrypted message longer than this is nonsense for a chat callback (and a length lie)."""


class CryptoError(Exception):
    """A callback that must be refused; `status` is the HTTP code to answer with."""

    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SignatureError(CryptoError):
    status = 403


class DecryptError(CryptoError):
    status = 400


class ReceiveIdError(CryptoError):
    """Decrypted fine but addressed to another corp: the key is shared, the sender is not us."""

    status = 403


def aes_key_from_encoding(encoding_aes_key: str) -> bytes:
    """EncodingAESKey is 43 base64 characters without the trailing '='."""
    if len(encoding_aes_key) != 43:
        raise ValueError("EncodingAESKey must be 43 characters")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except binascii.Error as exc:
        raise ValueError("EncodingAESKey is not valid base64") from exc
    if len(key) != 32:
        raise ValueError("EncodingAESKey must decode to 32 bytes")
    return key


def signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypt])).encode("utf-8")).hexdigest()


def pad(data: bytes) -> bytes:
    n = BLOCK - len(data) % BLOCK
    return data + bytes([n]) * n


def unpad(data: bytes) -> bytes:
    if not data:
        raise DecryptError("empty plaintext")
    n = data[-1]
    if not 1 <= n <= BLOCK or n > len(data) or data[-n:] != bytes([n]) * n:
        raise DecryptError("bad padding (wrong EncodingAESKey?)")
    return data[:-n]


class WeComCrypto:
    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        if not token or not receive_id:
            raise ValueError("token and receive id (corpid) are required")
        self.token = token
        self.key = aes_key_from_encoding(encoding_aes_key)
        self.receive_id = receive_id

    # -- signatures --------------------------------------------------------------------------

    def sign(self, timestamp: str, nonce: str, encrypt: str) -> str:
        return signature(self.token, timestamp, nonce, encrypt)

    def verify(self, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> None:
        expected = self.sign(timestamp, nonce, encrypt)
        if not hmac.compare_digest(expected.encode(), (msg_signature or "").lower().encode()):
            raise SignatureError("bad msg_signature")

    # -- AES ---------------------------------------------------------------------------------

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def encrypt(self, message: bytes, receive_id: str | None = None, random16: bytes | None = None) -> str:
        """`receive_id` and `random16` are overridable so tests can forge other corps' messages."""
        rand = os.urandom(16) if random16 is None else random16
        if len(rand) != 16:
            raise ValueError("random prefix must be 16 bytes")
        rid = (self.receive_id if receive_id is None else receive_id).encode("utf-8")
        plain = pad(rand + struct.pack(">I", len(message)) + message + rid)
        enc = self._cipher().encryptor()
        return base64.b64encode(enc.update(plain) + enc.finalize()).decode("ascii")

    def decrypt(self, encrypt: str) -> bytes:
        """The message bytes, after checking padding, length and receive id."""
        try:
            raw = base64.b64decode(encrypt, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise DecryptError("ciphertext is not base64") from exc
        if len(raw) < BLOCK or len(raw) % 16:
            raise DecryptError("ciphertext length is not a whole number of blocks")
        dec = self._cipher().decryptor()
        plain = unpad(dec.update(raw) + dec.finalize())
        if len(plain) < 20:
            raise DecryptError("plaintext too short")
        (length,) = struct.unpack(">I", plain[16:20])
        if length > MAX_MESSAGE or 20 + length > len(plain):
            raise DecryptError("message length field out of range (wrong key or truncated)")
        message = plain[20:20 + length]
        rid = plain[20 + length:]
        if not hmac.compare_digest(rid, self.receive_id.encode("utf-8")):
            raise ReceiveIdError("receive id is not our corpid")
        return message

    # -- the two callback shapes ---------------------------------------------------------------

    def check_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """URL verification: the decrypted echostr, to be answered as is."""
        self.verify(msg_signature, timestamp, nonce, echostr)
        try:
            return self.decrypt(echostr).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecryptError("echostr is not UTF-8") from exc

    def open(self, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> str:
        """A POSTed message's inner XML text, verified and decrypted."""
        self.verify(msg_signature, timestamp, nonce, encrypt)
        try:
            return self.decrypt(encrypt).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecryptError("message is not UTF-8") from exc

    def seal(self, xml: str, timestamp: str, nonce: str) -> str:
        """A passive reply (or, in tests, what WeCom would POST): the signed envelope."""
        encrypt = self.encrypt(xml.encode("utf-8"))
        sig = self.sign(timestamp, nonce, encrypt)
        return (
            f"<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt><MsgSignature><![CDATA[{sig}]]></MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp><Nonce><![CDATA[{nonce}]]></Nonce></xml>"
        )
