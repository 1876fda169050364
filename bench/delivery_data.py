"""The delivery benchmark's outbox: a day's real push messages for 2,000 branch channels.

The 1,000,000-customer bench bank has 55 支行 (145 messages each on the bench Monday), so its
own destinations cannot show 2,000 channels. Re-seeding a bank with 2,000 branches would take
minutes and a seed option the generator does not have. Instead the bank's real push lists
(到期承接, 流失预警, 降级风险 for Monday 2026-11-23, 94,615 items) are dealt to 2,000 branches by
RM — its 2,500 RMs in branch order, one or two consecutive RMs per new branch, as a bank of that
many small branches would have them — and each branch's messages are made by our own builder
(`PushService`'s list → `branch_push` → per-RM sections → parts of 12 items, keys as
`_enqueue` makes them). That gives 10,954 messages: 3 to 10 per channel, most 4–5.

The lists are read once from the PostgreSQL bank (in seconds; on the SQLite bank the maturing
list's "not handled yet" check is planned as a scan of `contact` per holding and does not
finish) and written, through `PushService._enqueue` with the renderers `rmbot push run` uses
(Slack's: rows are stored rendered), into a database of the bench's own
(`bench/.data/delivery-2000.db`, PostgreSQL schema `bench_delivery_2000`) holding the 2,000
branch orgs and the outbox. Built once; each run puts every row back to `pending` (and its
rendered message, which delivery drops once sent, back from `bench_rendered`).
RMBOT_BENCH_CHANNELS changes the number of branches.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime, time as dtime
from itertools import groupby
from typing import Any
from unittest import mock

from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bench.common import DATA, PG_URL, postgres_bank
from bot.calendar_data import load_calendar
from bot.clock import SHANGHAI
from bot.push import messages as msg
from bot.push import service as service_module
from bot.push.service import PushService, Renderer
from bot.store.bulk import bulk_insert
from bot.store.customers import latest_data_date
from bot.store.db import has_schema, make_engine
from bot.store.migrate import head_revision, upgrade
from bot.store.models import DataLoad, Outbox, Staff
from rules.policy import default_policy

BRANCHES = int(os.environ.get("RMBOT_BENCH_CHANNELS", "2000"))
PUSH_DAY = date(2026, 11, 23)
LIST_KINDS = ("maturing", "churn", "downgrade")
PLATFORM = "slack"


def branch_id(n: int) -> str:
    return f"DB{n:04d}"


def channel_id(branch: str) -> str:
    return f"C{branch}"


def _marker(platforms: Iterable[str]) -> str:
    """What the database was built with: rebuilt when the schema or the rendering changes."""
    return f"delivery bench: {BRANCHES} branches, schema {head_revision()}, rendered for {sorted(platforms)}"


def sqlite_engine() -> Engine:
    DATA.mkdir(exist_ok=True)
    return make_engine(f"sqlite:///{DATA / f'delivery-{BRANCHES}.db'}")


def postgres_engine() -> Engine:
    schema = f"bench_delivery_{BRANCHES}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
    admin.dispose()
    return make_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})


def engine_for(which: str) -> Engine:
    return sqlite_engine() if which == "sqlite" else postgres_engine()


def is_built(engine: Engine, platforms: Iterable[str]) -> bool:
    """Built, by this schema, with build-time rendering for these platforms."""
    if not has_schema(engine):
        return False
    upgrade(engine)
    with engine.connect() as conn:
        source = conn.execute(select(DataLoad.source).where(DataLoad.kind == "seed")).scalar_one_or_none()
    return source == _marker(platforms)


def _wipe(engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        engine.dispose()
        path = str(engine.url.database)
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.unlink(path + suffix)
    else:
        schema = f"bench_delivery_{BRANCHES}"
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        engine.dispose()


def _rm_branches(bank: Engine) -> dict[str, tuple[str, str]]:
    """RM id → (branch id, branch name): the bank's RMs in branch order, cut into BRANCHES runs."""
    with Session(bank) as s:
        rms = s.execute(select(Staff.id).where(Staff.role == "rm").order_by(Staff.org_id, Staff.id)).scalars().all()
    return {rm: (branch_id(i * BRANCHES // len(rms) + 1), f"第{i * BRANCHES // len(rms) + 1}支行")
            for i, rm in enumerate(rms)}


def _regroup(mapping: Mapping[str, tuple[str, str]]) -> Callable[[Iterable[Any]], Iterator[tuple[Any, list[Any]]]]:
    """Stands in for `service._by_branch`: the same rows, grouped by the RM's new branch. The
    rows come ordered by branch and RM, and each new branch is a run of consecutive RMs, so each
    branch is still one contiguous group (checked)."""

    def by_branch(rows: Iterable[Any]) -> Iterator[tuple[Any, list[Any]]]:
        seen: set[tuple[str, str]] = set()
        for key, group in groupby(rows, key=lambda r: mapping[r.rm_id]):
            if key in seen:
                raise RuntimeError(f"branch {key[0]} is not contiguous in the list order")
            seen.add(key)
            yield key, list(group)

    return by_branch


def pushes() -> Iterator[msg.BranchPush]:
    """Every push of the bench Monday, for the 2,000 regrouped branches, from the PostgreSQL bank."""
    bank = postgres_bank().engine
    mapping = _rm_branches(bank)
    service = PushService(bank, default_policy(), load_calendar())
    with Session(bank) as session, mock.patch.object(service_module, "_by_branch", _regroup(mapping)):
        data_date = latest_data_date(session)
        for kind in LIST_KINDS:
            yield from service._branch_pushes(session, kind, PUSH_DAY, data_date, None)
    bank.dispose()


def build(names: Iterable[str], renderers_for: Callable[[Engine], Mapping[str, Renderer]]) -> dict[str, float]:
    """(Re)build the named databases ("sqlite", "postgres"), rendering with `renderers_for(engine)`
    as `rmbot push run` would; returns the seconds spent enqueueing (rendering included) in each."""
    now = datetime.combine(PUSH_DAY, dtime(8, 30), SHANGHAI)
    services = {}
    for name in names:
        _wipe(engine_for(name))
        engine = engine_for(name)
        upgrade(engine)
        orgs = [("BR01", "示范银行杭州分行", "branch", None, "/BR01/")]
        orgs += [(branch_id(n), f"第{n}支行", "sub_branch", "BR01", f"/BR01/{branch_id(n)}/")
                 for n in range(1, BRANCHES + 1)]
        with engine.begin() as conn:
            bulk_insert(conn, "org", ["id", "name", "level", "parent_id", "path"], orgs)
        services[name] = PushService(engine, default_policy(), load_calendar(), renderers=renderers_for(engine))
    spent = dict.fromkeys(services, 0.0)
    for push in pushes():
        for name, service in services.items():
            start = time.perf_counter()
            service._enqueue(push, PUSH_DAY, [(PLATFORM, channel_id(push.branch_id))], False, now)
            spent[name] += time.perf_counter() - start
    for service in services.values():
        with service.engine.begin() as conn:
            conn.execute(DataLoad.__table__.insert().values(  # type: ignore[attr-defined]
                kind="seed", data_date=PUSH_DAY, loaded_at=now, source=_marker(service.renderers), rows=0))
            # delivery drops `rendered` once a row is sent: keep a copy for the next run's reset
            conn.execute(text("CREATE TABLE bench_rendered AS SELECT id, rendered FROM outbox"))
            conn.execute(text("ANALYZE"))
        service.engine.dispose()
    return spent


def reset(engine: Engine, now: datetime) -> None:
    """Every row back to a fresh `pending`, as the 08:30 build leaves them."""
    with engine.begin() as conn:
        conn.execute(update(Outbox).values(status="pending", attempts=0, claimed_by=None, lease_until=None,
                                           sent_at=None, message_id=None, last_error=None, next_attempt_at=now,
                                           created_at=now))
        conn.execute(text("UPDATE outbox SET rendered = (SELECT b.rendered FROM bench_rendered b WHERE b.id = outbox.id)"))
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    else:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE outbox"))


def per_channel(engine: Engine) -> dict[str, list[str]]:
    """Channel → its keys in outbox order (the order they must arrive in)."""
    out: dict[str, list[str]] = {}
    with engine.connect() as conn:
        for target, key in conn.execute(select(Outbox.target, Outbox.key).order_by(Outbox.id)):
            out.setdefault(target, []).append(key)
    return out


def unsent(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Outbox).where(Outbox.status != "sent")).scalar_one())
