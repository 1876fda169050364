"""The store on both databases: migrations, seed, queries and the command path.

PostgreSQL tests use the real server at 127.0.0.1:5432 (database `test`); in CI they fail,
not skip, when it is unreachable (bot.testing.require_postgres).
"""

from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from bot.store.db import make_engine
from bot.store.migrate import current_revision, upgrade
from bot.store.models import AumMonthly, Balance, Customer, Holding, Staff
from bot.store.seed import SHOWCASES, seed_bank
from bot.testing import DEMO_DATA_DATE, Harness
from rules.policy import default_policy
from rules.tiering import ladder_row

def head_revision() -> str:
    from alembic.script import ScriptDirectory

    from bot.store.migrate import alembic_config

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


TABLES = {"org", "staff", "chat_identity", "customer", "balance", "aum_monthly", "holding",
          "corporate_monthly", "contact", "audit_log", "data_load", "alembic_version", "outbox", "push_destination"}
"""Tables from this project's first two revisions; later ones add their own."""



def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in sorted(TABLES - {"alembic_version"})}


def test_migration_creates_schema_on_sqlite(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    upgrade(engine)
    assert TABLES <= set(inspect(engine).get_table_names())
    assert current_revision(engine) == head_revision()


def test_migration_creates_schema_on_postgres(pg_engine: Engine) -> None:
    assert TABLES <= set(inspect(pg_engine).get_table_names())
    assert current_revision(pg_engine) == head_revision()


def test_seed_is_deterministic_and_identical_on_both_databases(tmp_path: Path, pg_engine: Engine) -> None:
    policy = default_policy()
    lite = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    upgrade(lite)
    seed_bank(lite, policy, customers=300, seed=11, data_date=DEMO_DATA_DATE)
    seed_bank(pg_engine, policy, customers=300, seed=11, data_date=DEMO_DATA_DATE)
    assert _counts(lite) == _counts(pg_engine)
    query = select(Customer.id, Customer.name, Customer.tier, Customer.rm_id).order_by(Customer.id)
    with lite.connect() as a, pg_engine.connect() as b:
        assert a.execute(query).all() == b.execute(query).all()
        total = select(func.sum(Balance.aum_fen))
        assert a.execute(total).scalar_one() == b.execute(total).scalar_one()


def test_seed_shape_long_tail_every_tier_and_consistent_holdings(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'b.db'}")
    upgrade(engine)
    summary = seed_bank(engine, default_policy(), customers=3000, seed=5, data_date=DEMO_DATA_DATE)
    assert summary.customers == 3000 and "C0000001" in summary.examples
    ladder = default_policy().tiers
    with engine.connect() as conn:
        points = [row.aum_fen for row in conn.execute(select(Balance.aum_fen))]
        tiers = {ladder_row(p, ladder).name for p in points}
        assert tiers == {row.name for row in ladder.ladder}
        share_under_5wan = sum(p < 5_000_000 for p in points) / len(points)
        share_over_50wan = sum(p >= 50_000_000 for p in points) / len(points)
        assert share_under_5wan > 0.5 and share_over_50wan < 0.08
        # holdings add up to the point-in-time AUM for every individual customer
        mismatched = conn.execute(text(
            "SELECT count(*) FROM balance b JOIN (SELECT customer_id, sum(amount_fen) s FROM holding GROUP BY customer_id) h "
            "ON h.customer_id = b.customer_id WHERE h.s <> b.aum_fen")).scalar_one()
        assert mismatched == 0
        assert conn.execute(select(func.count()).select_from(AumMonthly)).scalar_one() == 7 * len(points)
        soon = conn.execute(select(func.count()).select_from(Holding).where(
            Holding.maturity_date.between(DEMO_DATA_DATE, DEMO_DATA_DATE.replace(day=27)))).scalar_one()
        assert soon > 10
        kinds = {r[0] for r in conn.execute(select(Customer.kind).distinct())}
        assert kinds == {"individual", "corporate"}
        roles = {r[0] for r in conn.execute(select(Staff.role).distinct())}
        assert roles == {"rm", "branch_manager", "regional_manager"}


def test_seed_is_all_or_nothing(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    upgrade(engine)
    with pytest.raises(RuntimeError):
        def boom(_n: int) -> None:
            raise RuntimeError("interrupted")
        seed_bank(engine, default_policy(), customers=50_000, seed=1, data_date=DEMO_DATA_DATE, progress=boom)
    assert all(n == 0 for n in _counts(engine).values())


def test_tier_on_postgres_matches_sqlite(rmbot: Harness, rmbot_pg: Harness) -> None:
    for cid in [f"C{n:07d}" for n in range(1, len(SHOWCASES) + 1)]:
        assert rmbot.ask("REG01", f"/tier {cid}").text == rmbot_pg.ask("REG01", f"/tier {cid}").text


def test_audit_append_only_on_postgres(rmbot_pg: Harness) -> None:
    rmbot_pg.ask("RM001", "/tier C0000001")
    with pytest.raises(DBAPIError, match="append-only"):
        with rmbot_pg.engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_log"))


def test_unmigrated_database_gets_a_hint(tmp_path: Path) -> None:
    h = Harness(make_engine(f"sqlite:///{tmp_path / 'empty.db'}"))
    answer = h.ask("RM001", "/tier C0000001")
    assert answer.reply.kind == "error" and "rmbot db upgrade" in answer and "rmbot seed" in answer


def test_migrated_but_empty_database_gets_a_hint(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'e.db'}")
    upgrade(engine)
    assert "rmbot seed" in Harness(engine).ask("RM001", "/whoami")


def test_unreachable_database_answers_temporarily_unavailable() -> None:
    h = Harness(make_engine("postgresql://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 1}))
    answer = h.ask("RM001", "/tier C0000001")
    assert answer.reply.kind == "error" and "暂时不可用" in answer


def test_every_migration_goes_down_and_up_again(tmp_path: Path, pg_engine: Engine) -> None:
    from alembic import command

    from bot.store.migrate import alembic_config

    for engine in (make_engine(f"sqlite:///{tmp_path / 'm.db'}"), pg_engine):
        upgrade(engine)
        cfg = alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
        assert not ({"customer", "audit_log", "outbox"} & set(inspect(engine).get_table_names()))
        upgrade(engine)
        assert current_revision(engine) == head_revision()


def test_outdated_schema_gets_an_upgrade_hint(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0002")
    answer = Harness(engine).ask("RM001", "/whoami")
    assert answer.reply.kind == "error" and "rmbot db upgrade" in answer
