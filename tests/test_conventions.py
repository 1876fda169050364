"""The conventions an operator expects of a Python service: `python -m bot`, `--version`, typed package."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import metadata, version
from pathlib import Path

import bot


def test_python_dash_m_bot_is_the_rmbot_command() -> None:
    done = subprocess.run([sys.executable, "-m", "bot", "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"rmbot {version('rmbot')}"


def test_the_package_says_it_is_typed_and_what_it_is() -> None:
    assert (Path(bot.__file__).parent / "py.typed").is_file()
    meta = metadata("rmbot")
    assert "Typing :: Typed" in meta.get_all("Classifier")
    assert meta["License"] or any(c.startswith("License ::") for c in meta.get_all("Classifier"))
