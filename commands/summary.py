"""/summary [支行|all] [今日|本周|本月|YYYY-MM]: a manager's figures with charts (docs/DOMAIN.md §7).

Branch managers see their 支行, regional managers any 支行 below them or all of them, an RM only
the customers they maintain. Every figure says the date it is true on; the definitions are in
`bot.store.summary`. The weekly 经营周报 push builds its message with `summary_reply` too, so
chat and push always show the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import or_, select
from sqlmodel import Session

from bot import charts
from bot.core.access import stage_audit
from bot.core.context import Context
from bot.core.errors import UserError
from bot.core.registry import command
from bot.core.reply import Image, Reply, Table
from bot.core.sensitive import Aggregate, Share, Text, join
from bot.store.models import Org
from bot.store.push_lists import Scope
from bot.store.scope import is_under
from bot.store.summary import MaturingFigures, Period, Summary, build_summary, parse_period
from rules.money import fmt_threshold_wan, fmt_wan, yuan_to_fen
from rules.policy import Policy

USAGE = "/summary [支行|all] [今日|本周|上周|本月|上月|YYYY-MM]，例：/summary、/summary SB01 本周、/summary all 2026-10"
ALL_WORDS = frozenset({"all", "全部", "全辖", "全行"})
MAX_RM_ROWS = 20


@dataclass(frozen=True)
class Target:
    """Whose figures: the scope for SQL, how to name it, and a slug for file names."""

    scope: Scope
    label: str
    slug: str


@command("summary", aliases=("汇总", "报表", "经营分析"), usage="/summary [支行|all] [今日|本周|本月|YYYY-MM]",
         summary="经营汇总与图表 Summary figures and charts", examples=("/summary", "/summary SB01 本周"))
def summary(ctx: Context, args: list[str]) -> Reply:
    if len(args) > 2:
        raise UserError("参数过多。Too many arguments.", USAGE)
    period: Period | None = None
    where: str | None = None
    for arg in args:
        try:
            found = parse_period(arg, ctx.today)
        except ValueError as exc:
            if _looks_like_period(arg):
                raise UserError(str(exc), USAGE) from None
            if where is not None:
                raise UserError(f"只能指定一个范围：{where}、{arg[:20]}。One scope at a time.", USAGE) from None
            where = arg
            continue
        if period is not None:
            raise UserError("只能指定一个期间。One period at a time.", USAGE)
        period = found
    period = period or parse_period(None, ctx.today)
    target = resolve_target(ctx, where)
    result = build_summary(ctx.session, ctx.policy, target.scope, period, ctx.today)
    stage_audit(ctx, target=f"summary:{target.slug}", outcome="allowed", detail=f"period {period.slug}")
    return summary_reply(result, target, ctx.policy, title=f"经营汇总 · {target.label} · {period.label}")


def _looks_like_period(arg: str) -> bool:
    return arg[:1].isdigit() or arg.endswith(("月", "周", "日", "天"))


def resolve_target(ctx: Context, where: str | None) -> Target:
    """The caller's own scope by default; a named 支行 only if it lies under it (else refused)."""
    staff = ctx.staff
    if staff.role == "rm":
        if where is not None and where.lower() not in ALL_WORDS and where.upper() != staff.id:
            _refuse(ctx, where, "客户经理只能查看本人名下客户的汇总。RMs see their own figures only.")
        return Target(Scope(rm_id=staff.id), f"{staff.name}（{staff.id}）名下客户", staff.id)
    if where is None or where.lower() in ALL_WORDS:
        label = staff.org_name if staff.role == "branch_manager" else f"全辖（{staff.org_name}）"
        return Target(Scope(org_path=staff.org_path), label, staff.org_id)
    org = find_org(ctx.session, where)
    if org is None or not is_under(org.path, staff.org_path):
        _refuse(ctx, where, f"未找到支行 {where[:20]}，或您无权查看其汇总。Branch not found or not accessible.",
                outcome="not_found" if org is None else "denied")
    assert org is not None
    return Target(Scope(org_path=org.path), org.name, org.id)


def find_org(session: Session, word: str) -> Org | None:
    """By id (SB01) or name (西湖支行, 西湖)."""
    text = word.strip()
    names = [text] if text.endswith(("支行", "分行", "营业部")) else [text, f"{text}支行"]
    return session.execute(select(Org).where(or_(Org.id == text.upper(), Org.name.in_(names)))
                           .order_by(Org.path)).scalars().first()


def _refuse(ctx: Context, where: str, message: str, outcome: str = "denied") -> None:
    stage_audit(ctx, target=f"summary:{where[:40]}", outcome=outcome)
    raise UserError(message, USAGE)


# -- the reply ---------------------------------------------------------------------------------


def pct(part: int, whole: int) -> str:
    if not whole:
        return "—"
    return f"{(Decimal(part) * 100 / Decimal(whole)).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"


def signed_pct(part: int, whole: int) -> str:
    text = pct(abs(part), whole)
    return text if text == "—" else ("+" if part > 0 else "−" if part < 0 else "±") + text


def signed_wan(fen: int) -> str:
    return ("+" if fen > 0 else "−" if fen < 0 else "±") + fmt_wan(abs(fen))


def summed(fen: int, customers: int) -> Text:
    """A sum of customers' money: the masking policy bands it in groups when too few are in it."""
    return Text.of(Aggregate(fen, customers))


def change(fen: int, customers: int) -> Text:
    return Text.of(Aggregate(fen, customers, signed=True))


def summary_reply(s: Summary, target: Target, policy: Policy, *, title: str, with_charts: bool = True) -> Reply:
    """Fields first (one per figure, each with its date), then tables, charts and the 口径."""
    reply = Reply(title=title)
    if s.empty:
        reply.summary = f"{s.period.label} 没有可汇总的数据（数据日期 {s.data_date or '—'}）。No data for this period."
        reply.notes.append("可用 /summary 本月 或 /summary YYYY-MM 查看有数据的期间。")
        return reply
    aum, tiers, churn, mat = s.aum, s.tiers, s.churn, s.maturing
    n = aum.customers
    head: list[str | Text] = []
    if s.closing is None:
        head.append("本期间没有资产数据")
    else:
        head.append(Text.of("金融资产 ", summed(aum.closing_fen, n))
                    + (Text.of("（", change(aum.change_fen, n), "）") if s.opening else ""))
    if churn.as_of:
        head.append(f"流失预警 {churn.listed} 户")
    head.append(Text.of("到期承接率 ", _retained_rate(mat)))
    reply.summary = join(" · ", head)

    reply.add("范围", target.label)
    reply.add("期间", f"{s.period.label}，数据日期 {s.data_date or '—'}")
    if s.closing is None:
        reply.add("金融资产", "本期间没有资产数据")
    else:
        text = Text.of(summed(aum.closing_fen, n), f"（{s.closing.label}，{aum.customers} 户）")
        if s.opening is not None:
            text += Text.of("；期初 ", summed(aum.opening_fen, n), f"（{s.opening.label}）；变动 ", change(aum.change_fen, n),
                            f"（{signed_pct(aum.change_fen, aum.opening_fen)}）")
        reply.add("金融资产", text)
    held = " · ".join(f"{name} {n}" for name, n in tiers.held)
    reply.add("客户分层（所持）", f"{held}（户，数据日期 {s.data_date or '—'}）")
    reply.add("升降档", f"升档 {tiers.upgrades} 户、降档 {tiers.downgrades} 户（所持等级，每日定级：快升缓降，"
                        f"连续 {policy.tiers.downgrade_months} 个月低于标准才降档；{s.period.start} 至 {min(s.period.end, s.new_until)}）")
    if s.closing is not None and s.opening is not None:
        reply.add("分层变动", f"资产档位上升 {tiers.asset_upgrades} 户、下降 {tiers.asset_downgrades} 户、期初无数据 {tiers.entered} 户"
                              f"（{s.opening.label} → {s.closing.label}，按资产所在档位，未计缓降）")
        reply.add("高净值转化", _hnw_text(s, policy))
    reply.add("新增客户", f"{s.new_individual + s.new_corporate} 户（个人 {s.new_individual}、对公 {s.new_corporate}；"
                          f"开户日 {s.period.start} 至 {s.new_until}）")
    if s.dormant is not None and s.closing is not None:
        b = policy.behaviour
        reply.add("沉睡客户", f"{s.dormant} 户（{s.closing.label}；AUM < {fmt_threshold_wan(yuan_to_fen(b.dormant_max_aum_yuan))}、"
                              f"{b.dormant_no_contact_days} 天未联系、近 {b.dormant_outflow_days} 天净流出）")
    if churn.as_of is None:
        reply.add("流失预警", "本期间没有时点资产数据")
    else:
        reply.add("流失预警", f"关注 {churn.watch} 户、预警 {churn.warning} 户；已处置 {churn.handled} 户"
                              f"（处置率 {pct(churn.handled, churn.listed)}）（{churn.as_of}）")
        reply.add("流失案件", f"共 {churn.cases} 件（本期新增 {churn.new_cases}）：已挽回 {churn.recovered}"
                              f"（挽回率 {pct(churn.recovered, churn.cases)}）、已流失 {churn.lost}；"
                              f"超 {policy.churn.recovery_months} 个月未挽回 {churn.overdue_cases} 件")
    reply.add("到期承接", _maturing_text(s))
    total = sum(f.total for f in s.followups)
    done = sum(f.done for f in s.followups)
    laggards = "、".join(f"{f.rm_name} {f.open} 项" for f in s.followups if f.open)[:300]
    reply.add("跟进完成", f"{done}/{total} 项（{pct(done, total)}）" + (f"；未完成：{laggards}" if laggards else ""))

    _tables(reply, s, policy)
    if with_charts:
        reply.images = summary_charts(s, target)
    reply.notes.append(f"口径：资产为个人客户金融资产；分层变动按期初、期末资产所在档位（不含缓降）；"
                       f"高净值 = {'、'.join(tiers.hnw_names)}；承接率 = 已承接金额 / 到期金额；"
                       f"跟进完成 = 已有跟进记录的到期与流失事项。")
    reply.notes.append(f"数据日期 {s.data_date or '—'} · 规则 {policy.version}")
    return reply


def _hnw_text(s: Summary, policy: Policy) -> str:
    t = s.tiers
    if t.hnw_base_name is None:
        return f"新晋高净值 {t.hnw_new} 户"
    lowest = t.hnw_names[-1] if t.hnw_names else "高净值"
    return (f"期初{t.hnw_base_name} {t.hnw_base} 户中 {t.hnw_converted} 户升入{lowest}及以上"
            f"（{pct(t.hnw_converted, t.hnw_base)}）；新晋高净值共 {t.hnw_new} 户")


def _maturing_text(s: Summary) -> str | Text:
    m = s.maturing
    window = f"到期日 {m.start} 至 {m.end}"
    if not m.items:
        return f"无（{window}）"

    def part(label: str, outcome: str) -> Text:
        return Text.of(f"{label} ", summed(m.fen(outcome), m.customers_by_outcome.get(outcome, 0)))

    parts = [part("已承接", "retained"), part("已联系", "contacted"), part("已流失", "lost"), part("未跟进", "")]
    return Text.of(f"{m.items} 笔 ", summed(m.total_fen, m.customers),
                   f"（{window}）；承接率 ", _retained_rate(m), "：", join("、", parts))


def _retained_rate(m: MaturingFigures) -> Share:
    return Share(m.fen("retained"), m.total_fen, m.customers_by_outcome.get("retained", 0))


def _tables(reply: Reply, s: Summary, policy: Policy) -> None:
    t = s.tiers
    if s.closing is not None:
        opening = dict(t.opening)
        closing = dict(t.closing)
        cols = ["档位", "所持等级", f"期初 {s.opening.label}" if s.opening else "期初", f"期末 {s.closing.label}"]
        rows = [[name, str(n), str(opening.get(name, 0)) if s.opening else "—", str(closing.get(name, 0))]
                for name, n in t.held]
        reply.tables.append(Table(title="客户分层（户）", columns=cols, rows=rows))
    if t.moves:
        rows = [[a, b, str(n)] for (a, b), n in sorted(t.moves.items(), key=lambda kv: (-kv[1], kv[0]))]
        reply.tables.append(Table(title="分层变动明细", columns=["由", "至", "户数"], rows=rows))
    if s.churn.overdue:
        rows = [[b.branch_name, b.managers, str(b.cases), f"{b.oldest_flag}"] for b in s.churn.overdue]
        reply.tables.append(Table(title=f"超 {policy.churn.recovery_months} 个月未挽回的流失案件（按支行）",
                                  columns=["支行", "负责人", "件数", "最早预警"], rows=rows))
    if s.followups:
        names = {b.branch_id: b.branch_name for b in s.branches}
        rows = [[f"{f.rm_name}（{f.rm_id}）", names.get(f.branch_id, f.branch_id),
                 f"{f.maturing_done}/{f.maturing}", f"{f.churn_done}/{f.churn}", str(f.open), pct(f.done, f.total)]
                for f in s.followups[:MAX_RM_ROWS]]
        table = Table(title="客户经理跟进完成情况", rows=rows,
                      columns=["客户经理", "支行", "到期 已跟进/合计", "流失 已跟进/合计", "未完成", "完成率"])
        reply.tables.append(table)
        if len(s.followups) > MAX_RM_ROWS:
            reply.notes.append(f"共 {len(s.followups)} 位客户经理有待跟进事项，表中列出未完成最多的 {MAX_RM_ROWS} 位。")
    if len(s.branches) > 1 and s.closing is not None:
        rows = [[b.branch_name, str(b.customers), summed(b.closing_fen, b.customers),
                 change(b.closing_fen - b.opening_fen, b.customers),
                 str(b.churn_listed), pct(b.retained_fen, b.maturing_fen), pct(b.done, b.items)] for b in s.branches]
        reply.tables.append(Table(title="支行对比", rows=rows,
                                  columns=["支行", "个人客户", "金融资产", "变动", "流失预警", "承接率", "跟进完成率"]))


def summary_charts(s: Summary, target: Target) -> list[Image]:
    """AUM trend, tiers held and (when anyone has items) follow-up completion by RM."""
    stem = f"summary-{target.slug}-{s.period.slug}"
    points = [charts.Point(f"{snap.on:%Y-%m}" if snap.source == "month_end" else f"{snap.on:%m-%d}", fen)
              for snap, fen in s.aum.trend]
    images = [
        Image.from_png(f"金融资产趋势 · {target.label}", f"{stem}-aum.png",
                       charts.aum_trend(points, f"金融资产趋势 · {target.label}"), customers=s.aum.customers),
        Image.from_png(f"客户分层（所持等级）· {target.label}", f"{stem}-tiers.png",
                       charts.tier_distribution(s.tiers.held, f"客户分层（所持等级）· {target.label}")),
    ]
    if s.followups:
        rows = [(f"{f.rm_name} {f.rm_id}", f.done, f.open) for f in s.followups]
        title = f"跟进完成情况 · {s.period.label}"
        images.append(Image.from_png(title, f"{stem}-followup.png", charts.followup_completion(rows, title)))
    return images
