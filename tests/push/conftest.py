from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.calendar_data import load_calendar
from bot.push.service import PushService
from bot.testing import Harness, add_file_destinations
from rules.calendar import HolidayCalendar
from rules.policy import default_policy


@pytest.fixture(scope="session")
def calendar() -> HolidayCalendar:
    return load_calendar()


@pytest.fixture
def pushes(rmbot: Harness, tmp_path: Path, calendar: HolidayCalendar) -> Iterator[tuple[Harness, PushService, Path]]:
    folder = tmp_path / "outbox"
    add_file_destinations(rmbot.engine, folder)
    yield rmbot, PushService(rmbot.engine, default_policy(), calendar), folder
