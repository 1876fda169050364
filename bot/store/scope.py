"""Which orgs lie under which: the one scope primitive, in SQL and in Python.

An org's materialised path is "/BR01/SB01/" (bot/imports/org_tree.py), so "org X is under org
P" is "X's path starts with P's path". That test must be exact. SQLAlchemy's `startswith` is
`LIKE :p || '%'`, where `_` and `%` in an org code are wildcards (`/BR01/SB_1/%` matches
`/BR01/SB01/`) and SQLite's LIKE ignores case: a 支行 named SB_1 saw SB01's customers. Here the
test is a plain string comparison, `substr(path, 1, len(prefix)) = prefix`, which is exact,
case-sensitive and wildcard-free on SQLite (BINARY collation) and PostgreSQL (deterministic
collations) alike; both count characters, not bytes, as Python's `len` does.

The org table is small (a bank has hundreds to a few thousand orgs), so scanning its paths is
cheap; large tables are reached from the matching org ids (`org_ids_under`), which keeps the
planner on `customer.org_id`.

Every scope check goes through `under` (SQL) or `is_under` (Python): nothing else compares
paths, so no new query can get scope wrong by hand. tests/security/ check both against the org
tree with hostile codes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, func, literal, select

from bot.store.models import Org


def _checked(prefix: str) -> str:
    """A scope is always a whole path: "/BR01/" and never "/BR0", which would also take /BR01X/."""
    if not (isinstance(prefix, str) and prefix.startswith("/") and prefix.endswith("/")):
        raise ValueError(f"not an org path: {prefix!r}")
    return prefix


def is_under(path: str, prefix: str) -> bool:
    """True if the org at `path` is the org at `prefix` or below it (exact, case-sensitive)."""
    return path.startswith(_checked(prefix))


def under(column: Any, prefix: str) -> ColumnElement[bool]:
    """SQL: the org path in `column` is `prefix` or below it. The prefix is a bound parameter
    (never spliced into the statement), compared as a whole string, so no character is special."""
    prefix = _checked(prefix)
    return func.substr(column, 1, len(prefix)) == literal(prefix)


def org_ids_under(prefix: str) -> Select[tuple[str]]:
    """The ids of the orgs at or below `prefix`: the start of every scoped list."""
    return select(Org.id).where(under(Org.path, prefix))
