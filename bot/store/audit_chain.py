"""The audit log's hash chain: every audit row carries an HMAC over its fields and the previous row's.

Why: triggers and grants make `audit_log` append-only for the app, but whoever owns the schema
(or a SQLite file) can still drop a trigger and rewrite history. A keyed chain makes any such
change *evident*: without the key nobody can produce the MAC of a changed, removed or inserted
row, and `rmbot audit verify` (bot.store.audit_verify) recomputes the chain.

One place computes it: a `before_flush` hook (registered in bot.store.models) calls
`chain_pending` for every Session, so whatever code adds `AuditLog` rows gets them chained. A
write that bypasses the ORM unit of work (Core `insert`, bulk inserts) has no `seq`/`mac` and is
refused by the database (NOT NULL columns, and a BEFORE INSERT trigger that accepts only
seq = chain head + 1). The chain head (`audit_head`, one row) is read — and on PostgreSQL locked
— with one statement per flush; the trigger advances it, so concurrent writers queue on it and
the chain cannot fork.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import inspect as sa_inspect, text
from sqlalchemy.engine import Connection

from bot.clock import SHANGHAI

log = logging.getLogger("rmbot.audit")

VERSION = "rmbot-audit-v1"
"""Part of every MAC: a future serialisation gets a new version, never a silent change."""
DEMO_KEY = b"rmbot public demo audit key - NOT SECRET - set RMBOT_AUDIT_KEY"
DEMO_KEY_ID = "demo"
GENESIS_MAC = ""
"""The `prev` of the first row."""
FIELDS = ("at", "staff_id", "platform", "user_ref", "channel_kind", "channel_id", "action", "target",
          "outcome", "detail")
"""The row's content covered by its MAC, in this order (with seq, key id and the previous MAC)."""


def key_id_for(key: bytes) -> str:
    """A key's id is derived from the key, so a rotation cannot be mislabelled; it reveals nothing
    useful about a strong key."""
    return "k" + hmac.new(key, b"rmbot audit key id", hashlib.sha256).hexdigest()[:12]


@dataclass(frozen=True)
class Keyring:
    """The key new rows are signed with, and every key (current and retired) rows may carry."""

    current_id: str
    keys: dict[str, bytes] = field(repr=False)

    @property
    def current_key(self) -> bytes:
        return self.keys[self.current_id]

    @property
    def is_demo(self) -> bool:
        return self.current_id == DEMO_KEY_ID

    @classmethod
    def from_secrets(cls, current: str | None, old: str | None = None) -> Keyring:
        """`current`: RMBOT_AUDIT_KEY (None or blank: the public demo key); `old`: retired keys,
        comma-separated, which still verify the rows signed with them."""
        keys = {DEMO_KEY_ID: DEMO_KEY}
        for raw in (old or "").split(","):
            if raw.strip():
                k = raw.strip().encode("utf-8")
                keys[key_id_for(k)] = k
        if current and current.strip():
            k = current.strip().encode("utf-8")
            keys[key_id_for(k)] = k
            return cls(key_id_for(k), keys)
        return cls(DEMO_KEY_ID, keys)


_keyring: Keyring | None = None
KEYRING_INFO = "audit_keyring"
"""`Session(info={KEYRING_INFO: keyring})` signs that session's rows with another keyring (tools,
tests); a key the verifier is not given shows up as an unknown key, so this cannot hide anything."""


def current_keyring() -> Keyring:
    """From the settings (environment / .env), read once per process."""
    global _keyring
    if _keyring is None:
        from bot.config import get_settings

        s = get_settings()
        _keyring = Keyring.from_secrets(s.audit_key.get_secret_value() if s.audit_key else None,
                                        s.audit_old_keys.get_secret_value() if s.audit_old_keys else None)
        if _keyring.is_demo:
            log.warning("RMBOT_AUDIT_KEY is not set: audit rows are signed with the public demo key "
                        "and are NOT tamper-evident (set it before production; see README).")
    return _keyring


def stored_at(value: datetime) -> str:
    """`at` exactly as the store keeps it (naive Asia/Shanghai, microseconds), as text."""
    if value.tzinfo is not None:
        value = value.astimezone(SHANGHAI).replace(tzinfo=None)
    return value.isoformat(sep=" ", timespec="microseconds")


def compute_mac(key: bytes, seq: int, key_id: str, values: dict[str, Any], prev_mac: str) -> str:
    """HMAC-SHA256 over a canonical JSON array (ASCII, no whitespace) of the row and `prev_mac`."""
    payload = [VERSION, seq, key_id, prev_mac] + [
        stored_at(values["at"]) if name == "at" else values[name] for name in FIELDS]
    data = json.dumps(payload, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def read_head(conn: Connection) -> tuple[int, str]:
    """The chain head (seq, mac of the newest row). On PostgreSQL this also locks it until the
    transaction ends (SECURITY DEFINER function: the app role may not UPDATE `audit_head`)."""
    if conn.dialect.name == "postgresql":
        row = conn.execute(text("SELECT seq, mac FROM audit_chain_head()")).first()
    else:
        # pysqlite opens a transaction only at the first write, so a read before it sees whatever
        # another writer commits next: take the write lock first (unless this transaction has
        # written already and holds it), so the head cannot move before our INSERT.
        dbapi = conn.connection.driver_connection
        if conn.dialect.name == "sqlite" and dbapi is not None and not dbapi.in_transaction:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        row = conn.execute(text("SELECT seq, mac FROM audit_head WHERE id = 1")).first()
    if row is None:
        raise RuntimeError("audit_head is missing: the audit chain cannot be extended (run rmbot audit verify)")
    return int(row[0]), str(row[1])


def _normalise(obj: Any) -> None:
    """Values exactly as they will be stored and read back (strings, an aware `at`), so the MAC
    the verifier recomputes from the row is the one computed here."""
    for name in FIELDS[1:]:
        value = getattr(obj, name)
        if value is not None and not isinstance(value, str):
            setattr(obj, name, str(value))
    if obj.at.tzinfo is None:
        raise ValueError("naive datetime given to the audit log: use bot.clock.now()")


def chain_pending(session: Any) -> None:
    """Give every new AuditLog row of this flush its seq, key id and MAC, in the order added."""
    from bot.store.models import AuditLog

    new = [o for o in session.new if isinstance(o, AuditLog)]
    if not new:
        return
    new.sort(key=lambda o: sa_inspect(o).insert_order)
    keyring = session.info.get(KEYRING_INFO) or current_keyring()
    seq, mac = read_head(session.connection())
    for obj in new:
        _normalise(obj)
        seq += 1
        values = {name: getattr(obj, name) for name in FIELDS}
        obj.seq, obj.key_id = seq, keyring.current_id
        obj.mac = mac = compute_mac(keyring.current_key, seq, keyring.current_id, values, mac)
