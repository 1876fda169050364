"""The Jinja2 environment shared by every renderer.

A bank may override any template by putting a file of the same name in RMBOT_TEMPLATES_DIR;
the shipped templates are the fallback.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, StrictUndefined


@lru_cache(maxsize=8)
def jinja_env(override_dir: str | None = None, autoescape: bool = False) -> Environment:
    loaders: list[FileSystemLoader | PackageLoader] = []
    if override_dir:
        loaders.append(FileSystemLoader(str(Path(override_dir))))
    loaders.append(PackageLoader("bot", "render/templates"))
    env = Environment(
        loader=ChoiceLoader(loaders),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        autoescape=autoescape,
    )
    return env
