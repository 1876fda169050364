import os
import time
from pathlib import Path

import pytest
import yaml

from rules.compliance import (
    LintResult,
    LintRules,
    default_lint_rules,
    default_rules_text,
    format_findings,
    lint,
)

RULES = default_lint_rules()
SEEDS_ENV = "RMBOT_SEEDS_DIR"
"""Where the source documents are kept, outside the repository; `.ci/run` sets it when they exist.

The quotes below are checked against the documents only where this names them: a fresh clone alone
must pass, and it has no documents beside it."""

# Sentences quoted verbatim from the seed documents (checked below when the seeds are present).
SEED_000_WANGSHA = "二重希望客户财富健康,每个到会的客户都有资格拥有一个保底收益,无风险,月复利的投资工具。"
SEED_000_BENIGN = "新项目:20分钟的互动,有游戏,有抽奖,有有奖问答等,保证客户参与其中。"
SEED_001_GUARANTEE = "现在部分银行还有保本保收益理财,可以酌情考虑,一般一年以内。"
SEED_001_NO_RISK = "更倾向于通过无风险投资实现财富保障。"
SEED_002_STRUCTURED = "配套服务产品:结构性存款、保本理财、长期理财产品等。"
SEED_002_HIGH_RETURN = "还能享受资本市场带来的⾼收益。"  # ⾼ is U+2FBC KANGXI RADICAL TALL, as in the seed
SEED_003_RULE = "規(guī)范營(yíng)銷話術(shù)(如禁止承諾保本、夸大收益)"  # traditional, as in the seed
SEED_004_FIRST = "作为中国第一家由企业创办的商业银行"
SEED_004_TOP = "奢华尊宠,顶级盛宴——庞比度工商银行贵宾联谊会"
SEED_004_HIGH_RETURN = "如高额信用贷款、高收益理财产品等"
SEED_004_FIRST_TIME = "那必然在第一时间成为业内的焦点"
SEED_004_BEST_EFFORT = "我们将尽最大努力确保本次活动的顺利举行"

WEALTH_WARNING = "理财非存款、产品有风险、投资须谨慎。"
SD_WARNING = "结构性存款不同于一般性存款，具有投资风险，您应当充分认识投资风险，谨慎投资。"
PERF_WARNING = "理财产品过往业绩不代表其未来表现，不等于理财产品实际收益，投资须谨慎。"


def ids(text: str) -> set[str]:
    return set(lint(text, RULES).rule_ids)


def excerpts(text: str, rule_id: str) -> list[str]:
    return [f.excerpt for f in lint(text, RULES).by_rule(rule_id)]


def assert_spans(result: LintResult, text: str) -> None:
    for f in result.findings:
        assert text[f.span[0]:f.span[1]] == f.excerpt, f


# --- the seeds ---------------------------------------------------------------------------------


SEED_QUOTES = [
    ("000", SEED_000_WANGSHA), ("000", SEED_000_BENIGN), ("001", SEED_001_GUARANTEE), ("001", SEED_001_NO_RISK),
    ("002", SEED_002_STRUCTURED), ("002", SEED_002_HIGH_RETURN), ("003", SEED_003_RULE), ("004", SEED_004_FIRST),
    ("004", SEED_004_TOP), ("004", SEED_004_HIGH_RETURN), ("004", SEED_004_FIRST_TIME), ("004", SEED_004_BEST_EFFORT),
]

if os.environ.get(SEEDS_ENV):
    # Collected only where the documents are named, so a fresh clone neither fails nor skips here.
    @pytest.mark.parametrize(("prefix", "quote"), SEED_QUOTES)
    def test_seed_quotes_are_verbatim(prefix: str, quote: str) -> None:
        seeds = Path(os.environ[SEEDS_ENV])
        assert seeds.is_dir(), f"{SEEDS_ENV}={seeds} is not a folder of seed documents"
        (path,) = seeds.glob(f"{prefix}_*.txt")
        assert quote in path.read_text(encoding="utf-8")


def test_seed_000_wangsha_pitch_is_blocked() -> None:
    result = lint(SEED_000_WANGSHA, RULES)
    assert result.blocked
    assert [(f.rule_id, f.excerpt) for f in result.findings] == [
        ("adlaw.25.guarantee", "保底"), ("adlaw.25.no_risk", "无风险")]
    assert result.findings[0].span == (SEED_000_WANGSHA.index("保底"), SEED_000_WANGSHA.index("保底") + 2)
    assert_spans(result, SEED_000_WANGSHA)


def test_seed_000_guarantee_of_participation_is_no_promise_of_return() -> None:
    assert lint(SEED_000_BENIGN, RULES).clean


def test_seed_001_principal_and_no_risk_promises() -> None:
    assert excerpts(SEED_001_GUARANTEE, "adlaw.25.guarantee") == ["保本保收益"]
    assert "wealth.risk_warning" in ids(SEED_001_GUARANTEE)
    assert excerpts(SEED_001_NO_RISK, "adlaw.25.no_risk") == ["无风险"]


def test_seed_002_structured_deposit_sold_as_principal_guaranteed_wealth() -> None:
    result = lint(SEED_002_STRUCTURED, RULES)
    assert result.rule_ids == {"adlaw.25.guarantee", "sd.called_principal_wealth", "sd.risk_warning",
                               "wealth.risk_warning"}
    assert [f.excerpt for f in result.by_rule("sd.called_principal_wealth")] == ["保本理财"]
    assert_spans(result, SEED_002_STRUCTURED)


def test_seed_002_kangxi_radical_does_not_hide_high_return() -> None:
    result = lint(SEED_002_HIGH_RETURN, RULES)
    (finding,) = result.findings
    assert (finding.rule_id, finding.severity, finding.excerpt) == ("wealth.high_return", "warn", "⾼收益")
    assert not result.blocked
    assert_spans(result, SEED_002_HIGH_RETURN)


def test_seed_003_rule_text_in_traditional_characters_is_a_denial() -> None:
    assert lint(SEED_003_RULE, RULES).clean
    text = "本產品穩賺不賠，無風險。"
    result = lint(text, RULES)
    assert [(f.rule_id, f.excerpt) for f in result.findings] == [
        ("adlaw.25.sure_profit", "穩賺不賠"), ("adlaw.25.no_risk", "無風險")]
    assert_spans(result, text)


def test_seed_004_absolute_terms() -> None:
    assert excerpts(SEED_004_FIRST, "adlaw.9.absolute") == ["第一"]
    assert excerpts(SEED_004_TOP, "adlaw.9.absolute") == ["顶级"]
    assert lint(SEED_004_FIRST_TIME, RULES).clean
    assert lint(SEED_004_BEST_EFFORT, RULES).clean  # neither 最大 (尽最大努力) nor 保本 (确保本次)


def test_seed_004_high_return_wealth_without_warning() -> None:
    assert ids(SEED_004_HIGH_RETURN) == {"wealth.high_return", "wealth.risk_warning"}


# --- every rule, both sides --------------------------------------------------------------------

RULE_EXAMPLES: dict[str, tuple[str, str]] = {
    "adlaw.25.guarantee": ("这款产品保本，放心买。", "这款产品不保本，可能损失本金。"),
    "adlaw.25.no_risk": ("资金零风险。", "本产品并非零风险，风险等级为R2。"),
    "adlaw.25.sure_profit": ("稳赚不赔，错过可惜！", "投资可能亏损，并非稳赚。"),
    "amr.rigid_redemption": ("到期刚性兑付，请放心。", "资管新规打破刚兑，产品按净值兑付。"),
    "amr.expected_return": ("预期收益率4.2%。", "业绩比较基准不是预期收益率。"),
    "wealth.high_return": ("享受高收益！", "收益高低与市场表现相关。"),
    "adlaw.9.absolute": ("全市最佳的服务。", "第一次来网点的客户送小礼品。"),
    "adlaw.9.superlative": ("利率最高可达3%。", "我们将尽最大努力服务好您。"),
    "wealth.called_deposit": ("这是一款存款型理财。" + WEALTH_WARNING, "理财与存款不同：" + WEALTH_WARNING),
    "sd.called_principal_wealth": ("结构性存款是一种保本理财。" + SD_WARNING,
                                   "结构性存款属于存款，不是理财产品。" + SD_WARNING),
    "wealth.risk_warning": ("推荐R2稳健型理财产品。", "推荐R2稳健型理财产品。" + WEALTH_WARNING),
    "sd.risk_warning": ("新发结构性存款，1万元起。", "新发结构性存款，1万元起。" + SD_WARNING),
    "perf.disclaimer": ("该产品2024年度收益3.1%。", "该产品2024年度收益3.1%。过往业绩不代表其未来表现。"),
    "perf.period": ("近一年收益3.1%。过往业绩不代表其未来表现。",
                    "2024年7月1日至2025年6月30日，近一年收益3.1%。过往业绩不代表其未来表现。"),
    "benchmark.promise": ("业绩比较基准3.5%，一定能达到。", "业绩比较基准3.5%，不代表未来表现，不构成收益承诺。"),
}


def test_every_shipped_rule_has_examples() -> None:
    assert set(RULE_EXAMPLES) == {r.id for r in RULES.rules}


@pytest.mark.parametrize("rule_id", sorted(RULE_EXAMPLES))
def test_rule_fires_on_bad_and_not_on_good(rule_id: str) -> None:
    bad, good = RULE_EXAMPLES[rule_id]
    bad_result = lint(bad, RULES)
    assert rule_id in bad_result.rule_ids
    assert_spans(bad_result, bad)
    assert rule_id not in ids(good)
    spec = RULES.rule(rule_id)
    assert spec is not None and spec.source and bad_result.by_rule(rule_id)[0].source == spec.source
    assert bad_result.blocked == any(f.severity == "block" for f in bad_result.findings)


@pytest.mark.parametrize("rule_id", sorted(RULE_EXAMPLES))
def test_good_examples_are_clean(rule_id: str) -> None:
    result = lint(RULE_EXAMPLES[rule_id][1], RULES)
    assert result.clean, format_findings(result)


# --- forbidden phrases -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phrase", "rule_id"),
    [("保本", "adlaw.25.guarantee"), ("保收益", "adlaw.25.guarantee"), ("保息", "adlaw.25.guarantee"),
     ("保底", "adlaw.25.guarantee"), ("承诺收益", "adlaw.25.guarantee"), ("保证收益", "adlaw.25.guarantee"),
     ("确保本金", "adlaw.25.guarantee"), ("本金无忧", "adlaw.25.guarantee"),
     ("无风险", "adlaw.25.no_risk"), ("零风险", "adlaw.25.no_risk"), ("绝对安全", "adlaw.25.no_risk"),
     ("100%安全", "adlaw.25.no_risk"), ("没有任何风险", "adlaw.25.no_risk"),
     ("稳赚", "adlaw.25.sure_profit"), ("稳赚不赔", "adlaw.25.sure_profit"), ("只赚不赔", "adlaw.25.sure_profit"),
     ("保证不亏", "adlaw.25.sure_profit"),
     ("刚性兑付", "amr.rigid_redemption"), ("刚兑", "amr.rigid_redemption"),
     ("预期收益率", "amr.expected_return"), ("预期年化收益率", "amr.expected_return"),
     ("国家级", "adlaw.9.absolute"), ("最高级", "adlaw.9.absolute"), ("最佳", "adlaw.9.absolute"),
     ("最好", "adlaw.9.absolute"), ("第一", "adlaw.9.absolute"), ("唯一", "adlaw.9.absolute"),
     ("顶级", "adlaw.9.absolute"), ("首选", "adlaw.9.absolute"), ("No.1", "adlaw.9.absolute"),
     ("理财存款", "wealth.called_deposit"), ("存款型理财", "wealth.called_deposit"),
     ("理财就是存款", "wealth.called_deposit")],
)
def test_forbidden_phrase_blocks(phrase: str, rule_id: str) -> None:
    text = f"我行产品{phrase}，欢迎咨询。"
    result = lint(text, RULES)
    assert result.blocked
    finding = result.by_rule(rule_id)[0]
    assert (finding.excerpt, finding.severity) == (phrase, "block")
    assert finding.span == (text.index(phrase), text.index(phrase) + len(phrase))


@pytest.mark.parametrize(("phrase", "rule_id"), [("高收益", "wealth.high_return"), ("高回报", "wealth.high_return"),
                                                 ("最高", "adlaw.9.superlative")])
def test_soft_phrases_only_warn(phrase: str, rule_id: str) -> None:
    result = lint(f"本次活动{phrase}，欢迎咨询。", RULES)
    assert [(f.rule_id, f.severity, f.excerpt) for f in result.findings] == [(rule_id, "warn", phrase)]
    assert not result.blocked


@pytest.mark.parametrize(
    "text",
    ["本产品不保本，可能损失本金。", "非保本浮动收益型产品。", "我行不承诺保本。", "本产品不保证本金。",
     "本产品不保本不保息。", "本产品并非无风险。", "本产品不承诺收益。", "不得向客户承诺或暗示保本、保收益。",
     "本产品不是零风险产品。", "投资并非稳赚。", "禁止承诺保本。", "本产品不 保本。", "业绩比较基准并非预期收益率。",
     "本产品不保证本金和收益，可能损失本金。"],
)
def test_required_negated_disclosures_are_not_flagged(text: str) -> None:
    result = lint(text, RULES)
    assert result.clean, format_findings(result)


@pytest.mark.parametrize(
    "text",
    ["这款不一样的保本产品。", "不仅保本，还有高收益。", "不用担心，保本。", "绝不会亏，还能保底。"],
)
def test_a_nearby_negation_word_does_not_excuse_a_promise(text: str) -> None:
    assert lint(text, RULES).blocked


@pytest.mark.parametrize(
    "text",
    ["第一次来网点的客户送礼品。", "开户第一天即可起息。", "第一步：填写风险测评。", "第一，利率优惠；第二，手续简便。",
     "第一、到场签到。", "活动第一期定于周六。", "唯一的要求是本人到场。", "最好提前十分钟到场。",
     "我刚兑换了积分。", "确保本次活动顺利举行。", "医保本人账户可查询。", "收益高低与市场相关。",
     "最高人民法院发布典型案例。", "本息和以最高额抵押担保。", "实现客户价值最大化。"],
)
def test_benign_uses_of_listed_words(text: str) -> None:
    result = lint(text, RULES)
    assert result.clean, format_findings(result)


@pytest.mark.parametrize("text", ["全省存款规模第一。", "我行是第一家推出该服务的银行。", "排名第一，", "唯一指定银行。",
                                  "最好的理财经理团队。"])
def test_ranking_claims_still_flagged(text: str) -> None:
    assert "adlaw.9.absolute" in ids(text)


def test_guarantee_suggestion_names_the_disclosure() -> None:
    (finding,) = lint("保本！", RULES).findings
    assert "本产品不保本，可能损失本金" in finding.suggestion
    (other,) = lint("资金零风险。", RULES).findings
    assert "风险等级" in other.suggestion


# --- required disclosures ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "warning",
    ["理财非存款、产品有风险、投资须谨慎", "理财非存款，产品有风险，投资须谨慎", "理财非存款,产品有风险,投资须谨慎",
     "理财非存款；产品有风险；投资须谨慎", "理财非存款 产品有风险 投资须谨慎", "理财非存款、产品有风险、投资需谨慎",
     "“理财非存款，产品有风险，投资须谨慎！”", "理财产品非存款、产品有风险、投资须谨慎", "理財非存款、產品有風險、投資須謹慎",
     "理财非存款\n产品有风险\n投资须谨慎"],
)
def test_wealth_warning_variants_are_accepted(warning: str) -> None:
    assert lint(f"代发专享理财，1千元起购。{warning}", RULES).clean


@pytest.mark.parametrize("partial", ["理财有风险", "产品有风险，投资须谨慎", "理财非存款", "投资有风险，入市需谨慎"])
def test_partial_wealth_warning_is_not_enough(partial: str) -> None:
    assert "wealth.risk_warning" in ids(f"代发专享理财，1千元起购。{partial}。")


def test_wealth_warning_finding_points_at_the_first_product_mention() -> None:
    text = "请联系您的理财经理，了解新发理财产品。"
    (finding,) = lint(text, RULES).findings
    assert finding.rule_id == "wealth.risk_warning"
    assert finding.span[0] == text.index("理财产品")
    assert finding.excerpt == "理财"


@pytest.mark.parametrize("text", ["欢迎联系您的理财经理。", "周六举办理财讲座，免费理财规划咨询。", "理财中心营业时间9:00-17:00。"])
def test_jobs_places_and_events_are_not_products(text: str) -> None:
    assert lint(text, RULES).clean


@pytest.mark.parametrize(
    "warning",
    [SD_WARNING, "结构性存款不同于一般性存款,具有投资风险", "结构性存款产品不同于一般性存款；具有投资风险。",
     "結構性存款不同於一般性存款，具有投資風險"],
)
def test_structured_deposit_warning_variants(warning: str) -> None:
    assert lint(f"结构性存款1万元起，挂钩黄金价格。{warning}", RULES).clean


def test_structured_deposit_never_principal_guaranteed_wealth_even_with_warning() -> None:
    text = "结构性存款就是保本理财。" + SD_WARNING
    assert ids(text) == {"adlaw.25.guarantee", "sd.called_principal_wealth", "wealth.risk_warning"}
    assert ids("结构性存款不是保本理财。" + SD_WARNING) <= {"wealth.risk_warning"}


def test_past_performance_needs_period_and_disclaimer() -> None:
    text = "该理财产品近一年年化收益4.5%。" + WEALTH_WARNING
    result = lint(text, RULES)
    assert result.rule_ids == {"perf.disclaimer", "perf.period"}
    assert {f.excerpt for f in result.findings} == {"近一年年化收益"}
    assert_spans(result, text)


@pytest.mark.parametrize(
    "period",
    ["2024年7月1日至2025年6月30日", "2024.07.01-2025.06.30", "2024/7/1~2025/6/30", "数据截至2025年6月30日",
     "统计区间：2024年度", "２０２４年度", "2024年1月—12月"],
)
def test_past_performance_period_variants(period: str) -> None:
    text = f"近一年年化收益4.5%（{period}）。{PERF_WARNING}{WEALTH_WARNING}"
    assert lint(text, RULES).clean, format_findings(lint(text, RULES))


@pytest.mark.parametrize(
    "shown",
    ["成立以来年化收益4.1%", "历史收益稳定", "过往业绩优秀", "上期实际年化4.2%", "去年收益率3.9%", "近6个月收益2.1%",
     "近三个月年化回报2.8%"],
)
def test_past_performance_triggers(shown: str) -> None:
    assert {"perf.disclaimer", "perf.period"} <= ids(f"{shown}。")


def test_fund_style_disclaimer_is_accepted() -> None:
    assert lint("2024年度收益3.2%。基金的过往业绩并不预示其未来表现。", RULES).clean


def test_the_disclaimer_alone_shows_no_performance() -> None:
    assert lint("稳健理财产品，1万元起。" + WEALTH_WARNING + PERF_WARNING, RULES).clean


def test_a_denial_carries_over_a_list_of_phrases() -> None:
    assert lint("不得向客户承诺或暗示保本、保收益、无风险。", RULES).clean
    assert lint("本产品不保本和保息。", RULES).clean
    # a comma ends the list: the second clause is a claim of its own
    assert excerpts("本产品不保本，保收益。", "adlaw.25.guarantee") == ["保收益"]


def test_benchmark_presented_as_promise_warns() -> None:
    result = lint("业绩比较基准3.5%，到期一定兑付。", RULES)
    assert [(f.rule_id, f.severity, f.excerpt) for f in result.findings] == [("benchmark.promise", "warn", "一定")]
    assert "benchmark.promise" not in ids("业绩比较基准3.5%。周六活动一定要来哦！")  # another sentence


@pytest.mark.parametrize("text", ["业绩比较基准在一定程度上反映投资策略。", "业绩比较基准3.5%，净值有一定波动。",
                                  "业绩比较基准不构成对产品收益的承诺或保证。"])
def test_benchmark_with_benign_wording(text: str) -> None:
    assert "benchmark.promise" not in ids(text)


@pytest.mark.parametrize("text", ["理财是存款之外的另一种选择。" + WEALTH_WARNING,
                                  "结构性存款是理财经理推荐的产品。" + SD_WARNING])
def test_deposit_and_wealth_in_one_sentence_is_not_always_a_confusion(text: str) -> None:
    assert lint(text, RULES).clean, format_findings(lint(text, RULES))


def test_a_warning_inside_a_block_finding_is_dropped() -> None:
    result = lint("业绩比较基准4%，保证高收益。", RULES)
    assert [(f.rule_id, f.excerpt) for f in result.findings] == [("adlaw.25.guarantee", "保证高收益")]


# --- offsets, width variants, size -------------------------------------------------------------


def test_spans_point_into_the_original_text() -> None:
    text = "【限时】保本理财，零风险！\n近一年收益5%，全市第一。理财存款，预期收益率4%。"
    result = lint(text, RULES)
    assert_spans(result, text)
    assert [f.span[0] for f in result.findings] == sorted(f.span[0] for f in result.findings)
    found = {(f.rule_id, f.excerpt) for f in result.findings}
    assert {("adlaw.25.guarantee", "保本"), ("adlaw.25.no_risk", "零风险"), ("adlaw.9.absolute", "第一"),
            ("wealth.called_deposit", "理财存款"), ("amr.expected_return", "预期收益率")} <= found


@pytest.mark.parametrize(
    ("text", "excerpt", "rule_id"),
    [("资金１００％安全！", "１００％安全", "adlaw.25.no_risk"), ("ＮＯ．１的服务", "ＮＯ．１", "adlaw.9.absolute"),
     ("服务top 1", "top 1", "adlaw.9.absolute"), ("本品保\u200b本。", "保\u200b本", "adlaw.25.guarantee"),
     ("预期年化收益率４％", "预期年化收益率", "amr.expected_return")],
)
def test_full_width_and_invisible_characters(text: str, excerpt: str, rule_id: str) -> None:
    result = lint(text, RULES)
    assert [(f.rule_id, f.excerpt) for f in result.findings] == [(rule_id, excerpt)]
    assert_spans(result, text)


def test_empty_text() -> None:
    result = lint("", RULES)
    assert result.clean and not result.blocked
    assert format_findings(result) == []


def test_long_text_is_linted_quickly_and_exactly() -> None:
    block = ("代发专享稳健理财，业绩比较基准3.2%（不代表未来表现，不构成收益承诺），1千元起购，第一次购买送礼品。"
             "欢迎联系您的理财经理。理财非存款、产品有风险、投资须谨慎。\n")
    head = block * (50_000 // len(block))
    text = (head + "保底收益！" + block * (100_000 // len(block)))[:100_000]
    assert len(text) == 100_000
    started = time.perf_counter()
    result = lint(text, RULES)
    elapsed = time.perf_counter() - started
    assert [(f.rule_id, f.span[0]) for f in result.findings] == [("adlaw.25.guarantee", len(head))]
    assert elapsed < 5, elapsed  # about 0.05 s locally


def test_pathological_repetition_stays_linear() -> None:
    started = time.perf_counter()
    result = lint("保本" * 50_000, RULES)
    assert len(result.findings) == 50_000
    assert time.perf_counter() - started < 5


# --- result helpers and formatting -------------------------------------------------------------


def test_result_helpers() -> None:
    result = lint("享受高收益，保本！", RULES)
    assert result.blocked and not result.clean
    assert [f.rule_id for f in result.blocks] == ["adlaw.25.guarantee"]
    assert [f.rule_id for f in result.warnings] == ["wealth.high_return"]
    assert result.rule_ids == {"adlaw.25.guarantee", "wealth.high_return"}
    assert result.rules_version == RULES.version


def test_format_findings() -> None:
    lines = format_findings(lint("享受高收益，保本！", RULES))
    assert lines[0].startswith("[提示] wealth.high_return「高收益」 ")
    assert lines[1].startswith("[阻断] adlaw.25.guarantee「保本」 《广告法》第二十五条：不得明示或暗示保本")
    assert "建议：删除“保本”；如需说明本金情况，写“本产品不保本，可能损失本金”。" in lines[1]
    full = format_findings(lint("保本！", RULES), full_source=True)[0]
    assert "银发〔2019〕316号" in full


# --- the table is data -------------------------------------------------------------------------

BANK_OVERRIDE = """
rules:
  - id: wealth.high_return
    severity: block
  - id: adlaw.9.superlative
    enabled: false
  - id: bank.demo.gold_gift
    kind: phrase
    severity: warn
    source: "本行营销宣传管理办法 第十二条"
    message: 礼品宣传须经合规审核。
    suggestion: 删除礼品价值描述。
    terms: [送金条]
"""


def test_a_bank_extends_and_overrides_the_table() -> None:
    rules = LintRules.from_texts(default_rules_text(), BANK_OVERRIDE)
    assert len(rules.rules) == len(RULES.rules) + 1
    result = lint("高收益，利率最高，开户送金条！", rules)
    assert [(f.rule_id, f.severity) for f in result.findings] == [
        ("wealth.high_return", "block"), ("bank.demo.gold_gift", "warn")]
    assert result.by_rule("bank.demo.gold_gift")[0].source == "本行营销宣传管理办法 第十二条"
    assert "adlaw.9.superlative" in lint("利率最高", RULES).rule_ids  # the shipped table is untouched


@pytest.mark.parametrize(
    ("rule", "error"),
    [("{id: x.y, kind: phrase, severity: block, source: s, message: m, suggestion: s, patterns: ['(']}", "bad regex"),
     ("{id: x.y, kind: phrase, severity: block, source: s, message: m, suggestion: s, patterns: ['a*']}", "empty"),
     ("{id: x.y, kind: disclosure, severity: block, source: s, message: m, suggestion: s, terms: [a]}", "required"),
     ("{id: x.y, kind: phrase, severity: fatal, source: s, message: m, suggestion: s, terms: [a]}", "severity"),
     ("{id: x.y, kind: phrase, severity: block, message: m, suggestion: s, terms: [a]}", "source"),
     ("{id: x.y, kind: phrase, severity: block, source: s, message: m, suggestion: s, term: [a]}", "term")],
)
def test_invalid_rules_are_rejected(rule: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        LintRules.from_texts(default_rules_text(), f"rules: [{rule}]")


def test_duplicate_ids_are_rejected() -> None:
    text = "version: v\nnegation: {prefixes: [不]}\nrules:\n" + "".join(
        "  - {id: a.b, kind: phrase, severity: warn, source: s, message: m, suggestion: s, terms: [x]}\n" for _ in "12")
    with pytest.raises(ValueError, match="duplicate"):
        LintRules.model_validate(yaml.safe_load(text))


def test_every_shipped_rule_cites_a_source_and_speaks_chinese() -> None:
    for rule in RULES.rules:
        assert rule.source.strip()
        assert any("\u4e00" <= ch <= "\u9fff" for ch in rule.message), rule.id
        assert any("\u4e00" <= ch <= "\u9fff" for ch in rule.suggestion), rule.id


def test_first_line_is_not_a_ranking_claim() -> None:
    from rules.compliance import default_lint_rules, lint

    assert not [f for f in lint("请把活动时间写在第一行。", default_lint_rules()).findings if f.rule_id == "adlaw.9.absolute"]
