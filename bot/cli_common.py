"""What every `rmbot` sub-command needs before it touches the store: a ready engine or a clear exit.

One place, so every command answers a bad URL, an unreachable database or an empty one with the
same short Chinese/English message and exit code 2, never a traceback."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from bot.config import get_settings
from bot.store.db import has_schema, make_engine

err = Console(stderr=True, soft_wrap=True, highlight=False)

NOT_SET_UP = ("数据库尚未初始化：请先运行 rmbot db upgrade（演示库：rmbot seed）。"
              "The database is not set up: run `rmbot db upgrade` (demo: `rmbot seed`).")


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"错误 Error: {message}", markup=False, highlight=False)
    raise typer.Exit(code)


def ready_engine(create: bool = False) -> Engine:
    """The store, migrated. `create`: a database without any table (a fresh file, an empty
    schema) gets the schema first, as `rmbot seed` does; a database with other tables is never
    touched."""
    try:
        engine = make_engine(get_settings().database_url)
        ready = has_schema(engine)
        if not ready and create and not inspect(engine).get_table_names():
            from bot.store.migrate import upgrade

            upgrade(engine)
            ready = has_schema(engine)
    except OperationalError as exc:
        fail(f"数据库不可用 Database unreachable: {exc.orig}")
    except Exception as exc:  # noqa: BLE001  (bad URL, missing driver)
        fail(f"无法使用 DATABASE_URL：{exc}")
    if not ready:
        fail(NOT_SET_UP)
    return engine
