"""Both databases for the answer tests of issue 15: the same data edits, the same texts."""

from __future__ import annotations

import pytest

from bot.testing import Harness


@pytest.fixture(params=["sqlite", "postgresql"])
def bank(request: pytest.FixtureRequest) -> Harness:
    return request.getfixturevalue("rmbot" if request.param == "sqlite" else "rmbot_pg")  # type: ignore[no-any-return]
