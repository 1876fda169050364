"""PostgreSQL role split (docs/SECURITY.md): who may change the schema, who runs the bot, who imports.

Why: the audit log's triggers stop honest mistakes, but the role that owns a table can disable
them, TRUNCATE it or switch `session_replication_role`. So the schema belongs to an *owner* role
used only for `rmbot db upgrade`; the bot runs as an *app* role that may only INSERT and SELECT
the audit log (no UPDATE, DELETE, TRUNCATE, ALTER, no trigger or replication switches); the
nightly import may run as an *import* role: the app role's rights plus the right to set
`session_replication_role` for its fast path (which cannot skip the audit triggers: they fire
ALWAYS, migration 0008). `rmbot db grants` prints these statements; tests apply them to a real
server, so the documented grants are the tested ones.
"""

from __future__ import annotations

import re

_IDENT = re.compile(r"^[a-z_][a-z0-9_$]{0,62}$")

AUDIT_TABLES = ("audit_log", "audit_head")


def _ident(name: str) -> str:
    """Role and schema names are written into SQL: only plain lower-case identifiers are accepted."""
    if not _IDENT.match(name):
        raise ValueError(f"角色或模式名只能是小写字母、数字和下划线：{name!r} (plain lower-case identifiers only)")
    return name


def app_role_grants(app_role: str, schema: str = "public") -> list[str]:
    """Run as the owner after every `rmbot db upgrade` (new tables need their grants too)."""
    app, s = _ident(app_role), _ident(schema)
    return [
        f"GRANT USAGE ON SCHEMA {s} TO {app}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {app}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {app}",
        # The audit log: append and read only. The head is advanced by the insert trigger alone.
        f"REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {s}.audit_log FROM {app}",
        f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {s}.audit_head FROM {app}",
        f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {s}.alembic_version FROM {app}",
        f"REVOKE EXECUTE ON FUNCTION {s}.audit_chain_head() FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION {s}.audit_chain_head() TO {app}",
    ]


def import_role_grants(import_role: str, app_role: str) -> list[str]:
    """The import role: everything the app role may do, and the import's fast path (PostgreSQL 15+)."""
    imp, app = _ident(import_role), _ident(app_role)
    return [
        f"GRANT {app} TO {imp}",
        f"GRANT SET ON PARAMETER session_replication_role TO {imp}",
    ]
