"""The audit log is tamper-evident (issue 13 item 5), on SQLite and the real PostgreSQL server.

Each kind of tampering an owner of the database can do — UPDATE or DELETE after dropping or
disabling the trigger, REPLACE INTO, an insert out of order, TRUNCATE / emptying the log — is
either refused by the database or named, row by row, by `verify_chain` (`rmbot audit verify`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from bot.store.audit_chain import KEYRING_INFO, Keyring
from bot.store.audit_verify import verify_chain
from bot.store.db import make_engine
from bot.store.migrate import upgrade
from bot.store.models import AuditLog
from bot.testing import DEMO_NOW, Harness

KEYRING = Keyring.from_secrets("test-key-0123456789abcdef0123456789abcdef")
ROWS = 6


@pytest.fixture
def lite(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest) -> Engine:
    """A migrated database holding ROWS chained audit rows (seq 1..ROWS)."""
    engine: Engine = request.getfixturevalue("lite" if request.param == "sqlite" else "pg_engine")
    write_rows(engine, ROWS)
    return engine


def write_rows(engine: Engine, n: int, keyring: Keyring = KEYRING, start: int = 0) -> None:
    """Audit rows added the way every command adds them: AuditLog objects on a Session."""
    with Session(engine, info={KEYRING_INFO: keyring}) as s:
        for i in range(start, start + n):
            s.add(AuditLog(at=DEMO_NOW + timedelta(seconds=i), staff_id="RM001", platform="console", user_ref="RM001",
                           channel_kind="dm", action="tier", target=f"C{i + 1:07d}", outcome="denied",
                           detail="客户 " + ",".join(f"C{j:07d}" for j in range(60))))  # > 500 characters
        s.commit()


def sql(engine: Engine, *statements: str) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def refused(engine: Engine, *statements: str) -> str:
    with pytest.raises(DBAPIError) as caught:
        sql(engine, *statements)
    return str(caught.value.orig)


def pg(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def allow_changes(engine: Engine) -> None:
    """What an owner of the schema (or of the SQLite file) can do to the triggers."""
    if pg(engine):
        sql(engine, "ALTER TABLE audit_log DISABLE TRIGGER USER")
    else:
        sql(engine, "DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete", "DROP TRIGGER audit_log_chain")


def first(engine: Engine, **kwargs: object) -> tuple[int | None, str]:
    report = verify_chain(engine, KEYRING, **kwargs)  # type: ignore[arg-type]
    assert not report.ok
    return report.problems[0].seq, report.problems[0].kind


def test_untouched_chain_verifies_and_detail_is_unbounded(db: Engine) -> None:
    report = verify_chain(db, KEYRING)
    assert report.ok, report.problems
    assert report.rows == ROWS and report.head_seq == ROWS and report.demo_rows == 0
    with db.connect() as conn:
        assert conn.execute(text("SELECT min(length(detail)) FROM audit_log")).scalar_one() > 500
        seqs = [r[0] for r in conn.execute(text("SELECT seq FROM audit_log ORDER BY id"))]
    assert seqs == list(range(1, ROWS + 1))
    write_rows(db, 2, start=ROWS)  # a later transaction continues the same chain
    assert verify_chain(db, KEYRING).ok


def test_verify_pages_through_a_long_log(db: Engine) -> None:
    write_rows(db, 40, start=ROWS)
    assert verify_chain(db, KEYRING, page=7).ok
    allow_changes(db)
    sql(db, "UPDATE audit_log SET outcome = 'allowed' WHERE seq = 29")
    assert first(db, page=7) == (29, "changed")


def test_update_past_a_dropped_trigger_names_the_row(db: Engine) -> None:
    assert "append-only" in refused(db, "UPDATE audit_log SET outcome = 'allowed' WHERE seq = 3")
    allow_changes(db)
    sql(db, "UPDATE audit_log SET outcome = 'allowed' WHERE seq = 3")
    assert first(db) == (3, "changed")


def test_delete_names_the_removed_row(db: Engine) -> None:
    assert "append-only" in refused(db, "DELETE FROM audit_log WHERE seq = 3")
    allow_changes(db)
    sql(db, "DELETE FROM audit_log WHERE seq = 3")
    assert first(db) == (3, "removed")


def test_replica_mode_does_not_skip_the_audit_triggers_on_postgres(pg_engine: Engine) -> None:
    write_rows(pg_engine, 3)
    for statement in ("DELETE FROM audit_log", "UPDATE audit_log SET outcome = 'x'", "TRUNCATE audit_log",
                      "DELETE FROM audit_head", "UPDATE audit_head SET seq = 0"):
        assert refused(pg_engine, "SET LOCAL session_replication_role = replica", statement)
    assert verify_chain(pg_engine, KEYRING).ok


COLUMNS = "id, at, staff_id, platform, user_ref, channel_kind, action, target, outcome, detail, seq, key_id, mac"


def test_replace_into_is_refused_and_otherwise_named(db: Engine) -> None:
    copy = (f"SELECT id, at, staff_id, platform, user_ref, channel_kind, action, 'C0000099', 'allowed', detail, "
            f"seq, key_id, mac FROM audit_log WHERE seq = 3")
    if pg(db):
        upsert = (f"INSERT INTO audit_log ({COLUMNS}) {copy} ON CONFLICT (id) DO UPDATE SET "
                  "target = EXCLUDED.target, outcome = EXCLUDED.outcome")
        assert "chain head" in refused(db, upsert)
        allow_changes(db)
        sql(db, upsert)
    else:
        for verb in ("REPLACE INTO", "INSERT OR REPLACE INTO"):
            assert "chain head" in refused(db, f"{verb} audit_log ({COLUMNS}) {copy}")
        # a fresh id at the right seq is an append; at seq 3 it is refused too (UNIQUE would REPLACE it)
        assert "chain head" in refused(db, f"REPLACE INTO audit_log ({COLUMNS}) SELECT NULL, at, staff_id, platform, "
                                           "user_ref, channel_kind, action, target, 'allowed', detail, seq, key_id, mac "
                                           "FROM audit_log WHERE seq = 3")
        allow_changes(db)
        sql(db, f"REPLACE INTO audit_log ({COLUMNS}) {copy}")
    with db.connect() as conn:
        assert conn.execute(text("SELECT outcome FROM audit_log WHERE seq = 3")).scalar_one() == "allowed"
    assert first(db) == (3, "changed")


def test_a_row_inserted_out_of_order_is_named(db: Engine) -> None:
    forged = (f"INSERT INTO audit_log (at, staff_id, platform, user_ref, channel_kind, action, target, outcome, "
              f"seq, key_id, mac) VALUES ('2026-11-21 09:00:01', 'RM001', 'console', 'RM001', 'dm', 'tier', "
              f"'C0000042', 'allowed', 3, '{KEYRING.current_id}', '{'ab' * 32}')")
    assert refused(db, forged)  # seq 3 is taken: neither UNIQUE nor the chain trigger let it in
    allow_changes(db)
    sql(db, "UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 3", "UPDATE audit_log SET seq = seq - 999 WHERE seq > 1000")
    sql(db, forged)
    assert first(db) == (3, "broken")


def test_a_replayed_row_at_the_end_is_named(db: Engine) -> None:
    allow_changes(db)
    sql(db, f"INSERT INTO audit_log ({COLUMNS.removeprefix('id, ')}) SELECT at, staff_id, platform, user_ref, "
            f"channel_kind, action, target, outcome, detail, {ROWS + 1}, key_id, mac FROM audit_log WHERE seq = 2")
    report = verify_chain(db, KEYRING)
    assert [(p.seq, p.kind) for p in report.problems] == [(ROWS + 1, "broken"), (ROWS + 1, "past_head")]


def test_truncate_and_emptying_are_detected(db: Engine) -> None:
    if pg(db):
        assert "append-only" in refused(db, "TRUNCATE audit_log")
        sql(db, "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_truncate", "TRUNCATE audit_log")
    else:
        allow_changes(db)
        sql(db, "DELETE FROM audit_log")
    seq, kind = first(db)
    assert (seq, kind) == (1, "truncated")
    assert "清空" in verify_chain(db, KEYRING).problems[0].zh


def test_cutting_the_tail_is_detected(db: Engine) -> None:
    allow_changes(db)
    sql(db, "DELETE FROM audit_log WHERE seq >= 5")
    assert first(db) == (5, "truncated")


def test_rewinding_the_head_too_needs_a_checkpoint_kept_elsewhere(db: Engine) -> None:
    with db.connect() as conn:
        seq, mac = conn.execute(text("SELECT seq, mac FROM audit_head")).one()
    assert verify_chain(db, KEYRING, checkpoint=(seq, mac)).ok
    assert "only advances" in refused(db, "UPDATE audit_head SET seq = 4")
    allow_changes(db)
    if pg(db):
        sql(db, "ALTER TABLE audit_head DISABLE TRIGGER USER")
    else:
        sql(db, "DROP TRIGGER audit_head_advance")
    with db.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq >= 5"))
        conn.execute(text("UPDATE audit_head SET seq = 4, mac = (SELECT mac FROM audit_log WHERE seq = 4)"))
    assert verify_chain(db, KEYRING).ok  # documented limit: the head moved with the tail
    assert first(db, checkpoint=(seq, mac)) == (seq, "checkpoint")


def test_keys_unknown_rotated_and_demo(db: Engine) -> None:
    other = Keyring.from_secrets("a-different-key-fedcba9876543210")
    assert [p.kind for p in verify_chain(db, other).problems][:1] == ["unknown_key"]
    rotated = Keyring.from_secrets("the-next-key-00112233445566778899", old="test-key-0123456789abcdef0123456789abcdef")
    write_rows(db, 2, keyring=rotated, start=ROWS)
    report = verify_chain(db, rotated)
    assert report.ok and report.keys == {KEYRING.current_id: ROWS, rotated.current_id: 2}
    write_rows(db, 1, keyring=Keyring.from_secrets(None), start=ROWS + 2)  # a server started without the key
    assert [(p.seq, p.kind) for p in verify_chain(db, rotated, allow_demo=True).problems] == [(ROWS + 3, "demo_key")]


def test_demo_prefix_is_accepted_only_when_allowed(lite: Engine) -> None:
    demo = Keyring.from_secrets(None)
    write_rows(lite, 2, keyring=demo)
    assert verify_chain(lite, demo).ok and verify_chain(lite, demo).demo_rows == 2
    write_rows(lite, 2, start=2)
    assert first(lite) == (1, "demo_key")
    assert verify_chain(lite, KEYRING, allow_demo=True).ok


def test_writes_around_the_orm_are_refused(db: Engine) -> None:
    """Core inserts skip the chain: the NOT NULL columns and the trigger refuse them."""
    assert refused(db, "INSERT INTO audit_log (at, platform, user_ref, channel_kind, action, outcome) "
                       "VALUES ('2026-11-21 09:00:00', 'console', 'RM001', 'dm', 'tier', 'allowed')")
    assert refused(db, f"INSERT INTO audit_log (at, platform, user_ref, channel_kind, action, outcome, seq, key_id, mac) "
                       f"VALUES ('2026-11-21 09:00:00', 'console', 'RM001', 'dm', 'tier', 'allowed', {ROWS + 5}, 'x', 'y')")
    assert verify_chain(db, KEYRING).ok


def test_commands_chain_their_audit_rows(rmbot: Harness, rmbot_pg: Harness) -> None:
    """The real command path (staged entries, failed commands written on their own) on both stores."""
    from bot.store.audit_chain import current_keyring

    for h in (rmbot, rmbot_pg):
        h.ask("RM001", "/tier C0000001")
        h.ask("RM001", "/tier C0000014")  # denied: audited too
        h.ask("REG01", "/maturing 30")
        report = verify_chain(h.engine, current_keyring())
        assert report.ok and report.rows >= 3, report.problems


@pytest.fixture(params=["sqlite", "postgresql"])
def at_0007(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database from before the chain, holding audit rows."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    else:
        from bot.testing import postgres_schema_engine

        engine = postgres_schema_engine(request.getfixturevalue("pg_schema"))
    upgrade(engine, "0007")
    sql(engine, *[f"INSERT INTO audit_log (at, staff_id, platform, user_ref, channel_kind, action, target, outcome) "
                  f"VALUES ('2026-11-2{i} 09:00:00.000000', 'RM001', 'console', 'RM001', 'dm', 'tier', 'C000000{i}', "
                  f"'allowed')" for i in range(3)])
    yield engine
    engine.dispose()


def test_migration_chains_existing_rows_and_marks_them(at_0007: Engine) -> None:
    from alembic import command

    from bot.store.audit_chain import current_keyring
    from bot.store.migrate import alembic_config

    upgrade(at_0007)
    keyring = current_keyring()
    report = verify_chain(at_0007, keyring)
    assert report.ok and report.rows == 4 and report.head_seq == 4, report.problems
    with at_0007.connect() as conn:
        marker = conn.execute(text("SELECT action, detail FROM audit_log WHERE seq = 4")).one()
    assert marker.action == "audit_chain" and "seq 1..3" in marker.detail
    write_rows(at_0007, 1, keyring=keyring)
    assert verify_chain(at_0007, keyring).ok
    cfg = alembic_config()
    with at_0007.begin() as conn:  # down again with a detail longer than the old column
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0007")
    with at_0007.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one() == 5
    assert "append-only" in refused(at_0007, "DELETE FROM audit_log")  # 0001's triggers are back
    upgrade(at_0007)
    assert verify_chain(at_0007, keyring).ok


def test_concurrent_writers_never_fork_the_chain(db: Engine) -> None:
    """Writers queue on the chain head (PostgreSQL: a row lock; SQLite: one writer at a time)."""
    from concurrent.futures import ThreadPoolExecutor

    def writer(n: int) -> None:
        for i in range(8):
            write_rows(db, 1 + (i % 2), start=100 * n + 10 * i)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(writer, range(4)))
    report = verify_chain(db, KEYRING)
    assert report.ok, report.problems
    assert report.rows == report.head_seq == ROWS + 4 * 12


def test_any_stored_values_verify(db: Engine) -> None:
    """The MAC computed before the INSERT is the one recomputed from what each store gives back:
    any text (CJK, emoji, quotes, newlines, long lists), NULLs, any time zone and microsecond."""
    from datetime import datetime, timezone

    from hypothesis import HealthCheck, given, settings, strategies as st

    text_ = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=16)
    moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1),
                           timezones=st.sampled_from([timezone.utc, DEMO_NOW.tzinfo]))

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(at=moments, staff=st.none() | text_, target=st.none() | text_, detail=st.none() | st.text(max_size=2000))
    def check(at: datetime, staff: str | None, target: str | None, detail: str | None) -> None:
        with Session(db, info={KEYRING_INFO: KEYRING}) as s:
            s.add(AuditLog(at=at, staff_id=staff, platform="slack", user_ref=target or "-", channel_kind="group",
                           channel_id=staff, action="tier", target=target, outcome="allowed", detail=detail))
            s.commit()

    check()
    report = verify_chain(db, KEYRING)
    assert report.ok, report.problems
