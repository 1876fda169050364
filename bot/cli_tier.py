"""`rmbot tier run`: the daily 快升缓降 run by hand (the push build runs it by itself, bot/push/service.py).

An operator reruns a day after a late or corrected load; a rerun of the same date records no
change twice (tier_history is keyed by date and customer).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, NoReturn, Optional

import typer
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from bot.config import get_settings, load_policy
from bot.store.customers import latest_data_date
from bot.store.db import has_schema, make_engine
from bot.store.tier_run import TierRunOrderError, run_tiers

tier_app = typer.Typer(help="每日定级（快升缓降）Daily tier run.", no_args_is_help=True)


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"错误 Error: {message}", err=True)
    raise typer.Exit(code)


@tier_app.command("run")
def run(
    date_: Annotated[Optional[str], typer.Option("--date", help="定级日 YYYY-MM-DD（默认最新数据日期）")] = None,
) -> None:
    """Apply the policy's 快升缓降 to every individual customer as of the date; print the counts."""
    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        if not has_schema(engine):
            _fail("数据库尚未初始化：请先运行 rmbot db upgrade && rmbot import。Run `rmbot db upgrade` first.")
    except OperationalError as exc:
        _fail(f"数据库不可用 Database unreachable: {exc.orig}")
    policy = load_policy(settings)
    with Session(engine) as session:
        if date_ is None:
            day = latest_data_date(session)
            if day is None:
                _fail("尚无数据：请先运行 rmbot import。No data loaded yet.")
        else:
            try:
                day = date.fromisoformat(date_.strip())
            except ValueError:
                _fail(f"日期须为 YYYY-MM-DD date must be YYYY-MM-DD: {date_!r}\n用法 Usage: rmbot tier run --date 2026-12-01")
        try:
            result = run_tiers(session, policy.tiers, day)
        except TierRunOrderError as exc:
            _fail(f"{exc}。Tiers were already run for a later date.")
        session.commit()
    typer.echo(f"{day} 定级完成：新定级 {result.new} 户，升档 {result.upgrades} 户，降档 {result.downgrades} 户"
               f"（快升缓降：连续 {policy.tiers.downgrade_months} 个月低于标准才降档）\n"
               f"Tier run done: {result.new} new, {result.upgrades} up, {result.downgrades} down.")
