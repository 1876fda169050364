"""`rmbot import` and `rmbot export`: the nightly core-system extracts in, the same formats out.

Exit codes, for the scheduler that runs the nightly job: 0 every row imported; 1 some rows were
rejected (see the error report; the good rows are in); 2 the file (or the command) could not be
used at all, and nothing of that file changed; 3 a balance file for a new date covers too few
customers (policy `imports.complete_coverage`): its rows are kept but the date stays partial and
the previous data date stays current until a top-up import completes it (or `--allow-partial`).
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import psycopg
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from sqlalchemy.exc import SQLAlchemyError

from bot import clock
from bot.cli_common import ready_engine
from bot.config import get_settings, load_policy
from bot.imports import (
    KINDS,
    ErrorReport,
    FileProblem,
    ImportResult,
    export_kind,
    files_of,
    find_kind,
    import_file,
)

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
KIND_HELP = " | ".join(KINDS)


def _fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[red]错误 Error:[/red] {message}", highlight=False)
    raise typer.Exit(code)


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        _fail(f"{option} 日期格式应为 YYYY-MM-DD：{value}")
    if day > clock.today():
        _fail(f"{option} 不能晚于今天：{value}")
    return day


class _Bar:
    """The rich progress bar on stderr: bytes while reading a CSV, rows for an XLSX, then the phase."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None

    def start(self, label: str) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.task = self.progress.add_task(label, total=None)

    def __call__(self, phase: str, done: int, total: int) -> None:
        assert self.task is not None
        if phase == "读取":
            self.progress.update(self.task, completed=done, total=total or None)
        else:
            self.progress.update(self.task, description=f"{phase} …")


def import_cmd(
    kind: Annotated[str, typer.Argument(help=f"数据类型 kind: {KIND_HELP} | all（目录）")],
    path: Annotated[Path, typer.Argument(help="文件（.csv/.xlsx）或目录 file or directory")],
    encoding: Annotated[str | None, typer.Option(help="CSV 编码 utf-8 | utf-8-sig | gbk | gb18030（默认自动识别）")] = None,
    data_date: Annotated[str | None, typer.Option("--data-date", help="数据日期 YYYY-MM-DD（默认取文件中的最大日期）")] = None,
    errors: Annotated[Path | None, typer.Option("--errors", help="错误报告 CSV（默认 import-errors-<kind>-<时间>.csv）")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="只校验，不写入 validate only")] = False,
    allow_partial: Annotated[bool, typer.Option(
        "--allow-partial", help="余额覆盖不足时仍将新日期设为数据日期（记录在 data_day）accept a partial date")] = False,
) -> None:
    """Import core-system extracts: bad rows to an error report, good rows upserted (idempotent)."""
    if kind == "all":
        if not path.is_dir():
            _fail("all 只能用于目录：rmbot import all <目录>")
    elif find_kind(kind) is None:
        _fail(f"未知数据类型 {kind}；可选：{KIND_HELP}，或 all（目录）。Unknown kind.")
    else:
        kind = find_kind(kind).name  # type: ignore[union-attr]
    day = _date(data_date, "--data-date")
    if path.is_dir():
        jobs = files_of(kind, path)
        if not jobs:
            _fail(f"目录 {path} 中没有 {kind} 文件（按文件名前缀识别，见 docs/IMPORT.md）。No matching files.")
    elif path.exists():
        jobs = [(KINDS[kind], path)] if kind != "all" else []
    else:
        _fail(f"文件不存在：{path}")
    settings = get_settings()
    try:
        policy = load_policy(settings)
    except Exception as exc:  # noqa: BLE001
        _fail(f"策略文件无效 Invalid policy file: {exc}")
    engine = ready_engine(create=True)
    stamp = datetime.now(clock.SHANGHAI).strftime("%Y%m%d-%H%M%S")
    report = ErrorReport(errors or Path(f"import-errors-{kind}-{stamp}.csv"))
    if errors is not None:
        report.open()  # an explicit report is always written, empty or not, for the job that reads it
    results: list[ImportResult] = []
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                      console=err, transient=True) as progress:
            bar = _Bar(progress)
            for job_kind, file in jobs:
                bar.start(f"{job_kind.zh} {file.name}")
                try:
                    result = import_file(engine, job_kind, file, encoding=encoding, data_date=day, policy=policy,
                                         report=report, progress=bar, dry_run=dry_run,
                                         allow_partial=allow_partial)
                except FileProblem as exc:
                    progress.stop()
                    _print_results(results, report)
                    _fail(f"{exc}\n该文件未导入任何数据。Nothing from this file was imported.")
                except (SQLAlchemyError, sqlite3.Error, psycopg.Error) as exc:
                    progress.stop()
                    _print_results(results, report)
                    _fail(f"{file.name} 写入数据库失败，该文件未导入任何数据：{getattr(exc, 'orig', exc)}")
                results.append(result)
    except KeyboardInterrupt:
        report.close()
        _fail("已中断：当前文件未导入任何数据（之前完成的文件已导入）。Interrupted.", 130)
    finally:
        report.close()
    _print_results(results, report)
    partial = _print_coverage(results)
    if partial:
        raise typer.Exit(3)
    if any(r.rejected for r in results):
        raise typer.Exit(1)


def _print_coverage(results: list[ImportResult]) -> bool:
    """The completeness of each new balance date; True when one was kept as partial."""
    from bot.store.data_dates import ALLOWED, PARTIAL

    partial = False
    for r in results:
        c = r.coverage
        if c is None:
            continue
        if c.status == PARTIAL:
            partial = True
            err.print(f"[yellow]警告 Warning:[/yellow] {c.describe()}，数据不完整：已保存但暂不作为数据日期，"
                      f"当前数据日期仍为 {r.current_before or '—'}。补齐后再导入同一日期即可生效，"
                      "或加 --allow-partial 强制采用。Partial load: kept, not current; "
                      "import the rest for the same date, or use --allow-partial.", highlight=False)
        elif c.status == ALLOWED:
            err.print(f"[yellow]注意 Note:[/yellow] {c.describe()}，数据不完整，已按 --allow-partial 设为数据日期"
                      "（已记录）。Partial date accepted by --allow-partial (recorded).", highlight=False)
        elif c.promoted:
            out.print(f"{c.describe()}：补充导入后已完整，{c.day} 成为当前数据日期。"
                      "Top-up complete: now the current data date.", highlight=False)
    return partial


def _print_results(results: list[ImportResult], report: ErrorReport) -> None:
    for result in results:
        out.print(result.summary(), highlight=False, soft_wrap=True)
        for e in result.errors[:10]:
            err.print(f"  第 {e.row} 行 {e.column}：{e.reason}" + (f"（{e.value}）" if e.value else ""),
                      highlight=False, markup=False)
        if result.error_count > 10:
            err.print(f"  …… 共 {result.error_count} 处错误", highlight=False)
    if report.count:
        err.print(f"错误明细已写入 Error report: {report.path}", highlight=False)


def export_cmd(
    kind: Annotated[str, typer.Argument(help=f"数据类型 kind: {KIND_HELP}")],
    out_path: Annotated[Path | None, typer.Option("--out", help="输出文件 .csv 或 .xlsx，- 表示标准输出（默认 CSV 到标准输出）")] = None,
    encoding: Annotated[str, typer.Option(help="CSV 编码 utf-8 | utf-8-sig | gbk | gb18030")] = "utf-8",
    header: Annotated[str, typer.Option(help="表头 en（英文列名）| zh（中文列名）")] = "en",
    date_: Annotated[str | None, typer.Option("--date", help="只导出某一数据日期（余额、月度、联系记录）")] = None,
) -> None:
    """Export a kind in the import format (round-trips with `rmbot import`); audited first."""
    found = find_kind(kind)
    if found is None:
        _fail(f"未知数据类型 {kind}；可选：{KIND_HELP}。Unknown kind.")
    if header not in ("en", "zh"):
        _fail("--header 只能是 en 或 zh")
    if out_path is not None and str(out_path) == "-":
        out_path = None
    if out_path is not None and out_path.suffix.lower() not in (".csv", ".txt", ".xlsx"):
        _fail("--out 应为 .csv 或 .xlsx 文件")
    day = _date(date_, "--date")
    engine = ready_engine()
    try:
        count = export_kind(engine, found, out_path, encoding=encoding, zh=header == "zh", day=day)
    except FileProblem as exc:
        _fail(str(exc))
    except BrokenPipeError:  # `rmbot export … | head`: the reader stopped; the audit already has the export
        _fail("输出已被关闭（如 | head），导出提前结束；审计日志已记录。Output closed early.", 1)
    except OSError as exc:
        _fail(f"无法写入 {out_path or '标准输出 stdout'}：{exc}")
    if out_path is not None:
        out.print(f"已导出 {found.zh} {count} 行 → {out_path}", highlight=False)


app = typer.Typer(help="数据导入导出 Data import and export.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
app.command("import")(import_cmd)
app.command("export")(export_cmd)
"""Standalone (`python -m bot.cli_import import …`) until mounted in bot/cli.py as top-level commands."""

if __name__ == "__main__":
    app()
