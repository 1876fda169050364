"""Logging tests: the redaction filter in-process, and the real commands in subprocesses."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `tests.fakes` lives beside the packages, not inside them
    sys.path.insert(0, str(ROOT))
