"""Every comparison an answer shows agrees with its verdict (issue 15, finding 2).

For generated amounts around every policy line, the text is read back as a person reads it:
each "A万 ≥ B万" must hold for the displayed numbers, the displayed figure put through the rule
again must give the verdict printed after "→", a quotient "A万 / B万 = P%" must stand against
the ratio lines as the exact amounts do, and a gap "仅差 X" is never zero. The figures come
from one helper (rules.money.compare_wan / ratio_parts); these tests hold every rule to it.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings, strategies as st

from rules.advice import next_action
from rules.behaviour import BehaviourInput, classify_behaviour
from rules.churn import churn_level
from rules.corporate import CorporateMetrics, classify_corporate
from rules.deposit import classify_amount
from rules.money import compare_wan, fmt_gap, ratio_parts, yuan_to_fen
from rules.policy import default_policy
from rules.tiering import MonthAum, TierInput, classify_tier, ladder_row

P = default_policy()
TODAY = date(2026, 11, 21)
SETTINGS = settings(max_examples=150, deadline=None)

_NUM = r"(\d[\d,]*(?:\.\d+)?)"
_CMP = re.compile(_NUM + r"(万|元|%)\s*(≥|≤|<|>)\s*" + _NUM + r"(万|元|%)")
_QUOT = re.compile(r"当前 " + _NUM + r"万 / \D*\d*\D*?" + _NUM + r"万 = " + _NUM + r"% (≤|>) " + _NUM + r"%")
_OPS = {"≥": lambda a, b: a >= b, "≤": lambda a, b: a <= b, "<": lambda a, b: a < b, ">": lambda a, b: a > b}
_UNIT = {"万": Decimal(10000), "元": Decimal(1), "%": Decimal(1)}


def _d(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


def displayed_comparisons_hold(text: str) -> None:
    """Every "A op B" in the text is true of the displayed numbers."""
    for a, ua, op, b, ub in _CMP.findall(text):
        assert ua == ub or {ua, ub} <= {"万", "元"}, text
        assert _OPS[op](_d(a) * _UNIT[ua], _d(b) * _UNIT[ub]), f"shown comparison is false: {text}"
    for m in re.finditer(r"仅差 " + _NUM + r"(万|元)", text):
        assert _d(m.group(1)) > 0, text


def near(line_fen: int) -> st.SearchStrategy[int]:
    """Amounts a few 分, a few 元 and a few hundred 元 either side of a line (never negative)."""
    offsets = st.one_of(st.integers(-300, 300), st.integers(-30, 30).map(lambda k: k * 100),
                        st.integers(-30, 30).map(lambda k: k * 10_000), st.integers(-5, 5).map(lambda k: k * 9_999))
    return offsets.map(lambda off: max(0, line_fen + off))


TIER_LINES = [row.min_fen for row in P.tiers.ladder if row.min_fen > 0]
tier_amounts = st.one_of(*(near(line) for line in TIER_LINES))


@SETTINGS
@given(avg=tier_amounts, point=tier_amounts, held=st.sampled_from([None, *(r.name for r in P.tiers.ladder)]))
def test_tier_reasons_agree_with_the_tier(avg: int, point: int, held: str | None) -> None:
    months = [MonthAum(date(2026, 10, 1), avg, avg), MonthAum(date(2026, 9, 1), avg, avg)]
    res = classify_tier(TierInput(held, point, date(2026, 11, 20), months), P.tiers)
    for reason in res.reasons:
        displayed_comparisons_hold(reason.text)
    ladder = res.reasons[0].text
    shown = _d(re.search(r"月日均 " + _NUM + "万", ladder).group(1))  # type: ignore[union-attr]
    # The displayed figure, put through the ladder again, lands in the row the text names.
    assert ladder.endswith(f"→ {ladder_row(int(shown * 1_000_000), P.tiers).name}"), ladder
    assert ladder_row(avg, P.tiers).name in ladder


@SETTINGS
@given(aum=tier_amounts, share=st.sampled_from([Decimal("0.8"), Decimal("0.5"), Decimal(1)]))
def test_near_upgrade_gap_is_never_shown_as_zero(aum: int, share: Decimal) -> None:
    months = [MonthAum(date(2026, 10, 1), aum, aum)]
    tier = classify_tier(TierInput(None, aum, date(2026, 11, 20), months), P.tiers)
    churn = churn_level(aum, [aum], P.churn)
    advice = next_action(today=TODAY, tier=tier, behaviour_status="活跃客户", churn=churn, maturing=[],
                         maturing_days=7, point_fen=aum, policy=P.tiers, last_contact=TODAY)
    displayed_comparisons_hold(advice.text)


churn_lines = [P.churn.watch_ratio, P.churn.warning_ratio]


@SETTINGS
@given(baseline=st.integers(yuan_to_fen(P.churn.min_baseline_yuan), 10**10),
       ratio=st.sampled_from(churn_lines), off=st.integers(-40, 40))
def test_churn_percentage_and_amounts_agree_with_the_level(baseline: int, ratio: Decimal, off: int) -> None:
    current = max(0, int(baseline * ratio) + off)
    res = churn_level(current, [baseline], P.churn)
    text = res.reasons[0].text
    m = _QUOT.search(text)
    assert m, text
    a, b, pct, op, line = m.groups()
    assert _OPS[op](_d(pct), _d(line)), text
    assert _OPS[op](_d(a) / _d(b) * 100, _d(line)), text
    shown_pct = _d(pct) / 100
    level = ("warning" if shown_pct <= P.churn.warning_ratio else "watch" if shown_pct <= P.churn.watch_ratio
             else "none")
    assert level == res.level, text


@SETTINGS
@given(baseline=near(yuan_to_fen(P.churn.min_baseline_yuan)))
def test_churn_floor_line_is_shown_consistently(baseline: int) -> None:
    res = churn_level(0, [baseline], P.churn)
    displayed_comparisons_hold(res.reasons[0].text)


@SETTINGS
@given(aum=near(yuan_to_fen(P.behaviour.dormant_max_aum_yuan)), drop=st.integers(1, 500))
def test_dormant_reason_agrees(aum: int, drop: int) -> None:
    res = classify_behaviour(BehaviourInput(TODAY, aum, aum + drop, None, 0, 1), P.behaviour)
    text = res.reasons[0].text
    displayed_comparisons_hold(text)
    assert "净流出 0.00" not in text


CORP_ROWS = P.corporate.classes
corp_lines = [yuan_to_fen(getattr(r, a)) for r in CORP_ROWS
              for a in ("avg_deposit_yuan", "point_deposit_yuan", "pos_monthly_yuan")]


@SETTINGS
@given(avg=st.one_of(*(near(x) for x in corp_lines)), point=st.one_of(*(near(x) for x in corp_lines)),
       strategic=st.booleans())
def test_corporate_reasons_agree(avg: int, point: int, strategic: bool) -> None:
    res = classify_corporate(P, CorporateMetrics(avg_deposit_fen=avg, point_deposit_fen=point), strategic=strategic)
    for reason in res.reasons:
        displayed_comparisons_hold(reason.text)
        if reason.rule in ("corporate.avg_deposit", "corporate.point_deposit"):
            m = re.search(_NUM + r"万 ≥", reason.text)
            assert m
            shown = int(_d(m.group(1)) * 1_000_000)
            higher = [r for r in CORP_ROWS if CORP_ROWS.index(r) < [c.name for c in CORP_ROWS].index(res.quantitative_name)]
            attr = "avg_deposit_yuan" if reason.rule == "corporate.avg_deposit" else "point_deposit_yuan"
            # The shown figure must not reach the line of a higher class than the verdict.
            assert all(shown < yuan_to_fen(getattr(r, attr)) for r in higher), reason.text
        if strategic:
            assert not reason.text.endswith(f"→ {P.corporate.fallback_name}"), reason.text
            assert not re.search(r"→ (优质客户|持续贡献客户)$", reason.text), reason.text


@SETTINGS
@given(avg=near(yuan_to_fen(P.corporate.no_loan_scale_min_avg_deposit_yuan)))
def test_scale_layer_agrees(avg: int) -> None:
    res = classify_corporate(P, CorporateMetrics(avg_deposit_fen=avg))
    for reason in res.reasons:
        displayed_comparisons_hold(reason.text)


@SETTINGS
@given(amount=st.one_of(near(yuan_to_fen(P.deposit_class.amount_small_below_yuan)),
                        near(yuan_to_fen(P.deposit_class.amount_large_above_yuan))))
def test_deposit_amount_class_agrees(amount: int) -> None:
    displayed_comparisons_hold(classify_amount(P, amount).reasons[0].text)


def test_the_issue_examples() -> None:
    assert compare_wan(4_999_999, 5_000_000) == "4.999999万 < 5万"
    assert fmt_gap(1) == "0.01元"
    months = [MonthAum(date(2026, 10, 1), 599_999_999, 599_999_999)]
    res = classify_tier(TierInput(None, 599_999_999, date(2026, 11, 20), months), P.tiers)
    assert res.reasons[0].text == "2026-10 月日均 599.999999万 ≥ 20万 → 贵宾客户"
    res_c = classify_corporate(P, CorporateMetrics(avg_deposit_fen=9_999_999_999))
    assert "日均对公存款 9999.999999万 ≥ 8000万 → 持续贡献客户" in [r.text for r in res_c.reasons]
    churn = churn_level(20_002_500, [25_000_000], P.churn).reasons[0].text
    assert churn.endswith("= 80.01% > 80% → 正常"), churn
    assert ratio_parts(20_002_500, 25_000_000, Decimal("0.8"))[2] == "80.01%"
    # 1 分 short of private banking: the gap says so.
    tier = classify_tier(TierInput("贵宾客户", 599_999_999, date(2026, 11, 20), months), P.tiers)
    advice = next_action(today=TODAY, tier=tier, behaviour_status="活跃客户",
                         churn=churn_level(599_999_999, [599_999_999], P.churn), maturing=[], maturing_days=7,
                         point_fen=599_999_999, policy=P.tiers, last_contact=TODAY - timedelta(days=3))
    assert advice.text == "距私人银行客户仅差 0.01元，可推荐资产配置助其升级"
