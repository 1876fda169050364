"""Campaign tests: the command modules are imported here so they are registered with the core
even before `commands/__init__.py` lists them (importing twice is harmless)."""

from __future__ import annotations

import commands.approve
import commands.campaign
import commands.lint  # noqa: F401
