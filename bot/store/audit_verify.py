"""`rmbot audit verify`: recompute the audit chain and say where it breaks.

Why: the chain (bot.store.audit_chain) only helps if someone checks it. The verifier reads the
log in seq order a page at a time (bounded memory at any size), recomputes each row's MAC from
its fields and the previous row's stored MAC, and compares the end of the log with the head
kept in `audit_head` (and, optionally, with a checkpoint kept outside the database).

What it detects: a changed row (its MAC no longer matches), a removed row (a gap in seq), a row
inserted out of order or forged (MAC mismatch, duplicate seq), rows cut from the tail or the
whole log emptied (the head is ahead of the log), rows written past the head (triggers off), a
row signed with an unknown key or with the public demo key while a real key is configured.
What it cannot: an attacker holding the key, or one who rewrites the head together with the
tail, or replaces the whole database — only a checkpoint kept elsewhere (`rmbot audit
checkpoint`) catches the last two.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine, Row

from bot.store.audit_chain import DEMO_KEY_ID, FIELDS, GENESIS_MAC, Keyring, compute_mac
from bot.store.models import AuditHead, AuditLog

MAX_LISTED = 20
"""Problems listed beyond the first (the first is what the exit code and message name)."""


@dataclass(frozen=True)
class Problem:
    seq: int | None
    row_id: int | None
    kind: str  # changed | broken | removed | duplicate | unknown_key | demo_key | truncated | past_head | head | checkpoint | unchained
    zh: str
    en: str

    def __str__(self) -> str:
        return f"{self.zh} {self.en}"


@dataclass
class Report:
    rows: int = 0
    head_seq: int | None = None
    last_seq: int = 0
    demo_rows: int = 0
    keys: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    more_problems: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, problem: Problem) -> None:
        if len(self.problems) <= MAX_LISTED:
            self.problems.append(problem)
        else:
            self.more_problems += 1


def _rows(engine: Engine, page: int) -> Iterator[Row]:
    """Every row in (seq, id) order, by keyset pages: no long-lived cursor, bounded memory."""
    t = AuditLog.__table__
    columns = [t.c.id, t.c.seq, t.c.key_id, t.c.mac] + [t.c[name] for name in FIELDS]
    last: tuple[int, int] | None = None
    while True:
        stmt = sa.select(*columns).where(t.c.seq.is_not(None)).order_by(t.c.seq, t.c.id).limit(page)
        if last is not None:
            stmt = stmt.where(sa.tuple_(t.c.seq, t.c.id) > sa.tuple_(sa.literal(last[0]), sa.literal(last[1])))
        with engine.connect() as conn:
            batch = conn.execute(stmt).all()
        if not batch:
            return
        yield from batch
        last = (batch[-1].seq, batch[-1].id)


def _where(row: Row) -> str:
    return f"seq {row.seq}（id {row.id}）"


def verify_chain(engine: Engine, keyring: Keyring, *, checkpoint: tuple[int, str] | None = None,
                 allow_demo: bool = False, page: int = 5000) -> Report:
    """Check the whole chain; the report's first problem names the first row that was tampered with."""
    report = Report()
    t = AuditLog.__table__
    with engine.connect() as conn:
        head = conn.execute(sa.select(AuditHead.seq, AuditHead.mac).where(AuditHead.id == 1)).first()
        unchained = conn.execute(sa.select(sa.func.count()).select_from(t).where(t.c.seq.is_(None))).scalar_one()
    report.head_seq = None if head is None else int(head.seq)
    expected, prev_mac = 1, GENESIS_MAC
    suspect: Row | None = None  # a row whose MAC failed: decided by whether the next row chains to it
    real_key_seen = False
    checkpoint_found = False
    for row in _rows(engine, page):
        report.rows += 1
        report.keys[row.key_id] = report.keys.get(row.key_id, 0) + 1
        if checkpoint is not None and row.seq == checkpoint[0]:
            checkpoint_found = True
            if row.mac != checkpoint[1]:
                report.add(Problem(row.seq, row.id, "checkpoint",
                                   f"{_where(row)}与检查点记录的 MAC 不符：该行或其之前的日志被重写。",
                                   "This row's MAC differs from the checkpoint: the log was rewritten."))
        gap = row.seq != expected
        if row.seq < expected:
            report.add(Problem(row.seq, row.id, "duplicate", f"{_where(row)}的序号重复或次序错乱：该行是被插入的。",
                               "Duplicate or out-of-order seq: this row was inserted."))
            continue
        if gap:
            missing = f"seq {expected}" if row.seq == expected + 1 else f"seq {expected}–{row.seq - 1}"
            report.add(Problem(expected, row.id, "removed", f"{missing} 已被删除（在 id {row.id} 之前）。",
                               f"Rows removed before row id {row.id}."))
        key = keyring.keys.get(row.key_id)
        if row.key_id == DEMO_KEY_ID:
            report.demo_rows += 1
            if not keyring.is_demo and (real_key_seen or not allow_demo):
                report.add(Problem(row.seq, row.id, "demo_key",
                                   f"{_where(row)}由公开的演示密钥签名，而已配置正式密钥：该行可被任何人伪造。",
                                   "Signed with the public demo key while a real key is configured."))
        else:
            real_key_seen = True
        if key is None:
            report.add(Problem(row.seq, row.id, "unknown_key",
                               f"{_where(row)}的密钥 {row.key_id} 不在 RMBOT_AUDIT_KEY / RMBOT_AUDIT_OLD_KEYS 中，无法核验。",
                               "Signed with a key that is not configured."))
        else:
            mac = compute_mac(key, row.seq, row.key_id, dict(row._mapping), prev_mac)
            explained = gap  # after a gap, or after a forged MAC, this row cannot match: not its fault
            if suspect is not None:  # did this row chain to the suspect's stored MAC?
                kind = "changed" if mac == row.mac else "broken"
                report.add(_mac_problem(suspect, kind))
                explained, suspect = explained or kind == "broken", None
            if mac != row.mac and not explained:
                suspect = row
        prev_mac, expected = row.mac, row.seq + 1
        report.last_seq = row.seq
    if suspect is not None:  # the last row: nothing tells a changed row from a forged one
        report.add(_mac_problem(suspect, "broken"))
    _check_end(report, head, prev_mac, unchained)
    if checkpoint is not None and not checkpoint_found:
        report.add(Problem(checkpoint[0], None, "checkpoint",
                           f"检查点 seq {checkpoint[0]} 已不在日志中：日志被截断或清空。",
                           "The checkpoint's row is gone: the log was cut or emptied."))
    report.problems.sort(key=lambda p: p.seq if p.seq is not None else float("inf"))
    return report


def _mac_problem(row: Row, kind: str) -> Problem:
    if kind == "changed":
        return Problem(row.seq, row.id, "changed", f"{_where(row)}的内容被修改（与其 MAC 不符）。",
                       "This row was changed (its MAC does not match).")
    return Problem(row.seq, row.id, "broken", f"{_where(row)}被修改、伪造或被插入（链条在此断开）。",
                   "This row was changed, forged or inserted out of order (the chain breaks here).")


def _check_end(report: Report, head: Row | None, last_mac: str, unchained: int) -> None:
    """The log's end against the head record kept beside it."""
    if unchained:
        report.add(Problem(None, None, "unchained", f"有 {unchained} 行没有链序号（绕过了链条写入）。",
                           f"{unchained} rows carry no seq (written around the chain)."))
    if head is None:
        report.add(Problem(None, None, "head", "链头记录 audit_head 不见了：日志可能被整体替换。",
                           "The chain head record is missing."))
        return
    if head.seq > report.last_seq:
        what = "日志已被清空" if report.rows == 0 else f"seq {report.last_seq + 1}–{head.seq} 已被删除（日志尾部被截断）"
        report.add(Problem(report.last_seq + 1, None, "truncated", f"{what}；链头记录为 seq {head.seq}。",
                           f"Rows after seq {report.last_seq} removed; the head says seq {head.seq}."))
    elif head.seq < report.last_seq:
        report.add(Problem(head.seq + 1, None, "past_head",
                           f"seq {head.seq + 1} 起的行写在链头之后（触发器被停用时插入）。",
                           "Rows were written past the chain head (with the triggers off)."))
    elif head.mac != last_mac:
        report.add(Problem(head.seq, None, "head", f"链头的 MAC 与 seq {head.seq} 不符：末行被替换。",
                           "The head's MAC does not match the last row: it was replaced."))
