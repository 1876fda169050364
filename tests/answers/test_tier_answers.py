"""/tier, /maturing and /churn answers that fit the case (issue 15, findings 3 and 4), on SQLite
and PostgreSQL: the outflow to other banks is shown and acted on, today/tomorrow are said as
such and come first, wording matches the numbers, advice matches the customer."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from bot.testing import DEMO_DATA_DATE, DEMO_NOW, Harness

TODAY = DEMO_NOW.date()


def run(bank: Harness, sql: str, **params: object) -> None:
    with bank.engine.begin() as conn:
        conn.execute(text(sql), params)


def peak_fen(bank: Harness, cid: str) -> int:
    with bank.engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT max(month_end_fen) FROM aum_monthly WHERE customer_id = :c AND month >= :m AND month < :cur"),
            {"c": cid, "m": DEMO_DATA_DATE.replace(day=1) - timedelta(days=95), "cur": DEMO_DATA_DATE.replace(day=1)},
        ).scalar_one())


def move_to_other_bank(bank: Harness, cid: str, share_of_peak: str, other_bank_fen: int) -> None:
    peak = peak_fen(bank, cid)
    current = peak * int(share_of_peak.rstrip("%")) // 100
    run(bank, "UPDATE balance SET aum_fen = :a, outflow_other_bank_fen = :o WHERE customer_id = :c AND as_of = :d",
        a=current, o=other_bank_fen, c=cid, d=DEMO_DATA_DATE)


def test_tier_shows_the_outflow_to_other_banks_as_churn_does(bank: Harness) -> None:
    move_to_other_bank(bank, "C0000004", "60%", 15 * 1_000_000)
    churn = [line for line in bank.ask("RM001", "/churn").text.splitlines() if "C0000004" in line]
    assert churn and "流向他行" in churn[0] and "15.0万" in churn[0], churn
    dm = bank.ask("RM001", "/tier C0000004")
    fields = {f.label: f.value for f in dm.reply.fields}
    assert fields["资金流向"].startswith("流向他行 15.00万")
    assert "他行" in fields["建议"] and "针对性挽留" in fields["建议"] and "后续产品跟进" in fields["建议"]
    group = bank.ask("RM001", "/tier C0000004", channel="group")
    gfields = {f.label: f.value for f in group.reply.fields}
    assert "15.00万" not in group.text and "15.0万" not in group.text
    assert gfields["资金流向"] == "流向他行 10–20万"  # the band, as for every amount in a group
    assert "他行" in gfields["建议"] and "15" not in gfields["建议"]


def test_no_outflow_line_when_nothing_went_to_other_banks(bank: Harness) -> None:
    run(bank, "UPDATE balance SET outflow_other_bank_fen = 0 WHERE customer_id = 'C0000004'")
    assert "资金流向" not in {f.label for f in bank.ask("RM001", "/tier C0000004").reply.fields}


def test_maturing_today_and_tomorrow_are_said_so_and_today_comes_first(bank: Harness) -> None:
    with bank.engine.connect() as conn:
        small = conn.execute(text(
            "SELECT id FROM holding WHERE customer_id = 'C0000001' AND maturity_date IS NOT NULL "
            "ORDER BY amount_fen LIMIT 1")).scalar_one()
    run(bank, "UPDATE holding SET kind = '定期存款', maturity_date = :d, amount_fen = 500000 WHERE id = :i",
        d=TODAY, i=small)
    tier = bank.ask("RM001", "/tier C0000001")
    table = tier.reply.tables[0]
    assert table.columns[-1] == "距到期"
    assert table.rows[0][-1] == "今天到期"  # soonest first, whatever the amount
    assert all("0 天" not in row[-1] for row in table.rows)
    assert "最早 今天到期" in {f.label: f.value for f in tier.reply.fields}["建议"]
    answer = bank.ask("RM001", "/maturing")
    first = answer.reply.sections[0].items[0].text
    assert "C0000001" in first and "⚠ 今天到期" in first, first
    assert "（0 天后）" not in answer.text and "（1 天后）" not in answer.text
    run(bank, "UPDATE holding SET maturity_date = :d WHERE id = :i", d=TODAY + timedelta(days=1), i=small)
    assert "明天到期" in bank.ask("RM001", "/maturing").text
    assert "明天到期" in bank.ask("RM001", "/maturing", channel="group").text


def test_strategic_basis_does_not_end_in_another_class(bank: Harness) -> None:
    answer = bank.ask("RM001", "/tier C0000011")
    assert answer.reply.summary == "战略客户"
    basis = {f.label: f.value for f in answer.reply.fields}["依据"]
    assert "已人工认定为战略客户" in basis
    for other in ("潜在合作客户", "优质客户", "持续贡献客户"):
        assert f"→ {other}" not in basis, basis


def test_a_falling_customer_is_not_described_as_not_growing(bank: Harness) -> None:
    move_to_other_bank(bank, "C0000004", "50%", 0)
    behaviour = {f.label: f.value for f in bank.ask("RM001", "/tier C0000004").reply.fields}["行为状态"]
    assert "资产未增长" not in behaviour
    assert "净流出" in behaviour, behaviour


def test_just_upgraded_vip_gets_upgrade_advice(bank: Harness) -> None:
    run(bank, "UPDATE balance SET aum_fen = :a WHERE customer_id = 'C0000008'", a=21 * 1_000_000)
    answer = bank.ask("RM001", "/tier C0000008")
    fields = {f.label: f.value for f in answer.reply.fields}
    assert fields["分层"] == "贵宾客户（本次升级）"
    assert fields["建议"].startswith("刚升级为贵宾客户"), fields["建议"]
    assert "基金定投" not in fields["建议"]


def test_never_contacted_private_banking_customer_gets_a_first_visit(bank: Harness) -> None:
    run(bank, "DELETE FROM contact WHERE customer_id = 'C0000002'")
    advice = {f.label: f.value for f in bank.ask("RM001", "/tier C0000002").reply.fields}["建议"]
    assert advice.startswith("私人银行客户从未联系"), advice
    assert "私人银行团队" in advice and "基金定投" not in advice


def test_the_advice_uses_the_maturity_window_of_the_policy(bank: Harness) -> None:
    from rules.policy import Policy, default_policy_text

    advice = {f.label: f.value for f in bank.ask("RM001", "/tier C0000001").reply.fields}["建议"]
    assert "7 天内到期" in advice  # the 定期 2 days ahead (11-23), inside the default 7-day window
    narrow = Harness(bank.engine, Policy.from_texts(default_policy_text(), "maturity: {window_days: 1}"))
    advice = {f.label: f.value for f in narrow.ask("RM001", "/tier C0000001").reply.fields}["建议"]
    assert "天内到期" not in advice, advice
