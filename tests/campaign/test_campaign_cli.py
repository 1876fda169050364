"""`rmbot lint FILE` (exit codes, UTF-8 and GBK) and `rmbot campaign export` (managers only,
minimised columns, audited), run in-process through typer as `bot/cli.py` mounts them."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from sqlalchemy import select
from sqlmodel import Session
from typer.testing import CliRunner

from bot import clock
from bot.campaigns.catalogue import load_catalogue
from bot.cli_campaign import CSV_COLUMNS, campaign_app, lint_cmd
from bot.config import get_settings
from bot.store.campaigns import audience_counts, audience_select
from bot.store.models import AuditLog
from bot.testing import DEMO_DATA_DATE, Harness
from rules.policy import default_policy

app = typer.Typer()
app.command("lint")(lint_cmd)
app.add_typer(campaign_app, name="campaign")
runner = CliRunner()
BAD = "本产品保本保收益，稳赚不赔。"
GOOD = "12月5日下午两点，西湖支行客户答谢茶话会，欢迎参加。"


@pytest.fixture
def cli_db(rmbot: Harness, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    monkeypatch.setenv("DATABASE_URL", str(rmbot.engine.url))
    monkeypatch.delenv("RMBOT_CAMPAIGNS_FILE", raising=False)
    get_settings.cache_clear()
    yield rmbot
    get_settings.cache_clear()


def test_lint_exit_codes_and_encodings(tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_text(GOOD, encoding="utf-8")
    result = runner.invoke(app, ["lint", str(good)])
    assert result.exit_code == 0 and "未发现问题" in result.stdout

    bad = tmp_path / "bad_gbk.txt"
    bad.write_bytes(("开头一行正常。\n" + BAD).encode("gbk"))
    result = runner.invoke(app, ["lint", str(bad)])
    assert result.exit_code == 1, result.stdout
    assert f"{bad}:2:4 [阻断] adlaw.25.guarantee「保本保收益」" in result.stdout and "共 2 项阻断" in result.stdout

    warn_only = tmp_path / "warn.txt"
    warn_only.write_text("\ufeff这款产品收益高，欢迎咨询。", encoding="utf-8")  # BOM, a warning only
    result = runner.invoke(app, ["lint", str(warn_only)])
    assert result.exit_code == 0 and "wealth.high_return" in result.stdout

    json_run = runner.invoke(app, ["lint", "--json", "-"], input=BAD)
    assert json_run.exit_code == 1 and '"blocked": true' in json_run.stdout

    assert runner.invoke(app, ["lint", str(tmp_path / "missing.txt")]).exit_code == 2
    assert runner.invoke(app, ["lint", str(tmp_path)]).exit_code == 2  # a directory
    binary = tmp_path / "x.bin"
    binary.write_bytes(b"\xff\xfe\x00\x81\x30\xff\xff")
    unreadable = runner.invoke(app, ["lint", str(binary)])
    assert unreadable.exit_code == 2 and "无法读取" in unreadable.output


def test_lint_handles_a_100000_character_file(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_text(("欢迎来网点喝茶聊天。" * 10_000) + BAD, encoding="utf-8")
    result = runner.invoke(app, ["lint", str(big)])
    assert result.exit_code == 1 and ":1:100004 [阻断] adlaw.25.guarantee" in result.stdout


def test_export_writes_minimised_csv_for_a_manager_and_is_audited(cli_db: Harness, tmp_path: Path) -> None:
    out = tmp_path / "名单.csv"
    result = runner.invoke(app, ["campaign", "export", "沉睡激活", "--as", "BM01", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(out.open(encoding="utf-8-sig")))
    assert rows[0] == CSV_COLUMNS
    with Session(cli_db.engine) as s:
        stmt = audience_select(load_catalogue().kinds["dormant"].audience, default_policy(), "/BR01/SB01/",
                               clock.today(), DEMO_DATA_DATE)  # the CLI runs on the real clock
        total = audience_counts(s, stmt).total
        assert len(rows) - 1 == total > 0
        body = "\n".join(",".join(r) for r in rows[1:])
        assert "C0000005" in body and all(r[6] == "沉睡客户" for r in rows[1:])
        assert all("*" in r[1] for r in rows[1:])  # names masked
        assert not any(ch.isdigit() for r in rows[1:] for ch in r[1])  # no phone or ID digits in the name column
        entry = s.execute(select(AuditLog).where(AuditLog.action == "campaign_export")).scalars().one()
        assert (entry.staff_id, entry.outcome, entry.target) == ("BM01", "allowed", "audience:dormant:SB01")


def test_export_of_a_draft_and_refusals(cli_db: Harness, tmp_path: Path) -> None:
    answer = cli_db.ask("RM001", "/campaign 贵宾 日期=2026-12-12 地点=西湖支行二楼")
    draft_id = next(f.value for f in answer.reply.fields if f.label == "草稿号")
    out = tmp_path / "vip.csv"
    ok = runner.invoke(app, ["campaign", "export", draft_id, "--as", "REG01", "--out", str(out), "--encoding", "gbk"])
    assert ok.exit_code == 0, ok.output
    rows = list(csv.reader(out.open(encoding="gb18030")))
    assert {r[5] for r in rows[1:]} <= {"贵宾客户", "私人银行客户"} and "C0000001" in {r[0] for r in rows[1:]}

    rm = runner.invoke(app, ["campaign", "export", draft_id, "--as", "RM001", "--out", str(tmp_path / "a.csv")])
    assert rm.exit_code == 2 and "客户经理不能导出" in rm.output
    other = runner.invoke(app, ["campaign", "export", draft_id, "--as", "BM02", "--out", str(tmp_path / "b.csv")])
    assert other.exit_code == 2 and "未找到草稿" in other.output
    wrong_branch = runner.invoke(app, ["campaign", "export", "银发", "--as", "BM01", "--branch", "SB02", "--out", str(tmp_path / "c.csv")])
    assert wrong_branch.exit_code == 2
    unknown = runner.invoke(app, ["campaign", "export", "火星", "--as", "BM01", "--out", str(tmp_path / "d.csv")])
    assert unknown.exit_code == 2 and "未知的活动类型" in unknown.output
    assert not (tmp_path / "a.csv").exists() and not (tmp_path / "b.csv").exists()
    with Session(cli_db.engine) as s:
        outcomes = {(a.staff_id, a.outcome) for a in s.execute(select(AuditLog).where(AuditLog.action == "campaign_export")).scalars()}
    assert {("REG01", "allowed"), ("RM001", "denied"), ("BM02", "denied"), ("BM01", "denied")} <= outcomes
