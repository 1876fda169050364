"""Enterprise size by 《统计上大中小微型企业划分办法（2017）》: the table, its notes, and /size.

The official table is written out here independently of policy.yaml, so a typo in the policy
fails a test instead of misclassifying companies; then every bound of every row is tested on
both sides.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlmodel import Session

from rules.enterprise_size import (
    LARGE,
    MEDIUM,
    MICRO,
    SMALL,
    EnterpriseSize,
    IndustryNotCovered,
    MissingIndicator,
    UnknownIndustry,
    classify_enterprise_size,
    resolve_industry,
)
from rules.policy import Policy, default_policy, default_policy_text

D = Decimal

# 附表 (seed 004; 国统字〔2017〕213号): industry → indicator → (大型, 中型, 小型) lower bounds.
OFFICIAL: dict[str, dict[str, tuple[int, int, int]]] = {
    "农、林、牧、渔业": {"revenue": (20000, 500, 50)},
    "工业": {"employees": (1000, 300, 20), "revenue": (40000, 2000, 300)},
    "建筑业": {"revenue": (80000, 6000, 300), "assets": (80000, 5000, 300)},
    "批发业": {"employees": (200, 20, 5), "revenue": (40000, 5000, 1000)},
    "零售业": {"employees": (300, 50, 10), "revenue": (20000, 500, 100)},
    "交通运输业": {"employees": (1000, 300, 20), "revenue": (30000, 3000, 200)},
    "仓储业": {"employees": (200, 100, 20), "revenue": (30000, 1000, 100)},
    "邮政业": {"employees": (1000, 300, 20), "revenue": (30000, 2000, 100)},
    "住宿业": {"employees": (300, 100, 10), "revenue": (10000, 2000, 100)},
    "餐饮业": {"employees": (300, 100, 10), "revenue": (10000, 2000, 100)},
    "信息传输业": {"employees": (2000, 100, 10), "revenue": (100000, 1000, 100)},
    "软件和信息技术服务业": {"employees": (300, 100, 10), "revenue": (10000, 1000, 50)},
    "房地产开发经营": {"revenue": (200000, 1000, 100), "assets": (10000, 5000, 2000)},
    "物业管理": {"employees": (1000, 300, 100), "revenue": (5000, 1000, 500)},
    "租赁和商务服务业": {"employees": (300, 100, 10), "assets": (120000, 8000, 100)},
    "其他未列明行业": {"employees": (300, 100, 10)},
}
LEVELS = (LARGE, MEDIUM, SMALL)
BELOW = {LARGE: MEDIUM, MEDIUM: SMALL, SMALL: MICRO}


@pytest.fixture(scope="module")
def policy() -> Policy:
    return default_policy()


def size_of(policy: Policy, industry: str, x: int | None, y: str | int | None, z: str | int | None = None) -> str:
    return classify_enterprise_size(
        policy, industry, x, None if y is None else D(y), None if z is None else D(z)
    ).size


def _args(industry: str, level_index: int, nudge: str | None = None) -> dict[str, Decimal | int | None]:
    """Every indicator exactly at the level's bound; `nudge` puts one indicator just below it."""
    out: dict[str, Decimal | int | None] = {"employees": None, "revenue_wan": None, "assets_wan": None}
    for key, bounds in OFFICIAL[industry].items():
        bound = bounds[level_index]
        if key == "employees":
            out[key] = bound - 1 if key == nudge else bound
        else:
            out[f"{key}_wan"] = D(bound) - D("0.01") if key == nudge else D(bound)
    return out


# -- the policy holds the official table ---------------------------------------------------------

def test_policy_rows_match_the_official_table(policy: Policy) -> None:
    rows = {ind.name: ind for ind in policy.enterprise_size.industries}
    assert set(rows) == set(OFFICIAL)
    for name, indicators in OFFICIAL.items():
        row = rows[name]
        for key, (large, medium, small) in indicators.items():
            assert row.large.indicators()[key] == large, (name, key)
            assert row.medium.indicators()[key] == medium, (name, key)
            assert row.small.indicators()[key] == small, (name, key)
        assert set(row.small.indicators()) == set(indicators), name


# -- every bound of every row, on both sides ---------------------------------------------------

BOUNDARY_CASES = [
    pytest.param(industry, i, level, id=f"{industry}-{level}")
    for industry in OFFICIAL
    for i, level in enumerate(LEVELS)
]
NUDGE_CASES = [
    pytest.param(industry, i, level, key, id=f"{industry}-{level}-{key}-just-below")
    for industry, indicators in OFFICIAL.items()
    for i, level in enumerate(LEVELS)
    for key in indicators
]


@pytest.mark.parametrize(("industry", "level_index", "level"), BOUNDARY_CASES)
def test_at_every_lower_bound_is_that_size(policy: Policy, industry: str, level_index: int, level: str) -> None:
    result = classify_enterprise_size(policy, industry, **_args(industry, level_index))  # type: ignore[arg-type]
    assert result.size == level
    assert result.industry == industry


@pytest.mark.parametrize(("industry", "level_index", "level", "key"), NUDGE_CASES)
def test_one_indicator_just_below_drops_one_level(
    policy: Policy, industry: str, level_index: int, level: str, key: str
) -> None:
    result = classify_enterprise_size(policy, industry, **_args(industry, level_index, nudge=key))  # type: ignore[arg-type]
    assert result.size == BELOW[level]
    assert any("下划一档" in r.text for r in result.reasons)


# -- the cases from the brief, spelled out -------------------------------------------------------

@pytest.mark.parametrize(
    ("industry", "x", "y", "z", "expected"),
    [
        ("工业", 300, "2000", None, MEDIUM),
        ("工业", 299, "2000", None, SMALL),
        ("工业", 1000, "40000", None, LARGE),
        ("工业", 1000, "39999", None, MEDIUM),  # 大型 needs both: 下划一档
        ("工业", 19, "50000", None, MICRO),  # 微型 needs only one indicator below 小型
        ("工业", 1000, "100", None, MICRO),  # more than one level down when bounds fail further
        ("工业", 20, "300", None, SMALL),
        ("工业", 20, "299.99", None, MICRO),
        ("批发业", 5, "1000", None, SMALL),
        ("批发业", 4, "1000", None, MICRO),
        ("批发业", 200, "4999", None, SMALL),
        ("零售业", 50, "500", None, MEDIUM),
        ("零售业", 9, "20000", None, MICRO),
        ("农、林、牧、渔业", None, "50", None, SMALL),
        ("农、林、牧、渔业", None, "49.99", None, MICRO),
        ("农、林、牧、渔业", None, "20000", None, LARGE),
        ("建筑业", None, "80000", "79999", MEDIUM),
        ("建筑业", None, "300", "300", SMALL),
        ("建筑业", None, "100000", "299", MICRO),
        ("交通运输业", 300, "3000", None, MEDIUM),
        ("仓储业", 100, "999", None, SMALL),
        ("邮政业", 20, "99", None, MICRO),
        ("住宿业", 300, "10000", None, LARGE),
        ("餐饮业", 99, "2000", None, SMALL),
        ("信息传输业", 2000, "100000", None, LARGE),
        ("信息传输业", 1999, "100000", None, MEDIUM),
        ("软件和信息技术服务业", 10, "50", None, SMALL),
        ("软件和信息技术服务业", 10, "49", None, MICRO),
        ("房地产开发经营", None, "200000", "10000", LARGE),
        ("房地产开发经营", None, "1000", "4999", SMALL),
        ("房地产开发经营", None, "5000", "1999", MICRO),
        ("物业管理", 100, "500", None, SMALL),
        ("物业管理", 1000, "4999", None, MEDIUM),
        ("租赁和商务服务业", 300, None, "120000", LARGE),
        ("租赁和商务服务业", 10, None, "99", MICRO),
        ("其他未列明行业", 300, None, None, LARGE),
        ("其他未列明行业", 100, None, None, MEDIUM),
        ("其他未列明行业", 99, None, None, SMALL),
        ("其他未列明行业", 9, None, None, MICRO),
        ("工业", 0, "0", None, MICRO),
    ],
)
def test_examples(policy: Policy, industry: str, x: int | None, y: str | None, z: str | None, expected: str) -> None:
    assert size_of(policy, industry, x, y, z) == expected


def test_result_is_frozen_with_canonical_industry(policy: Policy) -> None:
    result = classify_enterprise_size(policy, "制造业", 250, D(3000))
    assert isinstance(result, EnterpriseSize)
    assert (result.size, result.industry, result.given_industry, result.label) == (SMALL, "工业", "制造业", "小型企业")
    assert result.values == {"employees": D(250), "revenue": D(3000)}
    with pytest.raises(AttributeError):
        result.size = LARGE  # type: ignore[misc]


# -- explanations ----------------------------------------------------------------------------------

def test_reasons_compare_each_indicator_with_each_bound_tried(policy: Policy) -> None:
    result = classify_enterprise_size(policy, "工业", 250, D(3000))
    by_rule = {r.rule: r for r in result.reasons}
    assert "从业人员 250人 < 1000人" in by_rule["enterprise_size.large"].text
    medium = by_rule["enterprise_size.medium"].text
    assert "从业人员 250人 < 300人（不满足）" in medium
    assert "营业收入 3000万元 ≥ 2000万元（满足）" in medium
    assert medium.endswith("未同时满足中型下限，下划一档")
    assert by_rule["enterprise_size.small"].text.endswith("同时满足小型下限 → 小型")
    assert by_rule["enterprise_size.medium"].inputs["employees"] == {"value": "250", "bound": "300", "met": False}
    assert all("2017" in r.source for r in result.reasons)


def test_micro_reason_names_the_indicator_below_small(policy: Policy) -> None:
    result = classify_enterprise_size(policy, "工业", 19, D(50000))
    micro = next(r for r in result.reasons if r.rule == "enterprise_size.micro")
    assert "只须满足所列指标中的一项" in micro.text
    assert "从业人员 19人 < 20人" in micro.text
    assert "营业收入" not in micro.text


def test_definitions_of_the_indicators_are_explained(policy: Policy) -> None:
    result = classify_enterprise_size(policy, "建筑业", None, D(6000), D(5000))
    note = next(r for r in result.reasons if r.rule == "enterprise_size.definitions").text
    assert "资产总计" in note and "主营业务收入" in note and "个体工商户参照本办法" in note
    assert "期末从业人员数" not in note  # 建筑业 does not use 从业人员
    note = classify_enterprise_size(policy, "其他", 10, None).reasons[-1].text
    assert "期末从业人员数" in note


def test_indicator_the_industry_does_not_use_is_ignored_with_a_note(policy: Policy) -> None:
    result = classify_enterprise_size(policy, "批发业", 5, D(1000), D(1))
    assert result.size == SMALL
    assert "assets" not in result.values
    assert any(r.rule == "enterprise_size.unused" and "资产总额" in r.text for r in result.reasons)
    # 农林牧渔 uses revenue only: an absurd headcount changes nothing.
    assert size_of(policy, "农林牧渔", 0, "20000") == LARGE


def test_grouping_is_explained_when_an_alias_is_used(policy: Policy) -> None:
    result = classify_enterprise_size(policy, "道路运输业", 300, D(3000))
    first = result.reasons[0]
    assert first.rule == "enterprise_size.industry"
    assert "交通运输业" in first.text and "不包括铁路运输业" in first.text


# -- industries: groupings, aliases, exclusions --------------------------------------------------

@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("采矿业", "工业"),
        ("制造业", "工业"),
        ("电力、热力、燃气及水生产和供应业", "工业"),
        ("电力热力燃气及水生产和供应业", "工业"),
        ("道路运输业", "交通运输业"),
        ("航空运输业", "交通运输业"),
        ("装卸搬运", "交通运输业"),
        ("电信、广播电视和卫星传输服务", "信息传输业"),
        ("互联网和相关服务", "信息传输业"),
        ("科学研究和技术服务业", "其他未列明行业"),
        ("水利、环境和公共设施管理业", "其他未列明行业"),
        ("居民服务、修理和其他服务业", "其他未列明行业"),
        ("社会工作", "其他未列明行业"),
        ("文化、体育和娱乐业", "其他未列明行业"),
        ("房地产中介服务", "其他未列明行业"),
        ("其他房地产业", "其他未列明行业"),
        ("农林牧渔业", "农、林、牧、渔业"),
        ("农林牧渔", "农、林、牧、渔业"),
        ("软件", "软件和信息技术服务业"),
        ("租赁", "租赁和商务服务业"),
        ("房地产开发", "房地产开发经营"),
        ("物业", "物业管理"),
        ("  工 业 ", "工业"),
        ("工业", "工业"),
    ],
)
def test_aliases_and_groupings(policy: Policy, given: str, canonical: str) -> None:
    assert resolve_industry(policy, given).name == canonical


def test_full_width_input_is_folded(policy: Policy) -> None:
    assert resolve_industry(policy, "农，林，牧，渔业").name == "农、林、牧、渔业"


@pytest.mark.parametrize("given", ["铁路运输业", "铁路运输", "铁路"])
def test_railway_is_not_covered_and_says_why(policy: Policy, given: str) -> None:
    with pytest.raises(IndustryNotCovered) as exc:
        classify_enterprise_size(policy, given, 5000, D(1000000))
    assert exc.value.name == "铁路运输业"
    assert "交通运输业不包括铁路运输业" in str(exc.value)
    assert not isinstance(exc.value, UnknownIndustry)


@pytest.mark.parametrize("given", ["金融业", "银行业", "自有房地产经营活动"])
def test_other_excluded_industries(policy: Policy, given: str) -> None:
    with pytest.raises(IndustryNotCovered):
        classify_enterprise_size(policy, given, 10, D(10))


def test_unknown_industry_lists_valid_names(policy: Policy) -> None:
    with pytest.raises(UnknownIndustry) as exc:
        classify_enterprise_size(policy, "航天", 10, D(10))
    assert exc.value.valid_names == list(OFFICIAL)
    assert "未识别的行业：航天" in str(exc.value)
    assert "其他未列明行业" in str(exc.value)
    assert isinstance(exc.value, ValueError)


def test_ambiguous_real_estate_suggests_the_rows(policy: Policy) -> None:
    with pytest.raises(UnknownIndustry) as exc:
        resolve_industry(policy, "房地产")
    assert exc.value.suggestions[0] == "房地产开发经营"
    assert any("其他未列明行业" in s and "房地产中介服务" in s for s in exc.value.suggestions)


@pytest.mark.parametrize("given", ["", "   ", "、"])
def test_empty_industry_is_unknown(policy: Policy, given: str) -> None:
    with pytest.raises(UnknownIndustry):
        resolve_industry(policy, given)


# -- missing and bad inputs ------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("industry", "x", "y", "z", "named"),
    [
        ("建筑业", 50, "6000", None, "资产总额"),
        ("房地产开发经营", None, "1000", None, "资产总额"),
        ("租赁和商务服务业", 100, "10", None, "资产总额"),
        ("租赁和商务服务业", None, None, "8000", "从业人员"),
        ("工业", None, "3000", None, "从业人员"),
        ("工业", 300, None, None, "营业收入"),
        ("农、林、牧、渔业", 10, None, None, "营业收入"),
        ("其他未列明行业", None, "1000", None, "从业人员"),
    ],
)
def test_missing_required_indicator_is_named(
    policy: Policy, industry: str, x: int | None, y: str | None, z: str | None, named: str
) -> None:
    with pytest.raises(MissingIndicator) as exc:
        size_of(policy, industry, x, y, z)
    assert named in str(exc.value)
    assert isinstance(exc.value, ValueError)


def test_missing_both_names_both(policy: Policy) -> None:
    with pytest.raises(MissingIndicator) as exc:
        size_of(policy, "建筑业", None, None, None)
    assert exc.value.missing == ["revenue", "assets"]
    assert "营业收入" in str(exc.value) and "资产总额" in str(exc.value)


def test_negative_and_non_finite_values_are_refused(policy: Policy) -> None:
    with pytest.raises(ValueError, match="从业人员不能为负数"):
        classify_enterprise_size(policy, "工业", -1, D(10))
    with pytest.raises(ValueError, match="营业收入不能为负数"):
        classify_enterprise_size(policy, "工业", 1, D("-0.01"))
    with pytest.raises(ValueError, match="不是有效数字"):
        classify_enterprise_size(policy, "工业", 1, D("NaN"))
    with pytest.raises(ValueError, match="不是有效数字"):
        classify_enterprise_size(policy, "建筑业", 1, D(1), D("Infinity"))


def test_floats_are_refused(policy: Policy) -> None:
    with pytest.raises(TypeError):
        classify_enterprise_size(policy, "农林牧渔", None, 49.99)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        classify_enterprise_size(policy, "工业", 250.0, D(1))  # type: ignore[arg-type]


def test_int_amounts_are_accepted(policy: Policy) -> None:
    assert classify_enterprise_size(policy, "工业", 300, 2000).size == MEDIUM


def test_section_or_whole_policy(policy: Policy) -> None:
    assert classify_enterprise_size(policy.enterprise_size, "工业", 300, D(2000)).size == MEDIUM


# -- policy validation ---------------------------------------------------------------------------

def test_policy_refuses_an_alias_used_twice() -> None:
    override = """
enterprise_size:
  industries:
    - name: 工业
      aliases: [批发]
      large: {employees: 1000}
      medium: {employees: 300}
      small: {employees: 20}
    - name: 批发业
      aliases: [批发]
      large: {employees: 200}
      medium: {employees: 20}
      small: {employees: 5}
"""
    with pytest.raises(ValueError, match="批发"):
        Policy.from_texts(default_policy_text(), override)


def test_policy_refuses_bounds_out_of_order() -> None:
    override = """
enterprise_size:
  industries:
    - name: 工业
      large: {employees: 100, revenue: 40000}
      medium: {employees: 300, revenue: 2000}
      small: {employees: 20, revenue: 300}
"""
    with pytest.raises(ValueError, match="large ≥ medium ≥ small"):
        Policy.from_texts(default_policy_text(), override)


def test_policy_refuses_mixed_indicators() -> None:
    override = """
enterprise_size:
  industries:
    - name: 工业
      large: {employees: 1000, revenue: 40000}
      medium: {employees: 300}
      small: {employees: 20, revenue: 300}
"""
    with pytest.raises(ValueError, match="same indicators"):
        Policy.from_texts(default_policy_text(), override)


def test_a_bank_can_override_the_table() -> None:
    override = """
enterprise_size:
  industries:
    - name: 工业
      large: {employees: 500, revenue: 40000}
      medium: {employees: 300, revenue: 2000}
      small: {employees: 20, revenue: 300}
"""
    policy = Policy.from_texts(default_policy_text(), override)
    assert classify_enterprise_size(policy, "工业", 500, D(40000)).size == LARGE
    with pytest.raises(UnknownIndustry):
        classify_enterprise_size(policy, "制造业", 500, D(40000))  # lists are replaced whole


# -- /size through the real command core -----------------------------------------------------------

@pytest.fixture()
def bot(tmp_path):  # type: ignore[no-untyped-def]
    import commands.size  # noqa: F401  (not yet in commands/__init__.py)
    from bot.core.app import Rmbot
    from bot.store.db import make_engine
    from bot.store.migrate import upgrade
    from bot.store.models import Org, Staff

    engine = make_engine(f"sqlite:///{tmp_path / 'size.db'}")
    upgrade(engine)
    with Session(engine) as session:
        session.add(Org(id="BR01", name="测试分行", level="branch", path="/BR01/"))
        session.commit()
        session.add(Staff(id="RM001", name="王芳", role="rm", org_id="BR01"))
        session.commit()
    yield Rmbot(engine, default_policy())
    engine.dispose()


def ask(bot, text: str):  # type: ignore[no-untyped-def]
    from bot.core.request import Request

    return bot.handle(Request(text, "console", "RM001"))


def fields(reply) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {f.label: f.value for f in reply.fields}


def test_size_command_answers_with_rule_and_source(bot) -> None:  # type: ignore[no-untyped-def]
    reply = ask(bot, "/size 工业 250 3000")
    assert reply.kind == "info"
    assert reply.summary == "小型企业（工业）"
    f = fields(reply)
    assert f["行业"] == "工业"
    assert f["从业人员(X)"] == "250人"
    assert f["营业收入(Y)"] == "3000万元"
    assert f["划型结果"] == "小型企业"
    steps = reply.sections[0].text
    assert "从业人员 250人 < 300人（不满足）" in steps and "下划一档" in steps
    assert any("2017" in n for n in reply.notes)
    assert any("期末从业人员数" in n for n in reply.notes)


@pytest.mark.parametrize(
    ("text", "summary"),
    [
        ("企业规模 制造业 1000 39999", "中型企业（工业）"),
        ("/规模 批发 5 1000", "小型企业（批发业）"),
        ("划型 建筑业 - 6000 5000", "中型企业（建筑业）"),
        ("/size 租赁 50 - 2亿", "小型企业（租赁和商务服务业）"),
        ("/size 农林牧渔 - 49.99万", "微型企业（农、林、牧、渔业）"),
        ("/size 工业 1,000 4亿", "大型企业（工业）"),
        ("／ｓｉｚｅ　工业　３００　２０００", "中型企业（工业）"),
        ("企业规模其他 10", "小型企业（其他未列明行业）"),
    ],
)
def test_size_command_variants(bot, text: str, summary: str) -> None:  # type: ignore[no-untyped-def]
    reply = ask(bot, text)
    assert reply.kind == "info", reply.summary
    assert reply.summary == summary


def test_size_command_shows_mapping_and_unused_indicator(bot) -> None:  # type: ignore[no-untyped-def]
    reply = ask(bot, "/size 批发 5 1000 3000")
    f = fields(reply)
    assert f["行业"] == "批发 → 批发业"
    assert f["资产总额(Z)"] == "3000万元（不参与本行业划型）"


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("/size", "请提供行业"),
        ("/size 航天 10 10", "未识别的行业：航天"),
        ("/size 铁路 10 10", "交通运输业不包括铁路运输业"),
        ("/size 建筑业 - 6000", "资产总额"),
        ("/size 工业", "从业人员"),
        ("/size 工业 250", "营业收入"),
        ("/size 工业 abc 3000", "从业人员须为非负整数"),
        ("/size 工业 250.5 3000", "从业人员须为非负整数"),
        ("/size 工业 -5 3000", "不能为负数"),
        ("/size 工业 250 -3000", "营业收入不能为负数"),
        ("/size 工业 250 NaN", "营业收入须为数字"),
        ("/size 工业 250 1e5", "营业收入须为数字"),
        ("/size 工业 250 三千", "营业收入须为数字"),
        ("/size 工业 99999999 3000", "超出合理范围"),
        ("/size 工业 250 99999999999", "超出合理范围"),
        ("/size 建筑业 - 6000 2000000亿", "超出合理范围"),
        ("/size 工业 250 3000.0000001", "精度过高"),
        ("/size 工业 250 3000 1 2", "参数过多"),
    ],
)
def test_size_command_bad_input_is_a_chinese_error_with_usage(bot, text: str, expect: str) -> None:  # type: ignore[no-untyped-def]
    reply = ask(bot, text)
    assert reply.kind == "error"
    assert expect in (reply.summary or "")
    assert reply.usage and reply.usage.startswith("/size <行业>")
    assert "编号" not in (reply.summary or "")  # a UserError, not the internal-error boundary


def test_size_command_unknown_industry_lists_valid_ones(bot) -> None:  # type: ignore[no-untyped-def]
    reply = ask(bot, "/size 宇宙 1 1")
    assert reply.kind == "error"
    for name in ("工业", "建筑业", "其他未列明行业"):
        assert name in (reply.summary or "")
