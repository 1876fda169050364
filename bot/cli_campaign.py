"""`rmbot lint FILE` and `rmbot campaign export`: the compliance lint on documents, and a campaign's
audience as CSV for the branch manager who organises it.

The export minimises personal data (个人信息保护法 §6; JR/T 0171-2020; docs/DOMAIN.md §8): a manager
needs to know *who* is invited and *which RM* calls them, not how to reach them or how much they
hold. So the CSV has the customer number, the masked name, the RM, the org, the held tier and why
the customer was picked (沉睡客户, 60岁及以上, 生日 12-05 …) — no phone, no ID number, no
balance, no birth year. RMs look up contact details of their own customers in the core system.
Only managers may export, only for branches under them, and every export is audited.

Exit codes: lint 0 = no blocking finding, 1 = blocking findings, 2 = file unreadable;
export 0 = written, 2 = refused or bad input.
"""

from __future__ import annotations

import bisect
import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from sqlalchemy import Select, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from bot import clock
from bot.config import get_settings, load_policy
from bot.core.registry import MANAGERS
from bot.exports.audit import Actor, audit_entry, audited_export
from bot.exports.cells import is_stdout, open_sheet
from bot.store.db import has_schema, make_engine
from rules.compliance import SEVERITY_LABELS, default_lint_rules, lint

campaign_app = typer.Typer(help="营销活动：受众名单导出 Campaign audiences.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)

CSV_COLUMNS = ["客户号", "客户名称（脱敏）", "客户经理号", "客户经理", "所属机构", "客户分层", "入选依据"]
"""Deliberately no phone, ID number, balance or birth date: see the module docstring."""
ENCODINGS = ("utf-8-sig", "gb18030")
"""UTF-8 (with or without BOM) first, then GB18030, the superset of GBK that Windows Chinese editors write."""


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[red]错误 Error:[/red] {message}")
    raise typer.Exit(code)


# ---- rmbot lint FILE --------------------------------------------------------------------------


def read_text(path: Path) -> str:
    """The file's text in UTF-8 or GBK; raises OSError or UnicodeDecodeError."""
    data = sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
    last: UnicodeDecodeError | None = None
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as exc:
            last = exc
    assert last is not None
    raise last


def lint_cmd(
    file: Annotated[Path, typer.Argument(help="要检查的文案文件（UTF-8 或 GBK），- 表示标准输入 file to lint, - for stdin")],
    json_: Annotated[bool, typer.Option("--json", help="以 JSON 输出 output JSON")] = False,
) -> None:
    """Lint marketing copy: exit 1 when a finding blocks publication, 0 otherwise, 2 if unreadable."""
    try:
        text = read_text(file)
    except (OSError, UnicodeDecodeError) as exc:
        reason = "编码无法识别（应为 UTF-8 或 GBK）" if isinstance(exc, UnicodeDecodeError) else exc.__class__.__name__
        _fail(f"无法读取文件 {file}：{reason}。Cannot read the file.")
        return
    result = lint(text, default_lint_rules())
    newlines = [i for i, ch in enumerate(text) if ch == "\n"]
    if json_:
        rows = []
        for f in result.findings:
            line, col = _line_col(newlines, f.span[0])
            rows.append({"rule_id": f.rule_id, "severity": f.severity, "line": line, "column": col,
                         "span": list(f.span), "excerpt": f.excerpt, "source": f.source, "message": f.message,
                         "suggestion": f.suggestion})
        sys.stdout.write(json.dumps({"file": str(file), "blocked": result.blocked, "rules_version": result.rules_version,
                                     "findings": rows}, ensure_ascii=False, indent=2) + "\n")
    elif result.clean:
        sys.stdout.write(f"{file}：未发现问题 No findings（规则版本 {result.rules_version}）\n")
    else:  # plain lines, one per finding, like a compiler: grep- and editor-friendly
        for f in result.findings:
            line, col = _line_col(newlines, f.span[0])
            excerpt = " ".join(f.excerpt.split())[:40]
            sys.stdout.write(f"{file}:{line}:{col} [{SEVERITY_LABELS.get(f.severity, f.severity)}] {f.rule_id}「{excerpt}」"
                             f"{f.source.split(';')[0].strip()}：{f.message} 建议：{f.suggestion}\n")
        sys.stdout.write(f"共 {len(result.blocks)} 项阻断、{len(result.warnings)} 条提示。\n")
    if result.blocked:
        raise typer.Exit(1)


def _line_col(newlines: list[int], offset: int) -> tuple[int, int]:
    line = bisect.bisect_left(newlines, offset)
    start = newlines[line - 1] + 1 if line else 0
    return line + 1, offset - start + 1


# ---- rmbot campaign export --------------------------------------------------------------------


@campaign_app.command("export")
def export(
    target: Annotated[str, typer.Argument(help="草稿号，或活动类型（如 沉睡激活、silver）draft number or campaign kind")],
    as_: Annotated[str, typer.Option("--as", help="导出人员工号（支行负责人/分行管理者）staff id of the manager")],
    out_file: Annotated[Path, typer.Option("--out", help="CSV 文件路径，- 表示标准输出 CSV path, - for stdout")],
    branch: Annotated[Optional[str], typer.Option(help="支行号（按类型导出时；支行负责人默认本支行）branch id")] = None,
    festival: Annotated[Optional[str], typer.Option(help="节日关怀：按节日而非生日选客户 festival")] = None,
    encoding: Annotated[str, typer.Option(help="utf-8-sig（Excel 可直接打开）或 gbk")] = "utf-8-sig",
) -> None:
    """The audience of a draft (or of a campaign kind for a branch) as CSV, for managers."""
    from bot.campaigns.settings import campaign_settings, catalogue_for
    from bot.core.access import load_staff
    from bot.core.errors import ServiceUnavailable
    from bot.store import campaigns as store
    from bot.store.customers import latest_data_date
    from bot.store.models import Org
    from bot.store.scope import is_under

    encoding = encoding.lower()
    if encoding not in ("utf-8-sig", "utf-8", "gbk", "gb18030"):
        _fail("--encoding 只能是 utf-8-sig、utf-8、gbk 或 gb18030")
    if encoding == "gbk":
        encoding = "gb18030"  # a superset: a rare character in a name cannot break the export
    settings = get_settings()
    try:
        policy = load_policy(settings)
        catalogue = catalogue_for(campaign_settings())
    except ServiceUnavailable as exc:
        _fail(exc.hint)
        return
    except Exception as exc:  # noqa: BLE001  (a bad policy override file)
        _fail(f"策略文件无效 Invalid policy file: {exc}")
        return
    engine = make_engine(settings.database_url)
    try:
        ready = has_schema(engine)
    except OperationalError as exc:
        _fail(f"数据库不可用 Database unreachable: {exc.orig}")
        return
    if not ready:
        _fail("数据库尚未初始化：请先运行 rmbot db upgrade && rmbot seed")
    now = clock.now()
    with Session(engine, expire_on_commit=False) as session:
        staff = load_staff(session, "console", as_)
        if staff is None:
            _fail(f"未找到员工 {as_}。Unknown staff id.")
            return

        actor = Actor.cli(staff.id)

        def audit(target_ref: str, outcome: str, detail: str) -> None:
            session.add(audit_entry(actor, action="campaign_export", target=target_ref, outcome=outcome, detail=detail,
                                    at=now))
            session.commit()

        if staff.role not in MANAGERS:
            audit(f"export:{target}", "denied", "role rm")
            _fail("客户经理不能导出客户名单；请联系支行负责人。Only managers export audiences.")
        options: dict[str, str] = {}
        if target.strip().lstrip("#").isdigit():
            found = store.draft_with_branch(session, int(target.strip().lstrip("#")))
            if found is None or not is_under(found[1].path, staff.org_path):
                audit(f"campaign:{target}", "denied" if found else "not_found", "export")
                _fail(f"未找到草稿 {target}，或不在您的辖内。Draft not found or not yours.")
                return
            draft, org = found
            if branch and branch.upper() != org.id:
                _fail(f"草稿 {draft.id} 属于 {org.id}，与 --branch {branch} 不符。")
            kind = catalogue.kinds.get(draft.kind)
            options = json.loads(draft.options or "{}")
            ref = f"campaign:{draft.id}"
        else:
            kind = catalogue.kind(target)
            if kind is None:
                _fail(f"未知的活动类型「{target}」；可用：{'、'.join(k.name for k in catalogue.kinds.values())}")
                return
            # A typed --branch is folded like every code; the manager's own org id is used as stored.
            branch_id = branch.upper() if branch else (staff.org_id if staff.role == "branch_manager" else "")
            if not branch_id:
                _fail("请用 --branch 指定支行，如 --branch SB01。")
            org = session.get(Org, branch_id)
            if org is None or org.level != "sub_branch" or not is_under(org.path, staff.org_path):
                audit(f"audience:{kind.id}:{branch_id}", "denied" if org else "not_found", "export")
                _fail(f"未找到支行 {branch_id}，或不在您的辖内。Branch not found or not yours.")
                return
            if festival:
                options["节日"] = festival
            ref = f"audience:{kind.id}:{org.id}"
        if kind is None:
            _fail("该草稿的活动类型已不在营销目录中，无法重算名单。")
            return
        spec = kind.audience_with_festival if (options.get("节日") and kind.audience_with_festival) else kind.audience
        stmt = store.audience_select(spec, policy, org.path, now.date(), latest_data_date(session))
        try:
            written = _write_audience(engine, actor, ref, out_file, encoding, stmt)
        except BrokenPipeError:  # `… --out - | head`: the reader stopped; the audit already has the export
            _fail("输出已被关闭（如 | head），导出提前结束；审计日志已记录。Output closed early.", 1)
            return
        except OSError as exc:
            _fail(f"无法写入 {out_file}：{exc.__class__.__name__}")
            return
    if str(out_file) != "-":
        out.print(f"已导出 {written} 行到 {out_file}（{kind.name} · {org.name}；不含电话、证件号、余额）", soft_wrap=True)


def _write_audience(engine: Engine, actor: Actor, ref: str, path: Path, encoding: str, stmt: Select) -> int:
    """Audited first (every customer it will hold, bot/exports/audit.py), then written through the
    cell layer (bot/exports/cells.py: no live formulas), from the same snapshot."""
    from bot.store.campaigns import audience_rows
    from rules.masking import mask_name

    sub = stmt.subquery()
    ids = select(sub.c.customer_id).order_by(sub.c.rm_id, sub.c.customer_id)
    where = "stdout" if is_stdout(path) else str(path.resolve())
    with audited_export(engine, actor, action="campaign_export", target=ref, where=where, columns=CSV_COLUMNS,
                        customers=ids) as conn:
        with open_sheet(None if is_stdout(path) else path, title="audience", encoding=encoding) as sheet:
            sheet.writerow(CSV_COLUMNS)
            n = 0
            for row in audience_rows(Session(bind=conn), stmt):
                sheet.writerow([row.customer_id, mask_name(row.customer_name), row.rm_id, row.rm_name, row.org_id,
                                row.tier or "对公客户", row.label])
                n += 1
    return n
