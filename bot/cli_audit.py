"""`rmbot audit …`: read the audit log, verify its chain, print a checkpoint to keep elsewhere.

    rmbot audit [--last N]            the newest entries
    rmbot audit verify [--checkpoint SEQ:MAC] [--allow-demo]
    rmbot audit checkpoint            the chain head, to record outside the database
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.console import Console
from sqlalchemy import select

from bot.cli_common import ready_engine
from bot.store.db import session_scope

audit_app = typer.Typer(help="审计日志：查看、核验防篡改链 Audit log: show, verify the tamper-evident chain.",
                        invoke_without_command=True)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[red]错误 Error:[/red] {message}")
    raise typer.Exit(code)


def _keyring():  # noqa: ANN202
    from bot.store.audit_chain import current_keyring

    return current_keyring()


@audit_app.callback()
def show(ctx: typer.Context,
         last: Annotated[int, typer.Option(min=1, max=10_000, help="显示最近 N 条 newest N entries")] = 20) -> None:
    """Show the newest audit log entries (subcommands: verify, checkpoint)."""
    if ctx.invoked_subcommand is not None:
        return
    from bot.store.models import AuditLog

    with session_scope(ready_engine()) as s:
        rows = s.execute(select(AuditLog).order_by(AuditLog.id.desc()).limit(last)).scalars().all()
    for r in reversed(rows):
        out.print(f"{r.at:%Y-%m-%d %H:%M:%S} {r.staff_id or '-':8s} {r.platform}/{r.channel_kind} "
                  f"{r.action:8s} {r.target or '-':10s} {r.outcome}", markup=False, highlight=False)


def _parse_checkpoint(value: str) -> tuple[int, str]:
    seq, _, mac = value.partition(":")
    if not seq.strip().isdigit() or len(mac.strip()) != 64:
        _fail(f"检查点格式应为 SEQ:MAC（rmbot audit checkpoint 的输出）：{value[:80]}")
    return int(seq), mac.strip().lower()


@audit_app.command("verify")
def verify(
    checkpoint: Annotated[Optional[str], typer.Option(help="在库外保存的检查点 SEQ:MAC a checkpoint kept elsewhere")] = None,
    allow_demo: Annotated[bool, typer.Option("--allow-demo", help="接受配置正式密钥之前用演示密钥签名的行 "
                                             "accept rows signed with the demo key before a real key was set")] = False,
) -> None:
    """Check the whole chain: exit 0 if intact, 1 naming the first row changed, removed or inserted."""
    from bot.store.audit_verify import verify_chain

    point = _parse_checkpoint(checkpoint) if checkpoint else None
    keyring = _keyring()
    report = verify_chain(ready_engine(), keyring, checkpoint=point, allow_demo=allow_demo)
    if not report.ok:
        first = report.problems[0]
        err.print(f"[red]审计日志被篡改 Audit log tampered:[/red] {first.zh}", markup=True, soft_wrap=True)
        err.print(f"  {first.en}", markup=False, soft_wrap=True)
        for p in report.problems[1:]:
            err.print(f"  另 also: {p.zh}", markup=False, soft_wrap=True)
        if report.more_problems:
            err.print(f"  …另有 {report.more_problems} 处 and {report.more_problems} more", markup=False)
        raise typer.Exit(1)
    keys = "、".join(f"{k}×{n}" for k, n in sorted(report.keys.items())) or "-"
    out.print(f"审计日志完整：{report.rows} 行，链头 seq {report.head_seq}，密钥 {keys}。"
              f"Audit chain intact: {report.rows} rows.", markup=False, soft_wrap=True)
    if report.demo_rows:
        out.print(f"注意：{report.demo_rows} 行由公开的演示密钥签名，不防篡改（请设置 RMBOT_AUDIT_KEY）。"
                  f"Note: {report.demo_rows} rows are signed with the public demo key.", markup=False, soft_wrap=True)


@audit_app.command("checkpoint")
def checkpoint() -> None:
    """Print the chain head as SEQ:MAC; keep it outside this database (ticket, syslog, WORM store)."""
    from bot.store.models import AuditHead

    with session_scope(ready_engine()) as s:
        head = s.get(AuditHead, 1)
    if head is None:
        _fail("链头记录 audit_head 不见了，请运行 rmbot audit verify。The chain head is missing.", 1)
        return
    out.print(f"{head.seq}:{head.mac}", markup=False)


def require_serving_key(engine) -> None:  # noqa: ANN001
    """`rmbot serve` without RMBOT_AUDIT_KEY: refused on PostgreSQL (production), a loud warning
    on SQLite (the demo). With the public demo key the chain proves nothing to an auditor."""
    keyring = _keyring()
    if not keyring.is_demo:
        return
    if engine.dialect.name != "sqlite":
        _fail("未设置 RMBOT_AUDIT_KEY：审计日志无法防篡改，拒绝在生产数据库上启动（见 README「审计日志」）。"
              "RMBOT_AUDIT_KEY is not set: refusing to serve a production database with the public demo key.")
    err.print("[bold red]警告 WARNING:[/bold red] 未设置 RMBOT_AUDIT_KEY，审计日志用公开的演示密钥签名，不防篡改；"
              "仅供演示。RMBOT_AUDIT_KEY is not set: the audit log is signed with the public demo key (demo only).",
              soft_wrap=True)
