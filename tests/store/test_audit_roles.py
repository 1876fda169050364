"""The PostgreSQL role split of docs/SECURITY.md, on the real server.

An owner role migrates; the app role (grants from bot.store.roles, as `rmbot db grants` prints
them) runs commands and appends audit rows but cannot UPDATE, DELETE or TRUNCATE the log, alter
or disable its triggers, move the chain head or set session_replication_role; the import role
may use the import's fast path and still cannot touch the log. Roles get unique names per test
and are dropped afterwards: the server is shared with other test runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from bot.store.audit_chain import current_keyring
from bot.store.audit_verify import verify_chain
from bot.store.db import make_engine
from bot.store.migrate import upgrade
from bot.store.roles import app_role_grants, import_role_grants
from bot.store.seed import seed_bank
from bot.testing import DEMO_DATA_DATE, PG_URL, Harness, require_postgres
from rules.policy import default_policy


@dataclass
class Roles:
    schema: str
    owner: Engine
    app: Engine
    importer: Engine
    app_name: str


def _engine_as(role: str, schema: str) -> Engine:
    url = make_url(PG_URL).set(username=role, password=None)
    return make_engine(url.render_as_string(hide_password=False), connect_args={"options": f"-csearch_path={schema}"})


@pytest.fixture
def roles() -> Iterator[Roles]:
    require_postgres()
    tag = uuid.uuid4().hex[:8]
    owner, app, imp, schema = f"rmbot_own_{tag}", f"rmbot_app_{tag}", f"rmbot_imp_{tag}", f"t_roles_{tag}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        for role in (owner, app, imp):
            conn.execute(text(f"CREATE ROLE {role} LOGIN"))
        conn.execute(text(f"CREATE SCHEMA {schema} AUTHORIZATION {owner}"))
    engines: list[Engine] = []
    try:
        owner_engine = _engine_as(owner, schema)
        engines.append(owner_engine)
        upgrade(owner_engine)
        seed_bank(owner_engine, default_policy(), customers=60, seed=7, data_date=DEMO_DATA_DATE)
        with owner_engine.begin() as conn:
            for statement in app_role_grants(app, schema):
                conn.execute(text(statement))
        with admin.begin() as conn:  # granting a parameter and a membership needs the DBA
            for statement in import_role_grants(imp, app):
                conn.execute(text(statement))
        engines += [_engine_as(app, schema), _engine_as(imp, schema)]
        yield Roles(schema, owner_engine, engines[1], engines[2], app)
    finally:
        for engine in engines:
            engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            conn.execute(text(f"REVOKE SET ON PARAMETER session_replication_role FROM {imp}"))
            for role in (imp, app, owner):
                conn.execute(text(f"DROP OWNED BY {role}"))
                conn.execute(text(f"DROP ROLE {role}"))
        admin.dispose()


def _refused(engine: Engine, *statements: str) -> str:
    with pytest.raises(DBAPIError) as caught:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    return str(caught.value.orig)


ATTACKS = [
    ("UPDATE audit_log SET outcome = 'allowed'",),
    ("DELETE FROM audit_log",),
    ("TRUNCATE audit_log",),
    ("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change",),
    ("ALTER TABLE audit_log DISABLE TRIGGER USER",),
    ("DROP TRIGGER audit_log_no_change ON audit_log",),
    ("ALTER TABLE audit_log ALTER COLUMN mac DROP NOT NULL",),
    ("SET session_replication_role = replica",),
    ("SET LOCAL session_replication_role = replica", "DELETE FROM audit_log"),
    ("UPDATE audit_head SET seq = seq + 1",),
    ("DELETE FROM audit_head",),
    ("INSERT INTO audit_head (id, seq, mac) VALUES (2, 0, '')",),
    ("TRUNCATE audit_head",),
    ("DROP TABLE audit_log",),
]


def test_app_role_appends_and_reads_but_cannot_rewrite_the_log(roles: Roles) -> None:
    h = Harness(roles.app)
    assert "贵宾客户" in h.ask("RM001", "/tier C0000001")
    h.ask("RM001", "/tier C0000014")
    for attack in ATTACKS:
        message = _refused(roles.app, *attack)
        assert "permission denied" in message or "must be owner" in message, (attack, message)
    report = verify_chain(roles.app, current_keyring())  # the app role may verify, too
    assert report.ok and report.rows == 2, report.problems


def test_import_role_uses_the_fast_path_and_cannot_touch_the_log(roles: Roles, tmp_path: Path) -> None:
    from bot.imports import KINDS, import_file

    Harness(roles.app).ask("RM001", "/tier C0000001")
    path = tmp_path / "balances.csv"
    path.write_text("customer_id,as_of,aum,deposit,outflow_other_bank\n"
                    "C0000001,2026-11-23,323600.00,123600.00,0.00\nC0000002,2026-11-23,1000.00,0.00,0.00\n",
                    encoding="utf-8")
    for engine in (roles.importer, roles.app):  # the import works for both; only one may skip FK triggers
        result = import_file(engine, KINDS["balances"], path)
        assert result.rejected == 0, result.errors
    with roles.importer.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))  # granted to this role only
    assert "permission denied" in _refused(roles.app, "SET LOCAL session_replication_role = replica")
    for attack in ATTACKS:
        if "session_replication_role = replica" in attack[0] and len(attack) == 1:
            continue
        message = _refused(roles.importer, *attack)
        assert "permission denied" in message or "must be owner" in message or "append-only" in message, (attack, message)
    assert verify_chain(roles.owner, current_keyring()).ok


def test_grants_refuse_odd_identifiers() -> None:
    with pytest.raises(ValueError):
        app_role_grants("app; DROP TABLE audit_log", "public")
    with pytest.raises(ValueError):
        import_role_grants("Import", "app")
