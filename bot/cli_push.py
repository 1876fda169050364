"""`rmbot push …`: previews, reruns and backfills of the daily pushes, their status and destinations."""

from __future__ import annotations

import sys
from datetime import date
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import delete, select

from bot import clock
from bot.cli_common import ready_engine
from bot.config import get_settings, load_policy
from bot.logs import mask_secret, redact
from bot.push.kinds import KIND_ZH, KINDS
from bot.render.text import render_text
from bot.store.db import session_scope
from bot.store.models import Org, Outbox, PushDestination

push_app = typer.Typer(help="每日推送（到期承接、流失预警、降级风险）Daily pushes.", no_args_is_help=True)
dest_app = typer.Typer(help="支行推送目的地 Push destinations per branch.", no_args_is_help=True)
push_app.add_typer(dest_app, name="dest")
out = Console()
err = Console(stderr=True)
DEST_PLATFORMS = ("file", "slack", "wecom_appchat", "wecom_robot")


def shown_target(platform: str, target: str) -> str:
    """A robot's webhook key is its only credential: an operator sees its last 4 characters."""
    return mask_secret(target) if platform == "wecom_robot" else target


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[red]错误 Error:[/red] {message}")
    raise typer.Exit(code)


def _date(value: str | None) -> date:
    if value is None:
        return clock.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"日期格式应为 YYYY-MM-DD：{value}")
        raise


@push_app.command("run")
def run(
    date_: Annotated[Optional[str], typer.Option("--date", help="推送日 YYYY-MM-DD（默认今天）")] = None,
    kind: Annotated[Optional[str], typer.Option(help="maturing | churn | downgrade（默认全部）")] = None,
    branch: Annotated[Optional[list[str]], typer.Option(help="支行号，可重复 e.g. --branch SB01")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="只预览，不写入、不发送")] = False,
    force: Annotated[bool, typer.Option(help="非工作日也生成（补发）")] = False,
) -> None:
    """Build (once per kind, branch and day) and deliver; a rerun of a delivered day sends nothing new."""
    from bot.push.wiring import delivery_worker, push_service

    settings = get_settings()
    day = _date(date_)
    if kind is not None and kind not in KINDS:
        _fail(f"未知推送类型 {kind}；可选：{', '.join(KINDS)}")
    engine = ready_engine()
    try:
        service = push_service(engine, load_policy(settings), settings)
    except ValueError as exc:
        _fail(str(exc))
    table = Table("类型", "支行", "待跟进", "消息", "新入队", "说明")
    data_dates: set[date] = set()
    for k in [kind] if kind else list(KINDS):
        result = service.build(k, day, branch_ids=branch or None, dry_run=dry_run, force=force)
        if result.data_date is not None:
            data_dates.add(result.data_date)
        if not dry_run and not branch and result.skipped is None:  # the whole day: the scheduler skips it
            from bot.push.catchup import record_build

            record_build(engine, k, day, clock.now(), sum(b.enqueued for b in result.branches), "rmbot push run")
        if result.skipped:
            table.add_row(KIND_ZH[k], "—", "", "", "", result.skipped)
            continue
        for b in result.branches:
            table.add_row(KIND_ZH[k], f"{b.branch_name}（{b.branch_id}）", str(b.items), str(b.parts), str(b.enqueued), b.note)
        for preview in result.previews:
            for part in preview.parts:
                sys.stdout.write(render_text(part) + "\n")
    out.print(table)
    for data_date in sorted(data_dates):
        out.print(f"推送日 {day} · 数据日期 {data_date}（最新导入的数据 the latest data imported）")
        if data_date > day:
            err.print(f"[yellow]注意：数据日期 {data_date} 晚于推送日 {day}：消息按最新数据生成，不是 {day} 当日的数据"
                      f"（早于数据日期的到期项不再列出）。Data dated {data_date} is newer than {day}: the messages "
                      f"show the latest data, not that day's.[/yellow]", highlight=False)
    if dry_run:
        return
    stats = delivery_worker(engine, settings).drain()
    out.print(f"已发送 sent {stats.sent}，核实已送达 verified {stats.verified}，待重试 retrying {stats.retried}，失败 dead {stats.dead}")
    for line in stats.errors[:20]:
        err.print(f"  {redact(line)}", markup=False)
    if stats.dead:
        raise typer.Exit(1)


DELIVER_EXIT_CODES = {0: "nothing left to deliver", 1: "rows went dead in this run (see rmbot push status)",
                      2: "bad usage, or the database is unreachable or not set up",
                      3: "rows held by another sender's lease (in flight there; if it died, the lease ends soon)",
                      4: "rows waiting for a scheduled retry"}


@push_app.command("deliver")
def deliver(
    lease_seconds: Annotated[int, typer.Option(min=1, max=3600, help="认领租期（秒），发送期间持续续约 claim lease, "
                                                                    "renewed while sending")] = 20,
) -> None:
    """Deliver what is waiting in the outbox (retries, rows a crashed process left behind), then
    say what still waits and why. Exit codes: 0 nothing left, 1 rows went dead, 2 bad usage or
    database, 3 rows held by another sender's lease, 4 rows waiting for a scheduled retry."""
    from datetime import timedelta

    from bot.push.delivery import DeliveryWorker
    from bot.push.wiring import configured_senders
    from bot.store.outbox import waiting

    engine = ready_engine()
    worker = DeliveryWorker(engine, configured_senders(get_settings()), lease=timedelta(seconds=lease_seconds))
    stats = worker.drain()
    out.print(f"已发送 sent {stats.sent}，核实已送达 verified {stats.verified}，待重试 retrying {stats.retried}，失败 dead {stats.dead}")
    left = waiting(engine, worker.now())
    if left.held:
        out.print(f"等待中 waiting: {left.held} 个频道的消息正由其他发送进程发送（{', '.join(left.holders)}），租期至 "
                  f"{left.held_until:%H:%M:%S}；若该进程已停止，租期结束后重新运行即可。"
                  f" {left.held} channel(s) held by another sender until its lease ends.", markup=False)
    if left.retry_later:
        out.print(f"等待中 waiting: {left.retry_later} 个频道的消息将于 {left.next_retry:%m-%d %H:%M:%S} 起重试。"
                  f" {left.retry_later} channel(s) wait for a scheduled retry.", markup=False)
    if left.blocked:
        out.print(f"排队中 queued: {left.blocked} 条消息按频道顺序排在以上消息之后。"
                  f" {left.blocked} row(s) queued behind their channel's head.", markup=False)
    if left.dead:
        out.print(f"失败 dead: 共 {left.dead} 条，见 rmbot push status。{left.dead} dead row(s) in the outbox.",
                  markup=False)
    for line in stats.errors[:20]:
        err.print(f"  {redact(line)}", markup=False)
    code = 1 if stats.dead else 3 if left.held else 4 if left.retry_later else 0
    if code:
        raise typer.Exit(code)


@push_app.command("status")
def status(date_: Annotated[Optional[str], typer.Option("--date", help="推送日（默认今天）")] = None) -> None:
    """Outbox rows by kind, branch and state; failures with their last error."""
    from bot.store.outbox import status_counts

    day = _date(date_)
    engine = ready_engine()
    _show_missed(engine)
    rows = status_counts(engine, day)
    if not rows:
        out.print(f"{day} 没有推送记录。No pushes for {day}.")
        return
    table = Table("类型", "支行", "状态", "消息数")
    for k, org, st, n in rows:
        table.add_row(KIND_ZH.get(k, k), org, st, str(n))
    out.print(table)
    with engine.connect() as conn:
        bad = conn.execute(select(Outbox.key, Outbox.status, Outbox.attempts, Outbox.last_error).where(
            Outbox.push_date == day, Outbox.last_error.is_not(None), Outbox.status != "sent")).all()
    for key, st, attempts, error in bad:
        out.print(f"  {key} {st} attempts={attempts}: {redact(error or '')}", markup=False)


@push_app.command("purge")
def purge(
    days: Annotated[Optional[int], typer.Option(min=1, help="保留天数（默认 RMBOT_OUTBOX_RETENTION_DAYS，90）")] = None,
) -> None:
    """Drop the charts of delivered pushes, delete delivered rows older than the retention.
    Unsent and dead rows are kept; run daily by `rmbot scheduler` too."""
    from bot.store.retention import purge as purge_outbox

    engine = ready_engine()
    keep = days or get_settings().outbox_retention_days
    result = purge_outbox(engine, clock.now(), keep)
    out.print(f"已删除 deleted {result.deleted} 条 {keep} 天前已发送的消息（{result.cutoff:%Y-%m-%d %H:%M} 之前）；"
              f"清理图表 slimmed {result.slimmed} 条，释放约 {result.bytes_freed / 1024:.0f} KB。"
              f" Deleted {result.deleted} sent row(s) older than {keep} days, dropped the charts of"
              f" {result.slimmed} sent row(s).", markup=False)


MISSED_DAYS = 7


def _show_missed(engine) -> None:  # noqa: ANN001
    """Working days of the last week whose push time passed and that nobody built (every
    scheduler was down across the push time, or a build failed)."""
    from bot.calendar_data import load_calendar
    from bot.push.catchup import missed
    from bot.push.service import PushService

    settings = get_settings()
    service = PushService(engine, load_policy(settings), load_calendar(settings.holidays_file))
    for kind, day in missed(service, settings.push_times(), clock.now(), days=MISSED_DAYS):
        out.print(f"应推送未生成 due, not built: {day} {KIND_ZH.get(kind, kind)}（{kind}）— "
                  f"补发 rerun: rmbot push run --date {day} --kind {kind}", markup=False)


@dest_app.command("set")
def dest_set(
    branch: Annotated[str, typer.Argument(help="机构号：支行 e.g. SB01，或分行 BR01（经营周报）")],
    platform: Annotated[str, typer.Argument(help="file | slack | wecom_appchat | wecom_robot")],
    target: Annotated[str, typer.Argument(help="目录 / Slack channel id / WeCom chatid / robot key")],
) -> None:
    """Send a branch's pushes to a destination (one per platform)."""
    if platform not in DEST_PLATFORMS:
        _fail(f"未知平台 {platform}；可选：{', '.join(DEST_PLATFORMS)}")
    with session_scope(ready_engine()) as s:
        org = s.get(Org, branch)
        if org is None or org.level not in ("sub_branch", "branch"):
            _fail(f"未找到支行或分行 {branch}")
        s.merge(PushDestination(org_id=branch, platform=platform, target=target))
    out.print(f"已设置 {branch} → {platform}:{shown_target(platform, target)}", markup=False)


@dest_app.command("rm")
def dest_rm(branch: str, platform: str) -> None:
    """Stop sending a branch's pushes to a platform."""
    with session_scope(ready_engine()) as s:
        n = s.execute(delete(PushDestination).where(PushDestination.org_id == branch,
                                                    PushDestination.platform == platform)).rowcount
    if not n:
        _fail(f"没有该目的地 {branch} {platform}", 1)
    out.print("已删除 removed")


@dest_app.command("list")
def dest_list() -> None:
    """Every branch's destinations."""
    with session_scope(ready_engine()) as s:
        rows = s.execute(select(PushDestination).order_by(PushDestination.org_id, PushDestination.platform)).scalars().all()
    for d in rows:
        out.print(f"{d.org_id}  {d.platform:14s} {shown_target(d.platform, d.target)}", markup=False, highlight=False)
    if not rows:
        out.print("尚未配置推送目的地。No destinations yet.")


from bot import cli_dest  # noqa: E402,F401  (registers `push dest check` and `push dest create-appchat`)
