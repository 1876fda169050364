"""The README's lists of commands and the Slack guide's list of scopes are the manifest's and the
command registry's: a command or scope added in one place and not the others fails here."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

import commands  # noqa: F401  (registers the shipped commands)
from bot.core.registry import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
MANIFEST = yaml.safe_load((ROOT / "slack_manifest.yaml").read_text(encoding="utf-8"))


def section(text: str, heading: str) -> str:
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def manifest_commands() -> set[str]:
    return {c["command"] for c in MANIFEST["features"]["slash_commands"]}


def test_the_manifest_registers_every_command_of_the_registry() -> None:
    assert manifest_commands() == {f"/{spec.name}" for spec in REGISTRY.commands()}


def test_the_commands_table_lists_every_command_with_real_aliases() -> None:
    rows = [line for line in section(README, "Commands").splitlines() if line.startswith("| `/")]
    listed: set[str] = set()
    for row in rows:
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", row.strip("|")) if c.strip()]  # `\|` is inside a cell
        names = re.findall(r"`/([a-z]+)", cells[0])
        listed.update(names)
        aliases = {a.strip() for a in cells[1].split(",")}
        real = {a for name in names for a in REGISTRY.lookup(name).aliases}  # type: ignore[union-attr]
        assert aliases <= real, (names, aliases - real)
    assert {f"/{n}" for n in listed} == manifest_commands()


def test_the_slack_section_names_every_slash_command() -> None:
    m = re.search(r"It registers the slash commands `([^`]+)`", README)
    assert m, "the Slack section's list of slash commands"
    assert set(m.group(1).split()) == manifest_commands()


def test_the_slack_guide_lists_every_scope_of_the_manifest() -> None:
    guide = (ROOT / "docs" / "slack.md").read_text(encoding="utf-8")
    rows = [line for line in guide.splitlines() if re.match(r"\s*\| `[a-z_:.]+`", line)]
    listed = {scope for row in rows for scope in re.findall(r"`([a-z_]+:[a-z_.]+|commands)`", row.split("|")[1])}
    assert listed == set(MANIFEST["oauth_config"]["scopes"]["bot"])
