"""Slack adapter: slack-bolt in HTTP mode (inside our Starlette app) or Socket Mode.

Slack payload → neutral `Request` → `Rmbot` → neutral `Reply` → Block Kit (bot.render.blockkit)
→ Slack. Nothing outside this package knows Slack's wire formats.
"""

from bot.adapters.slack.app import SLASH_COMMANDS, build_app
from bot.adapters.slack.endpoint import PATH, routes
from bot.adapters.slack.socket_mode import run_socket_mode, socket_mode_handler

__all__ = ["PATH", "SLASH_COMMANDS", "build_app", "routes", "run_socket_mode", "socket_mode_handler"]
