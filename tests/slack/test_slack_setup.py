"""Wiring: the server mounts the adapter, the manifest matches the code, Socket Mode setup."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml

from bot.adapters.slack import PATH, SLASH_COMMANDS, routes, socket_mode_handler
from bot.config import Settings
from bot.core.app import Rmbot
from tests.fakes.slack_api import FakeSlackAPI
from tests.slack.support import slack_settings

MANIFEST = Path(__file__).resolve().parents[2] / "slack_manifest.yaml"


def test_server_mounts_the_endpoint(base_url: str) -> None:
    with httpx.Client(timeout=5) as http:
        health = http.get(base_url + "/healthz").json()
        assert "slack" in health["platforms"]
        assert http.get(base_url + PATH).status_code == 405


def test_no_signing_secret_no_http_endpoint(core_bot: Rmbot, fake: FakeSlackAPI) -> None:
    settings = slack_settings(fake, SLACK_SIGNING_SECRET="", SLACK_APP_TOKEN="xapp-1-A-1-x")
    assert routes(core_bot, settings) == []


def test_socket_mode_handler_needs_an_app_token(core_bot: Rmbot, fake: FakeSlackAPI) -> None:
    with pytest.raises(ValueError):
        socket_mode_handler(core_bot, slack_settings(fake))
    with pytest.raises(ValueError):
        socket_mode_handler(core_bot, slack_settings(fake, SLACK_APP_TOKEN="xoxb-wrong-kind"))
    handler = socket_mode_handler(core_bot, slack_settings(fake, SLACK_APP_TOKEN="xapp-1-A0-1-abc"))
    try:
        assert handler.client.app_token == "xapp-1-A0-1-abc"  # built, not connected
        assert handler.client.web_client.base_url == fake.base_url
    finally:
        handler.close()


def test_manifest_matches_the_code(settings: Settings) -> None:
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    features = manifest["features"]
    commands = {c["command"].lstrip("/") for c in features["slash_commands"]}
    assert commands == set(SLASH_COMMANDS)
    from bot.core.registry import REGISTRY

    assert {spec.name for spec in REGISTRY.commands()} == commands  # every chat command is a slash command
    assert all(c["url"].endswith(PATH) for c in features["slash_commands"])
    settings_ = manifest["settings"]
    assert settings_["event_subscriptions"]["request_url"].endswith(PATH)
    assert set(settings_["event_subscriptions"]["bot_events"]) == {"app_mention", "message.im"}
    assert settings_["interactivity"]["is_enabled"] is True
    assert settings_["interactivity"]["request_url"].endswith(PATH)
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "app_mentions:read", "im:history", "im:write", "files:write",
            "channels:history", "groups:history"} <= scopes
    assert features["app_home"]["messages_tab_enabled"] is True
