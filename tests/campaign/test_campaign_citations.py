"""Campaign drafts cite the public source of each idea, never an internal file name (issue 15)."""

from __future__ import annotations

import pytest

from bot.campaigns.catalogue import load_catalogue
from bot.testing import Harness

CATALOGUE = load_catalogue()


@pytest.mark.parametrize("kind_id", sorted(CATALOGUE.kinds))
def test_the_shown_part_of_every_source_is_a_public_title(kind_id: str) -> None:
    shown = CATALOGUE.kinds[kind_id].source.split(":")[0]  # what the draft's 思路 line shows
    assert "seed" not in shown.lower() and "DOMAIN" not in shown and ".md" not in shown, shown
    assert "《" in shown and "》" in shown, shown


def test_a_dormant_draft_cites_the_published_article(rmbot: Harness) -> None:
    answer = rmbot.ask("RM001", "/campaign 沉睡激活 日期=2026-12-05 地点=西湖支行三楼 时间=14:00")
    idea = {f.label: f.value for f in answer.reply.fields}["思路"]
    assert "康晓百科《银行长尾客户营销活动方案》" in idea and "seed" not in idea, idea
