"""The charts are real PNGs of a fixed size, drawn with the CJK font the project installs (never a
system font), with no missing glyph, and say in their text chunks what title and labels they show."""

from __future__ import annotations

import struct
import warnings
from collections.abc import Callable
from io import BytesIO

import pytest
from matplotlib import font_manager
from PIL import Image as PILImage

from bot import charts


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == charts.PNG_SIGNATURE
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    return struct.unpack(">II", data[16:24])


def png_text(data: bytes) -> dict[str, str]:
    with PILImage.open(BytesIO(data)) as im:
        im.load()
        return {k: v for k, v in im.info.items() if isinstance(v, str)}


def render_all(**kw: object) -> list[bytes]:
    return [
        charts.aum_trend([charts.Point("2026-09", 892_000_000), charts.Point("2026-10", 900_000_000),
                          charts.Point("11-20", 797_000_000)], "金融资产趋势 · 西湖支行"),
        charts.tier_distribution([("私人银行客户", 1), ("贵宾客户", 5), ("潜力客户", 3), ("长尾客户", 2)],
                                 "客户分层（所持等级）"),
        charts.followup_completion([("李强 RM002", 0, 3), ("王芳 RM001", 3, 0)], "跟进完成情况 · 本月（2026-11）"),
    ]


def test_the_cjk_font_is_the_packaged_one() -> None:
    import noto_cjk_sans_otc

    resolved = charts.cjk_font()
    assert str(resolved) == str(noto_cjk_sans_otc.FONT_PATH) == charts.font_file()
    assert resolved.face_index == 2  # Noto Sans CJK SC inside the collection
    entry = next(e for e in font_manager.fontManager.ttflist if e.name == charts.FONT_FAMILY)
    assert entry.fname == charts.font_file()
    assert "noto_cjk_sans_otc" in entry.fname  # inside the installed package, not a system font


def test_charts_are_pngs_of_fixed_size_with_no_missing_glyph() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        images = render_all()
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert missing == []
    for data in images:
        assert png_size(data) == (charts.WIDTH_PX, charts.HEIGHT_PX)
        assert 5_000 < len(data) < 200_000
        with PILImage.open(BytesIO(data)) as im:
            im.verify()


def test_the_missing_glyph_check_would_catch_tofu() -> None:
    """Proves the test above can fail: a character no CJK font has does warn."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        charts.tier_distribution([("\U00013000", 1)], "象形文字")
    assert any("missing from font" in str(w.message) for w in caught)


def test_charts_show_the_right_title_and_labels() -> None:
    aum, tiers, followup = render_all()
    meta = png_text(aum)
    assert meta["Title"] == "金融资产趋势 · 西湖支行"
    assert meta["Description"].split(" | ") == ["金融资产趋势 · 西湖支行", "金融资产（万元）", "2026-09", "2026-10", "11-20"]
    assert png_text(tiers)["Description"].split(" | ")[2:] == ["私人银行客户", "贵宾客户", "潜力客户", "长尾客户"]
    assert png_text(followup)["Description"].split(" | ")[1:] == ["已跟进", "未跟进", "李强 RM002", "王芳 RM001"]
    assert "Software" not in png_text(aum)  # no version string: the bytes depend on the figures only


def test_figure_texts_use_the_cjk_font() -> None:
    fig, labels = charts.tier_figure([("贵宾客户", 5), ("长尾客户", 2)], "客户分层")
    ax = fig.axes[0]
    assert ax.get_title() == "客户分层"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["贵宾客户", "长尾客户"]
    with charts.style():  # the family is resolved when drawing, inside the chart style
        for text in [ax.title, *ax.get_yticklabels()]:
            assert str(font_manager.findfont(text.get_fontproperties())) == charts.font_file()
    assert labels == ["客户分层", "客户数（户）", "贵宾客户", "长尾客户"]


def test_rendering_is_deterministic() -> None:
    assert render_all() == render_all()


@pytest.mark.parametrize("draw", [
    lambda: charts.aum_trend([], "金融资产趋势"),
    lambda: charts.tier_distribution([("贵宾客户", 0)], "客户分层"),
    lambda: charts.followup_completion([], "跟进完成情况"),
])
def test_empty_charts_still_render(draw: Callable[[], bytes]) -> None:
    data = draw()
    assert png_size(data) == (charts.WIDTH_PX, charts.HEIGHT_PX)
    assert png_text(data)["Description"] == png_text(data)["Title"]


def test_big_amounts_switch_to_yi() -> None:
    data = charts.aum_trend([charts.Point("2026-10", 45_000_000_000)], "全辖")
    assert "金融资产（亿元）" in png_text(data)["Description"]


def test_many_rms_are_capped() -> None:
    rows = [(f"客户经理{i:02d}", i, 1) for i in range(30)]
    fig, _labels = charts.followup_figure(rows, "跟进完成情况")
    assert len(fig.axes[0].get_yticklabels()) == charts.MAX_RMS


def test_a_system_font_of_the_same_name_does_not_win() -> None:
    """A server with Noto CJK installed system-wide: the packaged file is still the one used."""
    import dataclasses

    manager = font_manager.fontManager
    ours = next(e for e in manager.ttflist if e.name == charts.FONT_FAMILY and e.fname == charts.font_file())
    system = dataclasses.replace(ours, fname="/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
    manager.ttflist.insert(0, system)
    manager._findfont_cached.cache_clear()
    try:
        assert str(charts.cjk_font()) == charts.font_file()
    finally:
        manager.ttflist.remove(system)
        manager._findfont_cached.cache_clear()
