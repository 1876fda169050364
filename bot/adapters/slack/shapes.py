"""Is a signed body shaped like a Slack payload? Checked before Bolt sees it.

Bolt's middleware, listener matchers and its own "unhandled request" log line index Slack's
envelope without checking it (`body["view"]["type"]`, `actions[0].get(...)`, `view.get(...)`):
a correctly signed body with a field of the wrong type, or a view without its `type`, became an
HTTP 500 and a traceback. Every field Bolt or our handlers read is listed here once, with the
types Slack sends; a body that disagrees is answered 400 by the transport instead.
(tests/slack/test_slack_shapes.py throws generated payload shapes at the live endpoint.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

STR = (str,)
OBJ = (dict,)
FLAG = (bool, str)  # JSON payloads send booleans, form-encoded commands the words "true"/"false"

FIELDS: dict[str, tuple[type, ...]] = {
    # top level: slash commands (form fields), interactivity payloads, Events API envelopes
    **{k: STR for k in (
        "type", "command", "text", "user_id", "user_name", "channel_id", "channel_name", "team_id", "team_domain",
        "enterprise_id", "enterprise_name", "response_url", "trigger_id", "callback_id", "action_id", "block_id",
        "value", "event_id", "challenge", "api_app_id", "token", "action_ts", "message_ts", "context_team_id",
        "context_enterprise_id", "ssl_check")},
    "is_enterprise_install": FLAG,
    "event_time": (int, str),
    "user": (dict, str), "team": (dict, str), "channel": (dict, str), "enterprise": (dict, str),
    **{k: OBJ for k in ("container", "message", "view", "state", "event", "workflow_step", "submission",
                        "function_data")},
    "actions": (list,), "authorizations": (list,), "response_urls": (list,),
    **{f"{parent}.{k}": STR for parent in ("user", "team", "channel", "enterprise")
       for k in ("id", "team_id", "name", "username", "domain", "enterprise_id")},
    **{f"container.{k}": STR for k in ("type", "message_ts", "channel_id", "thread_ts", "view_id")},
    "container.is_ephemeral": (bool,),
    **{f"message.{k}": STR for k in ("type", "ts", "thread_ts", "text", "user", "bot_id", "team")},
    "message.blocks": (list,),
    **{f"view.{k}": STR for k in (
        "id", "type", "callback_id", "team_id", "app_installed_team_id", "private_metadata", "hash",
        "root_view_id", "previous_view_id", "external_id", "app_id", "bot_id")},
    "view.state": OBJ,
    "view.blocks": (list,),
    "actions[]": OBJ,
    **{f"actions[].{k}": STR for k in ("action_id", "block_id", "type", "value", "action_ts")},
    "authorizations[]": OBJ,
    **{f"authorizations[].{k}": STR for k in ("team_id", "enterprise_id", "user_id")},
    "authorizations[].is_bot": (bool,),
    "response_urls[]": OBJ,
    **{f"event.{k}": STR for k in (
        "type", "subtype", "channel_type", "text", "ts", "thread_ts", "event_ts", "bot_id", "team",
        "user_team", "source_team", "tab", "client_msg_id", "function_execution_id")},
    "event.user": (dict, str),  # user_change and team_join carry the whole user
    "event.channel": (str, dict),  # channel_created and friends carry the whole channel
    **{f"event.{k}": OBJ for k in ("message", "previous_message", "workflow_step", "function", "inputs")},
    **{f"event.{m}.{k}": STR for m in ("message", "previous_message")
       for k in ("type", "subtype", "ts", "thread_ts", "text", "user", "bot_id", "team")},
}
"""Where a field may appear and what it may hold; `x[]` is each element of the list `x`.
JSON null is accepted for scalars and for `team`/`channel`/`enterprise`/`user`/`message`
(org-wide installs send some of them); an object or list Bolt reads into (`view`, `event`,
`actions` …) must be one."""

NULLABLE_OBJECTS = frozenset({"team", "channel", "enterprise", "user", "message"})

REQUIRED: dict[str, tuple[str, ...]] = {
    "view": ("type",),  # Bolt: is_view_submission(...) and body["view"]["type"] == "workflow_step"
    "event": ("type",),
    "actions[]": ("action_id",),
}
"""Children that must be present whenever their parent is."""


def _values(body: dict[str, Any], path: str) -> Iterator[tuple[str, Any]]:
    """(concrete path, value) for every place `path` names in `body` that exists."""
    nodes: list[tuple[str, Any]] = [("", body)]
    for part in path.split("."):
        each = part.endswith("[]")
        key = part.removesuffix("[]")
        found: list[tuple[str, Any]] = []
        for where, node in nodes:
            if not isinstance(node, dict) or key not in node:
                continue
            value = node[key]
            name = f"{where}.{key}" if where else key
            if each:
                if isinstance(value, list):
                    found += [(f"{name}[{i}]", v) for i, v in enumerate(value)]
            else:
                found.append((name, value))
        nodes = found
    return iter(nodes)


def shape_problem(body: Any) -> str | None:
    """Why a signed body cannot be a Slack payload, if it cannot (a short reason, no values)."""
    if not isinstance(body, dict):
        return "body is not an object"
    for path, types in FIELDS.items():
        for name, value in _values(body, path):
            if value is None and (path in NULLABLE_OBJECTS or not {dict, list} & set(types)):
                continue
            if not isinstance(value, types):
                return f"{name} has the wrong type"
    for path, children in REQUIRED.items():
        for name, value in _values(body, path):
            missing = [c for c in children if not isinstance(value, dict) or c not in value]
            if missing:
                return f"{name} has no {missing[0]}"
    if body.get("type") == "block_actions" and not body.get("actions"):
        return "block_actions without actions"
    if body.get("type") == "event_callback" and not isinstance(body.get("event"), dict):
        return "event_callback without an event"
    return None
