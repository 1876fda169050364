"""The `rmbot` command (typer): set up the store, seed the demo bank, chat, serve, administer."""

from __future__ import annotations

import logging
import os
import sys
from datetime import date
from typing import Annotated, Optional

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from bot.cli_calendar import calendar_app
from bot.cli_audit import audit_app, require_serving_key
from bot.cli_campaign import campaign_app, lint_cmd
from bot.cli_import import export_cmd, import_cmd
from bot.cli_push import push_app
from bot.cli_tier import tier_app
from bot.cli_staff import register as register_staff_bulk
from bot.config import Settings, get_settings, load_policy
from bot.logs import setup_logging
from bot.store.db import has_schema, make_engine, session_scope

app = typer.Typer(help="客户经理助手 rmbot — chat-ops assistant for bank relationship managers.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
db_app = typer.Typer(help="数据库结构（Alembic 迁移）Database schema.", no_args_is_help=True)
staff_app = typer.Typer(help="员工与聊天账号关联 Staff and chat identities.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(staff_app, name="staff")
register_staff_bulk(staff_app)  # staff sync slack, staff status (bot/cli_staff.py)
app.add_typer(calendar_app, name="calendar", help="中国工作日日历（法定节假日与调休）Chinese working days.")
app.add_typer(push_app, name="push")
app.add_typer(tier_app, name="tier")
app.add_typer(campaign_app, name="campaign")
app.add_typer(audit_app, name="audit")
app.command("import", help="导入行内数据文件（CSV/XLSX，UTF-8/GBK）Import bank extracts; see docs/IMPORT.md.")(import_cmd)
app.command("export", help="导出为导入所用格式 Export in the import formats (round-trips).")(export_cmd)
app.command("lint", help="检查营销文案是否合规（UTF-8/GBK）Lint marketing copy: exit 1 on blocking findings, 2 if unreadable.")(lint_cmd)
err = Console(stderr=True)
out = Console()


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        out.print(f"rmbot {version('rmbot')}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="显示版本 Show the version and exit.")] = False) -> None:
    """客户经理助手 rmbot — chat-ops assistant for bank relationship managers."""
    _logging()


def fail(message: str, code: int = 2) -> None:
    err.print(f"[red]错误 Error:[/red] {message}")
    raise typer.Exit(code)


def _logging() -> None:
    """Every command, whatever module it lives in, logs through the one setup (bot/logs.py)."""
    try:
        settings = get_settings()
    except ValidationError:  # the command itself names the bad setting (see main)
        setup_logging()
        return
    setup_logging(settings)


def _settings() -> Settings:
    settings = get_settings()
    setup_logging(settings)
    return settings


def _engine(settings: Settings, interactive: bool = False):  # noqa: ANN202
    """`interactive`: a chat user waits for it (ask, chat), so every statement is bounded."""
    try:
        return make_engine(settings.database_url, timeouts=settings.db_timeouts(interactive))
    except Exception as exc:  # noqa: BLE001  (bad URL, missing driver)
        fail(f"无法使用 DATABASE_URL：{exc}")


def _policy(settings: Settings):  # noqa: ANN202
    try:
        return load_policy(settings)
    except Exception as exc:  # noqa: BLE001  (bad override file)
        fail(f"策略文件无效 Invalid policy file {settings.policy_file}: {exc}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the newest version."""
    from bot.store.migrate import current_revision, upgrade

    engine = _engine(_settings())
    try:
        upgrade(engine)
    except OperationalError as exc:
        fail(f"数据库不可用 Database unreachable: {exc.orig}")
    out.print(f"数据库已是最新结构 Schema at revision {current_revision(engine)}")


@db_app.command("current")
def db_current() -> None:
    """Show the schema revision."""
    from bot.store.migrate import current_revision

    out.print(current_revision(_engine(_settings())) or "（未初始化 not initialised）")


@db_app.command("grants")
def db_grants(
    app_role: Annotated[str, typer.Option(help="运行机器人的角色 the role the bot runs as")] = "rmbot_app",
    import_role: Annotated[Optional[str], typer.Option(help="夜间导入的角色 the nightly import's role")] = None,
    schema: Annotated[str, typer.Option(help="模式 schema")] = "public",
) -> None:
    """Print the PostgreSQL grants of the role split (docs/SECURITY.md); run them as the owner."""
    from bot.store.roles import app_role_grants, import_role_grants

    try:
        statements = app_role_grants(app_role, schema)
        if import_role:
            statements += ["-- as a superuser:"] + import_role_grants(import_role, app_role)
    except ValueError as exc:
        fail(str(exc))
    for statement in statements:
        sys.stdout.write(statement + ("\n" if statement.startswith("--") else ";\n"))


@app.command()
def seed(
    customers: Annotated[int, typer.Option(min=20, max=5_000_000, help="客户数 number of customers")] = 2000,
    seed: Annotated[int, typer.Option(help="随机种子 random seed (same seed → same bank)")] = 42,
    data_date: Annotated[Optional[str], typer.Option(help="数据日期 YYYY-MM-DD (default: yesterday)")] = None,
    reset: Annotated[bool, typer.Option(help="清空后重建 drop all data first")] = False,
    if_empty: Annotated[bool, typer.Option(help="已有数据则跳过 skip if data exists")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="确认 --reset 删除审计日志 confirm that --reset deletes the audit log")] = False,
) -> None:
    """Build the deterministic synthetic demo bank (scales to 1,000,000 customers)."""
    from bot.store.migrate import alembic_config, upgrade
    from bot.store.models import Customer
    from bot.store.seed import seed_bank

    settings = _settings()
    engine = _engine(settings)
    policy = _policy(settings)
    parsed_date: date | None = None
    if data_date:
        try:
            parsed_date = date.fromisoformat(data_date)
        except ValueError:
            fail(f"日期格式应为 YYYY-MM-DD：{data_date}")
    try:
        if reset and has_schema(engine):
            from alembic import command

            with engine.connect() as conn:
                audited = conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
            if audited and not yes:
                fail(f"数据库中有 {audited} 条审计日志，--reset 会将其全部删除；确认请加 --yes（建议先备份）。"
                     f"The database holds {audited} audit log rows that --reset would delete: add --yes to confirm.")

            cfg = alembic_config()
            with engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.downgrade(cfg, "base")
        upgrade(engine)
        with session_scope(engine) as s:
            existing = s.execute(select(Customer.id).limit(1)).first()
    except OperationalError as exc:
        fail(f"数据库不可用 Database unreachable: {exc.orig}")
    if existing:
        if if_empty:
            out.print("数据库已有数据，跳过生成。Data present, seed skipped.")
            return
        fail("数据库已有数据；使用 --reset 重建。The database has data; use --reset to rebuild it.")
    with Progress(TextColumn("生成示范银行 seeding"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True) as bar:
        task = bar.add_task("seed", total=customers)
        summary = seed_bank(engine, policy, customers=customers, seed=seed, data_date=parsed_date,
                            progress=lambda n: bar.advance(task, n),
                            outbox_dir=str(settings.push_outbox_dir.resolve()))
    out.print(f"已生成 {summary.customers} 位客户、{summary.staff} 名员工、{summary.sub_branches} 个支行，"
              f"共 {summary.rows} 行；数据日期 {summary.data_date}。")
    out.print("可以试试 Try these:")
    for key, desc in summary.examples.items():
        out.print(f"  {key:10s} {desc}")
    out.print("例 e.g.  rmbot ask --as RM001 \"/tier C0000001\"")


@app.command()
def ask(
    text: Annotated[str, typer.Argument(help="命令文本 command text, e.g. \"/tier C0000001\"")],
    as_: Annotated[str, typer.Option("--as", help="员工号 staff id")],
    channel: Annotated[str, typer.Option(help="dm | group（群聊脱敏 masked）")] = "dm",
    json_: Annotated[bool, typer.Option("--json", help="输出中性回复 JSON")] = False,
) -> None:
    """Run one command exactly as a chat adapter would."""
    from bot.adapters.console import as_json, ask as run, image_lines
    from bot.core.app import Rmbot
    from bot.render.text import render_text

    if channel not in ("dm", "group"):
        fail("--channel 只能是 dm 或 group")
    settings = _settings()
    bot = Rmbot(_engine(settings, interactive=True), _policy(settings))
    reply = run(bot, as_, text, channel)  # type: ignore[arg-type]
    templates = str(settings.templates_dir) if settings.templates_dir else None
    sys.stdout.write(as_json(reply) + "\n" if json_ else render_text(reply, templates) + image_lines(reply))
    if reply.kind == "error":
        raise typer.Exit(1)


@app.command()
def chat(
    as_: Annotated[str, typer.Option("--as", help="员工号 staff id")],
    channel: Annotated[str, typer.Option(help="dm | group")] = "dm",
) -> None:
    """Interactive console chat (the demo)."""
    from bot.adapters.console import repl
    from bot.core.app import Rmbot

    if channel not in ("dm", "group"):
        fail("--channel 只能是 dm 或 group")
    settings = _settings()
    bot = Rmbot(_engine(settings, interactive=True), _policy(settings))
    templates = str(settings.templates_dir) if settings.templates_dir else None
    repl(bot, as_, channel, input, lambda s: (sys.stdout.write(s), sys.stdout.flush()), templates)  # type: ignore[arg-type]


@staff_app.command("link")
def staff_link(
    platform: Annotated[str, typer.Argument(help="slack | wecom")],
    external_id: Annotated[str, typer.Argument(help="Slack user id (U…) or WeCom userid")],
    staff_id: Annotated[str, typer.Argument(help="员工号 staff id")],
) -> None:
    """Link a chat account to a staff member (re-linking moves it)."""
    from bot.store.staff import link_identity

    engine = _engine(_settings())
    if not has_schema(engine):
        fail("数据库尚未初始化：请先运行 rmbot db upgrade")
    try:
        with session_scope(engine) as s:
            stored = link_identity(s, platform, external_id, staff_id.upper()).external_id
    except (ValueError, LookupError) as exc:
        fail(str(exc))
    out.print(f"已关联 Linked: {platform}:{stored} → {staff_id.upper()}", markup=False, highlight=False)


@staff_app.command("unlink")
def staff_unlink(platform: str, external_id: str) -> None:
    """Remove a chat account's link."""
    from bot.store.staff import unlink_identity

    try:
        with session_scope(_engine(_settings())) as s:
            if not unlink_identity(s, platform, external_id):
                fail(f"没有该关联 No such link: {platform}:{external_id}", 1)
    except ValueError as exc:  # several spellings of one WeCom account
        fail(str(exc))
    out.print("已解除关联 Unlinked")


@app.command()
def serve(
    platform: Annotated[Optional[str], typer.Argument(help="slack | wecom (default: every configured one)")] = None,
    socket_mode: Annotated[bool, typer.Option("--socket-mode", help="Slack Socket Mode (no public URL)")] = False,
    scheduler: Annotated[bool, typer.Option(help="运行每日推送定时任务 run the push scheduler")] = True,
    workers: Annotated[int, typer.Option(min=1, max=64, help="HTTP 工作进程数（通常等于 CPU 核数）"
                                                            " HTTP worker processes (usually one per core)")] = 1,
) -> None:
    """Serve the configured chat platforms: one store, one scheduler, 1..N HTTP processes.
    SIGTERM stops gracefully within RMBOT_SHUTDOWN_TIMEOUT and exits 0."""
    import threading

    from bot.metrics import prepare_multiprocess

    prepare_multiprocess()  # before any sample: this run's workers share one samples directory
    from bot.core.app import Rmbot
    from bot.server import PLATFORMS_ENV, build_app, run, serving_engine
    from bot.startup import check, mentioned

    settings = _settings()
    platforms = [platform] if platform else mentioned(settings)
    if not platforms:
        fail("没有配置任何聊天平台：请在 .env 中设置 Slack 或企业微信变量（见 .env.example）。No platform configured.")
    problems = check(settings, platforms, socket_mode=socket_mode)
    if problems:
        fail("配置不完整或无效 Settings missing or invalid（见 .env.example）：\n  " + "\n  ".join(problems))
    try:
        engine = serving_engine(settings)
    except Exception as exc:  # noqa: BLE001  (bad URL, missing driver)
        fail(f"无法使用 DATABASE_URL：{exc}")
    if not has_schema(engine):
        fail("数据库尚未初始化：请先运行 rmbot db upgrade && rmbot seed（或 rmbot import）")
    require_serving_key(engine)  # the audit chain's key (docs/SECURITY.md §4)
    bot = Rmbot(engine, _policy(settings))
    push = _start_scheduler(_engine(settings), settings) if scheduler else None
    from bot.core.dedupe import StoreDeduper

    deduper = StoreDeduper(engine)  # retries landing on another replica are still processed once
    http_platforms = list(platforms)
    socket_handler = None
    stop_connecting = threading.Event()
    if "slack" in platforms and socket_mode:
        from bot.adapters.slack import build_app as slack_app
        from bot.adapters.slack.socket_mode import connect_with_backoff, socket_mode_handler

        socket_handler = socket_mode_handler(bot, settings, slack_app(bot, settings, deduper=deduper))
        connect_with_backoff(socket_handler, stop_connecting)  # its own threads
        http_platforms.remove("slack")
    try:
        if workers == 1:
            run(build_app(bot, settings, http_platforms, deduper=deduper), host=settings.host, port=settings.port,
                shutdown_timeout=settings.shutdown_timeout)
        else:
            os.environ[PLATFORMS_ENV] = ",".join(http_platforms)  # read by bot.server.create_app in each worker
            run("bot.server:create_app", host=settings.host, port=settings.port, workers=workers,
                shutdown_timeout=settings.shutdown_timeout)
    finally:
        stop_connecting.set()
        if socket_handler is not None:
            socket_handler.close()
        finished = True
        if push is not None:
            from bot.push.scheduler import shutdown

            finished = shutdown(*push, timeout=settings.shutdown_timeout)
    logging.getLogger("rmbot.server").info("rmbot serve stopped")
    if not finished:
        os._exit(0)  # a job still running past the bound: its rows stay in the outbox for the next start


def _start_scheduler(engine, settings: Settings):  # noqa: ANN001, ANN202
    """The push scheduler on a batch engine (builds run long statements); (scheduler, worker)."""
    from bot.push.scheduler import build_scheduler
    from bot.push.wiring import delivery_worker, push_service

    worker = delivery_worker(engine, settings)
    try:
        sched = build_scheduler(push_service(engine, _policy(settings), settings), worker, settings.push_times())
    except ValueError as exc:
        fail(f"推送配置无效 Invalid push settings: {exc}")
    sched.start()
    for job in sched.get_jobs():
        logging.getLogger("rmbot.push").info("scheduled %s next at %s", job.id, job.next_run_time)
    return sched, worker


@app.command()
def scheduler() -> None:
    """Run only the push scheduler and delivery (no chat endpoints), until SIGTERM or Ctrl-C:
    then it stops gracefully (within RMBOT_SHUTDOWN_TIMEOUT) and exits 0."""
    import signal
    import threading

    from bot.push.scheduler import shutdown

    settings = _settings()
    engine = _engine(settings)
    if not has_schema(engine):
        fail("数据库尚未初始化：请先运行 rmbot db upgrade && rmbot seed（或 rmbot import）")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    push = _start_scheduler(engine, settings)
    out.print("推送定时任务已启动（Ctrl-C 退出）。Push scheduler running.")
    while not stop.wait(3600):
        pass
    logging.getLogger("rmbot.push").info("stopping the push scheduler (up to %.0f s)", settings.shutdown_timeout)
    finished = shutdown(*push, timeout=settings.shutdown_timeout)
    out.print("推送定时任务已停止。Push scheduler stopped.")
    if not finished:
        os._exit(0)  # a build still running: it rolls back; the next start catches the day up


def main() -> None:
    """Any command: a database that is unreachable or not set up is a message, not a traceback."""
    try:
        app()
    except ValidationError as exc:  # a setting in the environment or .env that does not parse
        names = ", ".join(str(e["loc"][0]) for e in exc.errors() if e.get("loc"))
        err.print(f"[red]错误 Error:[/red] 配置无效 Invalid settings: {names} — 见 .env.example / see .env.example")
        sys.exit(2)
    except (OperationalError, ProgrammingError) as exc:
        hint = ("数据库不可用或尚未初始化：请检查 DATABASE_URL，并运行 rmbot db upgrade。"
                "The database is unreachable or not set up: check DATABASE_URL and run `rmbot db upgrade`.")
        err.print(f"[red]错误 Error:[/red] {hint}")
        logging.getLogger("rmbot.cli").debug("database error", exc_info=exc)
        sys.exit(2)


if __name__ == "__main__":
    main()
