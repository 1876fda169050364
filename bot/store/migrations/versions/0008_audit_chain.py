"""Tamper-evident audit log: a keyed hash chain, its head, and triggers no REPLACE slips past.

- `audit_log` gains `seq` (1, 2, 3 … unique, no gaps), `key_id` and `mac` (HMAC-SHA256 of the
  row and the previous row's mac, computed by bot.store.audit_chain); `detail` becomes TEXT so
  a disclosure can name every customer it showed.
- `audit_head` (one row) holds the newest seq and mac. A BEFORE INSERT trigger accepts a row only
  at seq = head + 1 (and, on SQLite, only with an id not already taken, so `REPLACE INTO` cannot
  delete a row on the way) and advances the head. Guards refuse deleting or rewinding the head.
- PostgreSQL: the triggers fire ALWAYS, so `session_replication_role = replica` does not skip
  them; TRUNCATE is refused by a statement trigger; the app role reads and locks the head through
  `audit_chain_head()` (SECURITY DEFINER), so it needs no UPDATE on `audit_head` (docs/SECURITY.md).
- Rows that exist at upgrade are chained here, in id order, with the key configured now
  (RMBOT_AUDIT_KEY), and a marker row `audit_chain` records that they are attested only from
  this upgrade on.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot import clock
from bot.store.models import ShanghaiDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_ROWS = sa.table(
    "audit_log", sa.column("id", sa.Integer), sa.column("at", ShanghaiDateTime()),
    *(sa.column(c, sa.String) for c in ("staff_id", "platform", "user_ref", "channel_kind", "channel_id",
                                        "action", "target", "outcome", "detail")),
    sa.column("seq", sa.BigInteger), sa.column("key_id", sa.String), sa.column("mac", sa.String),
)
_SQLITE_APPEND_ONLY = [
    f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END" for verb in ("UPDATE", "DELETE")]
_SQLITE_CHAIN = [
    """CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log BEGIN
         SELECT RAISE(ABORT, 'audit_log: rows are appended at the chain head only')
         WHERE NEW.seq IS NOT (SELECT seq + 1 FROM audit_head WHERE id = 1)
            OR EXISTS (SELECT 1 FROM audit_log WHERE id = NEW.id);
         UPDATE audit_head SET seq = NEW.seq, mac = NEW.mac WHERE id = 1;
       END""",
    "CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head "
    "BEGIN SELECT RAISE(ABORT, 'audit_head: the chain head cannot be removed'); END",
    "CREATE TRIGGER audit_head_no_insert BEFORE INSERT ON audit_head WHEN EXISTS (SELECT 1 FROM audit_head) "
    "BEGIN SELECT RAISE(ABORT, 'audit_head: there is one chain head'); END",
    "CREATE TRIGGER audit_head_advance BEFORE UPDATE ON audit_head "
    "WHEN NEW.id IS NOT OLD.id OR NEW.seq IS NOT OLD.seq + 1 "
    "BEGIN SELECT RAISE(ABORT, 'audit_head: the chain head only advances'); END",
]
_SQLITE_TRIGGERS = ["audit_log_no_update", "audit_log_no_delete", "audit_log_chain", "audit_head_no_delete",
                    "audit_head_no_insert", "audit_head_advance"]
_PG_FUNCTIONS = [
    # Runs as the owner: the app role may insert audit rows, never touch the head directly.
    """CREATE FUNCTION audit_log_chain_append() RETURNS trigger LANGUAGE plpgsql
       SECURITY DEFINER SET search_path FROM CURRENT AS $$
       BEGIN
         UPDATE audit_head SET seq = NEW.seq, mac = NEW.mac WHERE id = 1 AND seq = NEW.seq - 1;
         IF NOT FOUND THEN
           RAISE EXCEPTION 'audit_log: rows are appended at the chain head only (seq %)', NEW.seq;
         END IF;
         RETURN NEW;
       END $$""",
    """CREATE FUNCTION audit_chain_head() RETURNS TABLE (seq bigint, mac varchar) LANGUAGE plpgsql
       SECURITY DEFINER SET search_path FROM CURRENT AS $$
       BEGIN
         RETURN QUERY SELECT h.seq, h.mac FROM audit_head h WHERE h.id = 1 FOR UPDATE;
       END $$""",
    """CREATE FUNCTION audit_log_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$""",
    """CREATE FUNCTION audit_head_guard() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF TG_OP = 'UPDATE' AND NEW.id = OLD.id AND NEW.seq = OLD.seq + 1 THEN RETURN NEW; END IF;
         RAISE EXCEPTION 'audit_head: the chain head only advances';
       END $$""",
]
_PG_TRIGGERS = [
    ("audit_log", "audit_log_chain", "BEFORE INSERT", "FOR EACH ROW", "audit_log_chain_append"),
    ("audit_log", "audit_log_no_truncate", "BEFORE TRUNCATE", "FOR EACH STATEMENT", "audit_log_no_truncate"),
    ("audit_head", "audit_head_guard", "BEFORE UPDATE OR DELETE", "FOR EACH ROW", "audit_head_guard"),
    ("audit_head", "audit_head_no_truncate", "BEFORE TRUNCATE", "FOR EACH STATEMENT", "audit_log_no_truncate"),
]


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    op.create_table("audit_head", sa.Column("id", sa.Integer(), nullable=False),
                    sa.Column("seq", sa.BigInteger(), nullable=False),
                    sa.Column("mac", sa.String(length=64), nullable=False), sa.PrimaryKeyConstraint("id"))
    if pg:
        op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change")
    else:
        for name in ("audit_log_no_update", "audit_log_no_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.add_column("audit_log", sa.Column("seq", sa.BigInteger(), nullable=True))
    op.add_column("audit_log", sa.Column("key_id", sa.String(length=16), nullable=True))
    op.add_column("audit_log", sa.Column("mac", sa.String(length=64), nullable=True))
    seq, mac = _chain_existing_rows()
    with op.batch_alter_table("audit_log") as batch:
        batch.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)
        batch.alter_column("key_id", existing_type=sa.String(length=16), nullable=False)
        batch.alter_column("mac", existing_type=sa.String(length=64), nullable=False)
        batch.alter_column("detail", existing_type=sa.String(length=500), type_=sa.Text(), existing_nullable=True)
        batch.create_index("ux_audit_log_seq", ["seq"], unique=True)
    op.get_bind().execute(sa.text("INSERT INTO audit_head (id, seq, mac) VALUES (1, :seq, :mac)"),
                          {"seq": seq, "mac": mac})
    if pg:
        for statement in _PG_FUNCTIONS:
            op.execute(statement)
        for table, name, when, level, function in _PG_TRIGGERS:
            op.execute(f"CREATE TRIGGER {name} {when} ON {table} {level} EXECUTE FUNCTION {function}()")
        # ALWAYS: session_replication_role = replica (the import's fast path) does not skip them.
        for table, name in [("audit_log", "audit_log_no_change")] + [(t, n) for t, n, *_ in _PG_TRIGGERS]:
            op.execute(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {name}")
    else:
        for statement in _SQLITE_APPEND_ONLY + _SQLITE_CHAIN:
            op.execute(statement)
    if seq:
        _append_marker(seq, mac)


def _chain_existing_rows() -> tuple[int, str]:
    """Number and MAC the rows already there, in id order, a page at a time (bounded memory)."""
    from bot.store.audit_chain import FIELDS, GENESIS_MAC, compute_mac, current_keyring

    keyring = current_keyring()
    conn = op.get_bind()
    seq, mac, last_id = 0, GENESIS_MAC, -1
    columns = [_ROWS.c.id] + [_ROWS.c[name] for name in FIELDS]
    while True:
        page = conn.execute(sa.select(*columns).where(_ROWS.c.id > last_id).order_by(_ROWS.c.id).limit(2000)).all()
        if not page:
            return seq, mac
        updates = []
        for row in page:
            seq += 1
            mac = compute_mac(keyring.current_key, seq, keyring.current_id, dict(row._mapping), mac)
            updates.append({"row_id": row.id, "seq": seq, "key_id": keyring.current_id, "mac": mac})
            last_id = row.id
        conn.execute(sa.update(_ROWS).where(_ROWS.c.id == sa.bindparam("row_id"))
                     .values(seq=sa.bindparam("seq"), key_id=sa.bindparam("key_id"), mac=sa.bindparam("mac")),
                     updates)


def _append_marker(seq: int, mac: str) -> None:
    """The log itself says which rows were chained after the fact."""
    from bot.store.audit_chain import compute_mac, current_keyring

    keyring = current_keyring()
    values = {"at": clock.now(), "staff_id": None, "platform": "system", "user_ref": "rmbot db upgrade",
              "channel_kind": "system", "channel_id": None, "action": "audit_chain", "target": "migration 0008",
              "outcome": "allowed",
              "detail": (f"seq 1..{seq} existed before the audit chain and were chained by this upgrade: "
                         "they are attested from now on, not before")}
    row = {**values, "seq": seq + 1, "key_id": keyring.current_id,
           "mac": compute_mac(keyring.current_key, seq + 1, keyring.current_id, values, mac)}
    op.get_bind().execute(sa.insert(_ROWS).values(**row))


def downgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    if pg:
        for table, name, *_ in _PG_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        for function in ("audit_log_chain_append", "audit_chain_head", "audit_log_no_truncate", "audit_head_guard"):
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
        op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_change")
    else:
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_index("ux_audit_log_seq")
        batch.drop_column("mac")
        batch.drop_column("key_id")
        batch.drop_column("seq")
        batch.alter_column("detail", existing_type=sa.Text(), type_=sa.String(length=500), existing_nullable=True,
                           postgresql_using="left(detail, 500)")
    if not pg:
        for statement in _SQLITE_APPEND_ONLY:
            op.execute(statement)
    op.drop_table("audit_head")
