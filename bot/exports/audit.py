"""Every disclosure of customer data in a file or a stream is audited before the data leaves.

`audited_export` is the only way an export reads its rows: it opens a read transaction on one
snapshot of the database (PostgreSQL REPEATABLE READ; SQLite a read transaction under WAL),
reads from it exactly which customers the export will contain, writes the audit row — who, what,
where to, which columns, every customer — and commits it in a transaction of its own, and only
then hands the caller the snapshot to stream the rows from. So the set in the audit is the set
written (the same snapshot), and an export cut short (`… --out - | head`, a full disk, Ctrl-C)
has already been logged; a second row with outcome `error` says it ended early.

The customer list is stored in full, however long, as comma-joined customer numbers at the end
of `detail` (an unbounded text column since migration 0008): about 9 bytes per customer, e.g.
≈ 9 MB for a whole-bank export of a million customers — an export of everything is rare and
should be visible as exactly that. Ids are listed once each, in the export's order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import Select
from sqlalchemy.engine import Connection, Engine

from bot.store.actors import Actor, audit_entry
from bot.store.models import AuditLog

__all__ = ["Actor", "audit_entry", "audited_export", "customer_list", "disclosure_detail", "record"]


def customer_list(ids: Sequence[str]) -> str:
    """`N customers: C1,C2,…` — the one spelling of "exactly which customers" in the audit log."""
    return f"{len(ids)} customers: " + ",".join(ids)


def disclosure_detail(where: str, columns: Sequence[str], ids: Sequence[str] | None) -> str:
    head = f"to={where}; columns={','.join(columns)}; "
    return head + ("no customer data" if ids is None else customer_list(ids))


def record(engine: Engine, entries: Iterable[AuditLog]) -> None:
    """Write and commit audit rows in a transaction of their own."""
    from bot.core.access import write_audit_now

    write_audit_now(engine, list(entries))


def _snapshot(conn: Connection) -> None:
    """Start one read snapshot for everything the export reads."""
    if conn.dialect.name == "postgresql":
        conn.execution_options(isolation_level="REPEATABLE READ")
    elif conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN")  # pysqlite opens no transaction for reads on its own


@contextmanager
def audited_export(engine: Engine, actor: Actor, *, action: str, target: str, where: str,
                   columns: Sequence[str], customers: Select | None) -> Iterator[Connection]:
    """Audit the export, then yield the connection (on the audited snapshot) to read its rows from.

    `customers` selects the customer numbers the export will write, in its order (None: the
    export holds no customer data, e.g. the org tree); duplicates are listed once."""
    with engine.connect() as conn:
        _snapshot(conn)
        ids: list[str] | None = None
        if customers is not None:
            ids = list(dict.fromkeys(conn.execute(customers).scalars()))
        record(engine, [audit_entry(actor, action=action, target=target, outcome="allowed",
                                    detail=disclosure_detail(where, columns, ids))])
        try:
            yield conn
        except BaseException as exc:
            record(engine, [audit_entry(actor, action=action, target=target, outcome="error",
                                        detail=f"to={where}; ended early: {exc.__class__.__name__}")])
            raise
        finally:
            conn.rollback()
