"""Options as RMs type them: Chinese or English keys, several date forms, spaces in places."""

from __future__ import annotations

from datetime import date

import pytest

from bot.campaigns.catalogue import load_catalogue
from bot.campaigns.options import (
    OptionError,
    check_options,
    parse_event_date,
    split_options,
)

CATALOGUE = load_catalogue()
TODAY = date(2026, 11, 21)


def test_keys_in_chinese_or_english_and_values_with_spaces() -> None:
    raw = split_options(["date=2026-12-05", "地点=西湖支行", "三楼", "时间:14:00"])
    assert raw == {"日期": "2026-12-05", "地点": "西湖支行 三楼", "时间": "14:00"}


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-12-05", date(2026, 12, 5)), ("2026/12/5", date(2026, 12, 5)), ("2026.12.05", date(2026, 12, 5)),
    ("2026年12月5日", date(2026, 12, 5)), ("12月5日", date(2026, 12, 5)), ("1月10号", date(2027, 1, 10)),
    ("2026-11-21", TODAY),
])
def test_event_dates(text: str, expected: date) -> None:
    assert parse_event_date(text, TODAY) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("2026-11-20", "已过"), ("2026-02-30", "不存在"), ("下周六", "格式不正确"), ("2028-01-01", "一年以后"),
])
def test_bad_event_dates(text: str, message: str) -> None:
    with pytest.raises(OptionError, match=message):
        parse_event_date(text, TODAY)


@pytest.mark.parametrize(("args", "message"), [
    (["三楼"], "键=值"), (["颜色=红"], "未知选项"), (["日期=2026-12-05", "日期=2026-12-06"], "重复"),
    (["地点="], "没有值"), (["地点=" + "楼" * 31], "过长"),
])
def test_malformed_options(args: list[str], message: str) -> None:
    with pytest.raises(OptionError, match=message):
        split_options(args)


def test_kind_specific_checks() -> None:
    silver = CATALOGUE.kinds["silver"]
    with pytest.raises(OptionError, match="缺少选项：日期、地点"):
        check_options({}, silver, CATALOGUE, TODAY)
    with pytest.raises(OptionError, match="不接受选项 产品"):  # no product talk at the seniors' class
        check_options({"日期": "12月5日", "地点": "三楼", "产品": "WM180"}, silver, CATALOGUE, TODAY)
    with pytest.raises(OptionError, match="时间格式"):
        check_options({"日期": "12月5日", "地点": "三楼", "时间": "下午两点"}, silver, CATALOGUE, TODAY)
    with pytest.raises(OptionError, match="结束时间"):
        check_options({"日期": "12月5日", "地点": "三楼", "时间": "16:00-14:00"}, silver, CATALOGUE, TODAY)
    youth = CATALOGUE.kinds["youth"]
    with pytest.raises(OptionError, match="未找到产品"):
        check_options({"产品": "XYZ"}, youth, CATALOGUE, TODAY)
    assert check_options({}, youth, CATALOGUE, TODAY).product == CATALOGUE.products["FUNDDCA"]  # the kind's default
    assert check_options({"产品": "wm180"}, youth, CATALOGUE, TODAY).product == CATALOGUE.products["WM180"]
    ok = check_options({"日期": "12月5日", "地点": "三楼", "时间": "9:30 - 11:00"}, silver, CATALOGUE, TODAY)
    assert (ok.event_date, ok.time) == (date(2026, 12, 5), "09:30-11:00")
