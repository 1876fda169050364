"""`rmbot staff sync slack` and `rmbot staff status`: chat identities for thousands of RMs.

Registered on `bot.cli.staff_app` (imported at the end of bot/cli.py). Links go through
`bot.store.staff.link_identity`, so a sync is audited link by link exactly as `staff link` is.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.console import Console
from sqlalchemy import select

from bot.cli_common import ready_engine
from bot.config import get_settings
from bot.store.actors import Actor
from bot.store.db import session_scope
from bot.store.models import ChatIdentity, Staff
from bot.store.staff import PLATFORMS, link_identity

out = Console()
err = Console(stderr=True)


def _fail(message: str, code: int = 2) -> None:
    err.print(f"错误 Error: {message}", markup=False, highlight=False)
    raise typer.Exit(code)


def register(staff_app: typer.Typer) -> None:
    sync_app = typer.Typer(help="按邮箱批量关联聊天账号 Link chat accounts in bulk.", no_args_is_help=True)
    staff_app.add_typer(sync_app, name="sync")
    sync_app.command("slack")(sync_slack)
    staff_app.command("status")(status)


def sync_slack(
    relink: Annotated[bool, typer.Option("--all", help="也重新核对已关联的员工 re-check linked staff too")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="只查询，不写入 look up only")] = False,
) -> None:
    """Link each active staff member with an e-mail to the Slack account of that e-mail
    (users.lookupByEmail, scope users:read.email). By default only staff not yet linked on Slack
    are looked up, so a rerun after a rate limit or new hires only does what is left."""
    from slack_sdk.errors import SlackApiError

    from bot.adapters.slack.client import make_client

    settings = get_settings()
    if not settings.slack_bot_token:
        _fail("未配置 SLACK_BOT_TOKEN（见 docs/slack.env）。SLACK_BOT_TOKEN is not set.")
    engine = ready_engine()
    with session_scope(engine) as s:
        staff = s.execute(select(Staff.id, Staff.email).where(Staff.active.is_(True)).order_by(Staff.id)).all()
        linked = {sid: ext for ext, sid in s.execute(
            select(ChatIdentity.external_id, ChatIdentity.staff_id).where(ChatIdentity.platform == "slack"))}
    client = make_client(settings)
    found = moved = kept = 0
    missing: list[str] = []
    no_email: list[str] = []
    actor = Actor.cli()
    for staff_id, email in staff:
        if not email:
            no_email.append(staff_id)
            continue
        if staff_id in linked and not relink:
            continue
        try:
            answer = client.users_lookupByEmail(email=email)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "unknown_error")
            if error == "users_not_found":
                missing.append(f"{staff_id} <{email}>")
                continue
            if error == "missing_scope":
                _fail("Slack 令牌缺少 users:read.email 权限：按 slack_manifest.yaml 更新应用并重新安装（docs/slack.md）。"
                      "The bot token lacks users:read.email: update the app from the manifest and reinstall.")
            _fail(f"Slack users.lookupByEmail 失败 failed: {error}（已关联 {found} 人，可重新运行继续）", 1)
            raise
        user_id = str((answer.get("user") or {}).get("id") or "")
        if linked.get(staff_id) == user_id:
            kept += 1
            continue
        if not dry_run:
            with session_scope(engine) as s:
                link_identity(s, "slack", user_id, staff_id, actor)
        found += 1
        moved += staff_id in linked
        out.print(f"{'将关联 would link' if dry_run else '已关联 linked'}: slack:{user_id} → {staff_id}",
                  markup=False, highlight=False)
    out.print(f"Slack 同步：新关联 {found} 人（其中改关联 {moved}），未变 {kept}，Slack 中找不到 {len(missing)}，"
              f"无邮箱 {len(no_email)}。Linked {found}, unchanged {kept}, not in Slack {len(missing)}, "
              f"no e-mail {len(no_email)}.", markup=False, highlight=False)
    for line in missing[:50]:
        out.print(f"  Slack 中找不到 not found: {line}", markup=False, highlight=False)
    if no_email:
        out.print(f"  无邮箱 no e-mail（在员工文件的 email 列补充）: {', '.join(no_email[:50])}", markup=False,
                  highlight=False)


def status(
    platform: Annotated[Optional[str], typer.Option(help="slack | wecom（默认全部）")] = None,
    limit: Annotated[int, typer.Option(min=0, help="每个平台最多列出的未关联员工 names listed per platform")] = 50,
) -> None:
    """Who among the active staff has no chat account linked, per platform; and links that still
    point at inactive staff (refused at their next message; unlink them when convenient)."""
    if platform is not None and platform not in PLATFORMS:
        _fail(f"未知平台 {platform}；可选：{', '.join(PLATFORMS)}。用法 usage: rmbot staff status [--platform slack]")
    with session_scope(ready_engine()) as s:
        active = s.execute(select(Staff.id, Staff.name, Staff.org_id).where(Staff.active.is_(True))
                           .order_by(Staff.id)).all()
        links = s.execute(select(ChatIdentity.platform, ChatIdentity.staff_id, ChatIdentity.external_id,
                                 Staff.active).join(Staff, Staff.id == ChatIdentity.staff_id)).all()
    for p in [platform] if platform else list(PLATFORMS):
        linked = {sid for plat, sid, _ext, is_active in links if plat == p and is_active}
        unlinked = [(sid, name, org) for sid, name, org in active if sid not in linked]
        out.print(f"{p}: 在职 {len(active)} 人，已关联 {len(active) - len(unlinked)}，未关联 {len(unlinked)}。"
                  f"{len(active)} active, {len(unlinked)} unlinked.", markup=False, highlight=False)
        for sid, name, org in unlinked[:limit]:
            out.print(f"  未关联 unlinked: {sid} {name}（{org}）", markup=False, highlight=False)
        if len(unlinked) > limit:
            out.print(f"  …… 另有 {len(unlinked) - limit} 人（--limit 调整）", markup=False, highlight=False)
        stale = [(sid, ext) for plat, sid, ext, is_active in links if plat == p and not is_active]
        for sid, ext in stale[:limit]:
            out.print(f"  已离职仍关联 linked but inactive: {p}:{ext} → {sid}（已拒绝访问 refused; "
                      f"rmbot staff unlink {p} {ext}）", markup=False, highlight=False)
