"""Build a day's pushes into the outbox and deliver them: what the scheduler and the CLI run."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import groupby
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot import clock
from bot.exports.audit import customer_list
from bot.push import messages as msg
from bot.push.kinds import KIND_ZH, WEEKLY
from bot.store import outbox
from bot.store.retention import within_retention
from bot.store.customers import latest_data_date
from bot.core.reply import Reply, Section
from bot.store.actors import Actor, audit_entry, os_user
from bot.store.models import AuditLog, Org, PushDestination, Staff
from bot.store.push_lists import Scope, branches, churn_counts, churn_rows, downgrade_rows, maturing_rows
from bot.store.summary import build_summary, parse_period
from bot.store.tier_run import TierChangeRow, TierRunOrderError, run_tiers, tier_change_rows
from rules.calendar import HolidayCalendar, first_working_day_of_week, is_working_day
from rules.maturity import maturity_window
from rules.policy import Policy

log = logging.getLogger("rmbot.push")
R = TypeVar("R")
TIER_KINDS = ("maturing", "churn", "downgrade", "summary")
"""Every build first runs the day's tiering (idempotent per date, so only the first build of a
day changes anything): the daily pushes are what makes the tier run daily, and nothing reads
customer.tier before it. The daily 流失预警 push carries the day's 升档/降档 (see `_branch_pushes`)."""


@dataclass
class BranchResult:
    kind: str
    branch_id: str
    branch_name: str
    items: int = 0
    parts: int = 0
    enqueued: int = 0
    note: str = ""


@dataclass
class BuildResult:
    kind: str
    push_date: date
    skipped: str | None = None
    """Why nothing was built (not a working day, no data), if so."""
    branches: list[BranchResult] = field(default_factory=list)
    previews: list[msg.BranchPush] = field(default_factory=list)
    data_date: date | None = None
    """The data the messages were built from: always the latest import, whatever `push_date`."""


def due_today(kind: str, day: date, cal: HolidayCalendar) -> tuple[bool, str]:
    wd = is_working_day(cal, day)
    if kind in WEEKLY:
        first = first_working_day_of_week(cal, day)
        return first == day, f"{day} 不是本周第一个工作日（{first or '本周无工作日'}）" if first != day else wd.reason.text
    return wd.working, wd.reason.text


Renderer = Callable[[Reply], str | None]
"""A platform's rendering of one part (e.g. `SlackSender.render`), or None to render at send."""


class PushService:
    def __init__(self, engine: Engine, policy: Policy, calendar: HolidayCalendar,
                 renderers: Mapping[str, Renderer] | None = None, retention_days: int = 90) -> None:
        self.engine = engine
        self.retention_days = retention_days
        """Sent rows older than this are purged with their keys: such a day is never built again
        (bot/store/retention.py), or its messages would be sent a second time."""
        self.policy = policy
        self.calendar = calendar
        self.renderers = dict(renderers or {})
        """Platform → renderer: its rows are stored ready to post, so delivery (paced, 2,000
        channels at once) does not spend ~2 ms of CPU a message rendering them."""

    def build(self, kind: str, day: date, branch_ids: Sequence[str] | None = None, dry_run: bool = False,
              force: bool = False, now: datetime | None = None) -> BuildResult:
        """Enqueue the kind's messages for `day`; a (kind, branch, day) already enqueued is left alone."""
        result = BuildResult(kind, day)
        due, why = due_today(kind, day, self.calendar)
        if not due and not force:
            result.skipped = f"非推送日：{why}"
            return result
        now = now or clock.now()
        if not dry_run and not within_retention(day, now.date(), self.retention_days):
            result.skipped = (f"超过保留期（{self.retention_days} 天）：该日的发送记录可能已清理，不再生成以免重复推送。"
                              f" Older than the outbox retention: not built, it could be sent twice.")
            return result
        with Session(self.engine) as session:
            data_date = latest_data_date(session)
            if data_date is None:
                result.skipped = "尚无数据：请先运行 rmbot seed 或 rmbot import"
                return result
            result.data_date = data_date
            if kind in TIER_KINDS and not dry_run:
                # 快升缓降 for the data date before anything reads customer.tier (bot/store/tier_run.py)
                try:
                    run_tiers(session, self.policy.tiers, data_date)
                    session.commit()
                except TierRunOrderError as exc:  # data date moved back: keep the held tiers, still push
                    session.rollback()
                    log.warning("tier run skipped: %s", exc)
            dests = self._destinations(session)
            names = dict(branches(session, branch_ids))
            scope = Scope(branch_ids=tuple(branch_ids)) if branch_ids else None
            built: set[str] = set()
            for push in self._branch_pushes(session, kind, day, data_date, scope):
                push = msg.resolved(push, self.policy)  # masked for the group before it is stored
                built.add(push.branch_id)
                result.branches.append(self._enqueue(push, day, dests.get(push.branch_id, []), dry_run, now))
                if dry_run:
                    result.previews.append(push)
            for branch_id, name in names.items():
                if branch_id not in built:
                    note = "无支行负责人" if kind == "summary" else "无待跟进项"
                    result.branches.append(BranchResult(kind, branch_id, name, note=note))
        return result

    def _enqueue(self, push: msg.BranchPush, day: date, dests: list[tuple[str, str]], dry_run: bool,
                 now: datetime) -> BranchResult:
        res = BranchResult(push.kind, push.branch_id, push.branch_name, push.items, len(push.parts))
        if not dests:
            res.note = "未配置推送目的地（rmbot push dest set）"
            return res
        if dry_run:
            res.note = "预览，未写入"
            return res
        if outbox.exists_for(self.engine, push.kind, push.branch_id, day):
            res.note = "当日已生成，不重复推送"
            return res
        rendered = {platform: [self._render(platform, part) for part in push.parts] for platform, _ in dests}
        rows = [
            outbox.NewMessage(f"{push.kind}:{push.branch_id}:{day}:{platform}:{i}", push.kind, push.branch_id, day,
                              platform, target, part.model_dump_json(exclude_defaults=True), rendered[platform][i - 1])
            for platform, target in dests
            for i, part in enumerate(push.parts, start=1)
        ]
        res.enqueued = outbox.enqueue(self.engine, rows, now, audit=[_audit(push, day, d, now) for d in dests])
        return res

    def _render(self, platform: str, part: Reply) -> str | None:
        renderer = self.renderers.get(platform)
        if renderer is None:
            return None
        try:
            return renderer(part)
        except Exception:  # noqa: BLE001  (the sender renders it again at send, and says what is wrong)
            log.warning("push part %r not pre-rendered for %s", part.title, platform, exc_info=True)
            return None

    def _destinations(self, session: Session) -> dict[str, list[tuple[str, str]]]:
        out: dict[str, list[tuple[str, str]]] = {}
        for d in session.execute(select(PushDestination).order_by(PushDestination.org_id)).scalars():
            out.setdefault(d.org_id, []).append((d.platform, d.target))
        return out

    def _branch_pushes(self, session: Session, kind: str, day: date, data_date: date,
                       scope: Scope | None) -> Iterator[msg.BranchPush]:
        p = self.policy
        if kind == "maturing":
            win = maturity_window(day, self.calendar, p.maturity.window_days, p.maturity.source)
            for (bid, bname), rows in _by_branch(maturing_rows(session, p, win.start, win.end, scope)):
                yield msg.branch_push(kind, bid, bname, rows, lambda r: msg.maturing_item(r, day), day, data_date,
                                      msg.maturing_summary(rows, win.start, win.end), [win.reason.text])
        elif kind == "churn":
            counts = churn_counts(session, p, data_date, scope)
            # the daily push also carries the tier run's 升档/降档 of the data date (tier_history)
            changes = _by_branch(tier_change_rows(session, data_date, scope))
            for (bid, bname), rows, moved in _merge(_by_branch(churn_rows(session, p, data_date, scope)), changes):
                parts: list[msg.BranchPush] = []
                if rows:
                    summary, notes = msg.churn_summary(rows, counts.get(bid, (0, 0)), p)
                    parts.append(msg.branch_push(kind, bid, bname, rows, lambda r: msg.churn_item(r, p), day,
                                                 data_date, summary, notes))
                if moved:
                    parts.append(msg.branch_push(kind, bid, bname, moved, msg.tier_change_item, day, data_date,
                                                 msg.tier_change_summary(moved), [f"来源：{p.tiers.downgrade_source}"],
                                                 label="等级变动"))
                yield msg.BranchPush(kind, bid, bname, sum(x.items for x in parts), [r for x in parts for r in x.parts],
                                     tuple(dict.fromkeys(c for x in parts for c in x.customers)))
        elif kind == "downgrade":
            for (bid, bname), rows in _by_branch(downgrade_rows(session, p, data_date, scope)):
                summary = f"{len(rows)} 位客户月日均低于所持等级标准，连续 {p.tiers.downgrade_months} 个月将降级"
                yield msg.branch_push(kind, bid, bname, rows, lambda r: msg.downgrade_item(r, p), day, data_date,
                                      summary, [f"来源：{p.tiers.downgrade_source}"])
        elif kind == "summary":
            yield from self._summary_pushes(session, day, data_date, scope)
        else:
            raise ValueError(f"unknown push kind {kind!r}; expected one of {', '.join(KIND_ZH)}")

    def _summary_pushes(self, session: Session, day: date, data_date: date,
                        scope: Scope | None) -> Iterator[msg.BranchPush]:
        """经营周报: last week's /summary of each org that has a manager, to that org's destinations.

        One message per org (not per manager), @-mentioning its managers, so two managers of one
        支行 do not get the same chart twice in their chat. It holds aggregate figures only, no
        customer's data, so it is marked masked and may go to a group chat.
        """
        from commands.summary import Target, summary_reply  # the same presentation as /summary

        period = parse_period("上周", day)
        rows = session.execute(
            select(Org.id, Org.name, Org.path, Org.level, Staff.id, Staff.name).join(Staff, Staff.org_id == Org.id)
            .where(Staff.role.in_(("branch_manager", "regional_manager")), Staff.active.is_(True))
            .order_by(Org.path, Staff.id)).all()
        for (org_id, name, path, level), managers in groupby(rows, key=lambda r: (r[0], r[1], r[2], r[3])):
            if scope is not None and scope.branch_ids is not None and org_id not in scope.branch_ids:
                continue
            label = name if level != "branch" else f"全辖（{name}）"
            target = Target(Scope(org_path=path), label, org_id)
            figures = build_summary(session, self.policy, target.scope, period, day)
            reply = summary_reply(figures, target, self.policy,
                                  title=f"【{KIND_ZH['summary']}】{label} · {period.start:%m-%d} 至 {period.end:%m-%d}")
            reply.masked = True
            reply.sections.extend(Section(title=f"{m_name}（{m_id}）", mention=m_id, text="请查阅上周经营情况。")
                                  for *_, m_id, m_name in managers)
            reply.notes.append(f"推送日 {day} · 数据日期 {data_date}")
            items = sum(f.total for f in figures.followups)
            yield msg.BranchPush("summary", org_id, name, items, [reply])


def _audit(push: msg.BranchPush, day: date, dest: tuple[str, str], now: datetime) -> AuditLog:
    """A push discloses its customers to a channel: who (the process that builds it), where (the
    destination; a robot's webhook key is a secret, so not logged), every customer named."""
    platform, target = dest
    where = "robot webhook" if platform == "wecom_robot" else target
    actor = Actor(None, f"push:{os_user()}"[:64], platform=platform[:16], channel_kind="group",
                  channel_id=None if platform == "wecom_robot" else target[:64])
    return audit_entry(actor, action="push", target=f"push:{push.kind}:{push.branch_id}", outcome="allowed", at=now,
                       detail=f"{push.kind} {day}, {len(push.parts)} parts to {platform} {where}; "
                       + customer_list(push.customers))


def _merge(a: Iterator[tuple[tuple[str, str], list[R]]], b: Iterator[tuple[tuple[str, str], list[TierChangeRow]]],
           ) -> Iterator[tuple[tuple[str, str], list[R], list[TierChangeRow]]]:
    """Two branch-ordered streams joined by branch: one branch of each in memory at a time."""
    x, y = next(a, None), next(b, None)
    while x is not None or y is not None:
        if y is None or (x is not None and x[0][0] < y[0][0]):
            assert x is not None
            yield x[0], x[1], []
            x = next(a, None)
        elif x is None or y[0][0] < x[0][0]:
            yield y[0], [], y[1]
            y = next(b, None)
        else:
            yield x[0], x[1], y[1]
            x, y = next(a, None), next(b, None)


def _by_branch(rows: Iterable[R]) -> Iterator[tuple[tuple[str, str], list[R]]]:
    """Rows arrive ordered by branch: hold one branch at a time in memory."""
    for key, group in groupby(rows, key=lambda r: (r.branch_id, r.branch_name)):  # type: ignore[attr-defined]
        yield key, list(group)
