from decimal import Decimal

import pytest

from rules.masking import aum_band, mask_name, mask_phone, mask_tail
from rules.money import fmt_threshold_wan, fmt_wan, yuan_to_fen
from rules.policy import default_policy

BANDS = default_policy().aum_bands_yuan


@pytest.mark.parametrize(("name", "masked"), [("张三", "张*"), ("王小明", "王**"), ("欧阳娜娜", "欧阳**"),
                                              ("欧阳", "欧*"), ("李", "*"), ("诸葛亮", "诸葛*"),
                                              ("阿依古丽·买买提江", "阿***"), ("Zhang Wei", "Z***"), ("", ""),
                                              ("杭州西湖科技有限公司", "杭州****有限公司")])
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_mask_phone_and_ids() -> None:
    assert mask_phone("13812341234") == "138****1234"
    assert mask_tail("330102199001011234") == "****1234"
    assert mask_phone(None) == "—"


@pytest.mark.parametrize(("yuan", "band"), [(49_999, "5万以下"), (50_000, "5–10万"), (199_999, "10–20万"),
                                            (200_000, "20–50万"), (5_999_999, "300–600万"), (6_000_000, "600万以上")])
def test_aum_bands(yuan: int, band: str) -> None:
    assert aum_band(yuan * 100, BANDS) == band


def test_money_formatting_is_exact() -> None:
    assert fmt_wan(236_000_00) == "23.60万"
    assert fmt_wan(5) == "0.00万"
    assert fmt_threshold_wan(200_000_00) == "20万"
    assert yuan_to_fen(Decimal("12.34")) == 1234
    with pytest.raises(ValueError):
        yuan_to_fen("0.001")
