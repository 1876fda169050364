"""slack_manifest.yaml against Slack's own published app manifest JSON schema (vendored in
manifest_schema/, see its README): what Slack's "Create from manifest" would refuse fails here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

HERE = Path(__file__).resolve().parent
SCHEMAS = HERE / "manifest_schema"
MANIFEST = HERE.parents[1] / "slack_manifest.yaml"
UPSTREAM = "https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/"


def load(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


def validator() -> Draft7Validator:
    """The entry-point schema, its versioned parts served from the vendored copies (no network)."""
    registry: Registry = Registry().with_resources(
        (UPSTREAM + name, Resource.from_contents(load(name), default_specification=DRAFT7))
        for name in ("manifest.schema.1.0.0.json", "manifest.schema.2.0.0.json"))
    schema = load("manifest.schema.json")
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema, registry=registry)


def reasons(error: ValidationError) -> list[str]:
    """The leaf reasons: a oneOf failure only says "not valid under any of the given schemas"."""
    if not error.context:
        return [f"{'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"]
    return sorted({r for sub in error.context for r in reasons(sub)})


def manifest() -> dict[str, Any]:
    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))


def test_manifest_is_valid_against_slacks_schema() -> None:
    errors = list(validator().iter_errors(manifest()))
    assert not errors, "\n".join(r for e in errors for r in reasons(e))


def test_usage_hints_are_the_commands_usage() -> None:
    """A hint only where the command takes arguments (Slack refuses an empty one)."""
    import commands  # noqa: F401  (registers the shipped commands)
    from bot.core.registry import REGISTRY

    usage = {spec.name: spec.usage for spec in REGISTRY.commands()}
    for entry in manifest()["features"]["slash_commands"]:
        name = entry["command"].lstrip("/")
        takes_arguments = usage[name].strip() != f"/{name}"
        assert ("usage_hint" in entry) == takes_arguments, name


@pytest.mark.parametrize("breakage", ["empty usage hint", "no display name", "unknown setting"])
def test_the_schema_check_catches_what_slack_refuses(breakage: str) -> None:
    """The validator really checks: each breakage Slack refuses makes it fail."""
    broken = manifest()
    if breakage == "empty usage hint":
        broken["features"]["slash_commands"][0]["usage_hint"] = ""
    elif breakage == "no display name":
        del broken["display_information"]["name"]
    else:
        broken["settings"]["frobnicate"] = True
    assert not validator().is_valid(broken)
