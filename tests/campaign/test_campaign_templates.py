"""Every shipped template in every variant, with sample data, passes the lint; SMS fit in 70."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.campaigns.catalogue import Catalogue, load_catalogue
from bot.campaigns.checks import check_texts, finding_lines
from bot.campaigns.options import check_options
from bot.campaigns.render import (
    VARIANTS,
    TemplateProblem,
    build_data,
    render_all,
    render_variant,
    template_name,
)
from bot.render.env import jinja_env
from rules.compliance import default_lint_rules, lint

CATALOGUE = load_catalogue()
RULES = default_lint_rules()
TODAY = date(2026, 11, 21)
TEMPLATES = Path(__file__).resolve().parents[2] / "bot" / "render" / "templates" / "campaign"
# Realistic, rather long values: the SMS must still fit with them.
SAMPLE = {"日期": "2026-12-05", "时间": "14:00-16:00", "地点": "西湖支行三楼会议室", "主题": "健康养生与家庭财富规划",
          "礼品": "定制保温杯", "单位": "杭州云帆制造有限公司", "节日": "春节"}


def _cases() -> list[tuple[str, str, str | None]]:
    """(kind, which options: required only / all, product code or None) for every combination."""
    out = []
    for kind in CATALOGUE.kinds.values():
        products = [None, *CATALOGUE.products] if "产品" in kind.accepted else [None]
        for extent in ("required", "all"):
            out += [(kind.id, extent, p) for p in products]
    return out


def _render(kind_id: str, extent: str, product: str | None, catalogue: Catalogue = CATALOGUE,
            templates_dir: str | None = None) -> dict[str, str]:
    kind = catalogue.kinds[kind_id]
    keys = kind.accepted if extent == "all" else kind.required
    raw = {k: SAMPLE[k] for k in keys if k != "产品"}
    if product:
        raw["产品"] = product
    options = check_options(raw, kind, catalogue, TODAY)
    return render_all(build_data(catalogue, kind, options, "西湖支行", "邱伟", 15), templates_dir)


def test_catalogue_has_the_eight_kinds_of_domain_6_each_with_three_templates() -> None:
    names = {k.name for k in CATALOGUE.kinds.values()}
    assert {"沉睡客户激活", "代发工资客群", "商户集群", "拆迁款承接", "贵宾客户联谊", "银发客群关爱", "年轻客群", "节日生日关怀"} <= names
    for kind_id in CATALOGUE.kinds:
        for variant in VARIANTS:
            assert (TEMPLATES / f"{kind_id}.{variant}.j2").is_file(), (kind_id, variant)


@pytest.mark.parametrize(("kind_id", "extent", "product"), _cases())
def test_every_template_and_variant_is_lint_clean_and_sms_fits(kind_id: str, extent: str, product: str | None) -> None:
    texts = _render(kind_id, extent, product)
    check = check_texts(texts, RULES, CATALOGUE.bank)
    assert check.clean, finding_lines(check.findings)
    assert set(texts) == set(VARIANTS) and all(texts.values())
    sms = texts["sms"]
    assert len(sms) <= 70, (len(sms), sms)
    assert "\n" not in sms and sms.startswith("【示范银行】") and sms.endswith("拒收请回复R")
    assert "西湖支行" in texts["group"] and "西湖支行" in texts["dm"]
    if kind_id in ("dormant", "vip", "silver", "relocation", "payroll"):
        assert all("12月5日（周六）" in texts[v] for v in VARIANTS)  # the event date reaches every variant


@pytest.mark.parametrize("code", ["WM180", "SDGOLD", "FUNDDCA", "INSANN"])
def test_product_copy_carries_risk_level_and_required_disclosure(code: str) -> None:
    texts = _render("youth", "all", code)
    product = CATALOGUE.products[code]
    for variant in ("group", "dm"):
        assert product.name in texts[variant]
        assert CATALOGUE.disclosures[product.kind] in texts[variant]
        if product.risk_level:
            assert f"产品风险等级 {product.risk_level}" in texts[variant]
    assert product.name not in texts["sms"]  # no room for disclosures in 70 characters: SMS never name products


def test_removing_the_disclosure_is_caught() -> None:
    """The lint, not the template, is what keeps copy compliant: strip the warning and it blocks."""
    texts = _render("payroll", "all", "WM1K")
    bare = texts["group"].replace("理财非存款、产品有风险、投资须谨慎。", "")
    assert "wealth.risk_warning" in lint(bare, RULES).rule_ids and lint(bare, RULES).blocked


def test_long_option_values_make_an_over_long_sms_a_blocking_finding() -> None:
    kind = CATALOGUE.kinds["dormant"]
    options = check_options({"日期": "2026-12-05", "时间": "14:00-16:00", "地点": "西湖区文三路一百二十八号西湖支行三楼多功能会议室"},
                            kind, CATALOGUE, TODAY)
    texts = render_all(build_data(CATALOGUE, kind, options, "西湖支行", "邱伟", 15))
    check = check_texts(texts, RULES, CATALOGUE.bank)
    assert len(texts["sms"]) > 70 and check.blocked
    assert [f.rule_id for f in check.findings["sms"]] == ["sms.length"]


def test_a_bank_overrides_a_template_by_dropping_a_file_in_its_templates_dir(tmp_path: Path) -> None:
    (tmp_path / "campaign").mkdir()
    (tmp_path / "campaign" / "vip.sms.j2").write_text("{{ bank.sms_signature }}{{ d.branch_name }}贵宾下午茶，详询客户经理。{{ bank.sms_opt_out }}",
                                                     encoding="utf-8")
    texts = _render("vip", "required", None, templates_dir=str(tmp_path))
    assert texts["sms"] == "【示范银行】西湖支行贵宾下午茶，详询客户经理。拒收请回复R"
    assert "贵宾沙龙邀请" in texts["group"]  # the other variants fall back to the shipped files


def test_a_broken_override_is_an_operator_error_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "campaign").mkdir()
    (tmp_path / "campaign" / "vip.dm.j2").write_text("{{ d.no_such_field }}", encoding="utf-8")
    kind = CATALOGUE.kinds["vip"]
    options = check_options({"日期": "2026-12-05", "地点": "三楼"}, kind, CATALOGUE, TODAY)
    with pytest.raises(TemplateProblem, match="vip.dm.j2"):
        render_variant(build_data(CATALOGUE, kind, options, "西湖支行", "邱伟", 3), "dm", str(tmp_path))


def test_bank_catalogue_override_merges_products_and_audience_parameters(tmp_path: Path) -> None:
    override = tmp_path / "bank.yaml"
    override.write_text("bank: {name: 杭州某银行, sms_signature: 【杭州某银行】}\n"
                        "products: {WM180: {enabled: false}, WMNEW: {name: 新产品, kind: 理财, risk_level: R2, min_yuan: 1}}\n"
                        "kinds: {silver: {audience: {min_age: 65}}}\n", encoding="utf-8")
    catalogue = load_catalogue(override)
    assert catalogue.product("WM180") is None and catalogue.product("wmnew") is not None
    assert catalogue.kinds["silver"].audience.min_age == 65 and catalogue.kinds["silver"].required == ["日期", "地点"]
    texts = _render("silver", "required", None, catalogue)
    assert texts["sms"].startswith("【杭州某银行】") and "杭州某银行" in texts["group"]


def test_template_names_follow_kind_and_variant() -> None:
    assert template_name("dormant", "sms") == "campaign/dormant.sms.j2"
    assert jinja_env(None).get_template("campaign/_macros.j2") is not None
