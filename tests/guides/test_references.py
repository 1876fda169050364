"""Every document the repository names is in the repository: README, .env.example, docs/ and the
code cite docs/…, never files kept beside a clone (a fresh clone has only itself)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NAMED = re.compile(r"(?<![\w./-])docs/[\w.-]+\.(?:md|env)\b")
OUTSIDE = re.compile(r"/work/shared|(?<![\w/])(?:DOMAIN|PLATFORMS)\.md")


def tracked() -> list[Path]:
    names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return [ROOT / n for n in names if n.endswith((".py", ".md", ".yaml", ".yml", ".env", ".example", ".j2", ".toml"))]


def test_named_docs_exist_and_nothing_points_outside() -> None:
    missing, outside = [], []
    for path in tracked():
        if not path.exists() or path.name == "test_references.py":
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        missing += [f"{path.relative_to(ROOT)}: {m}" for m in NAMED.findall(text) if not (ROOT / m).exists()]
        outside += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in OUTSIDE.finditer(text)]
    assert not missing, "named but absent:\n" + "\n".join(missing)
    assert not outside, "references outside the repository:\n" + "\n".join(outside)
