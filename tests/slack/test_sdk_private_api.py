"""The slack_sdk internals KeepAliveWebClient relies on (bot/adapters/slack/push.py).

It overrides `_perform_urllib_http_request_internal` and calls `_build_urllib_request_headers`:
private methods, so pyproject bounds slack-sdk below 4. Within 3.x a release could still rename
or reshape them; these checks fail then, instead of pushes silently falling back to a new
connection per call (an override nobody calls) or raising a TypeError at 08:30.
"""

from __future__ import annotations

import inspect
import tomllib
from pathlib import Path

from slack_sdk import WebClient
from slack_sdk.web.base_client import BaseClient

from bot.adapters.slack.push import KeepAliveWebClient

ROOT = Path(__file__).resolve().parents[2]


def test_slack_sdk_is_bounded_below_the_next_major() -> None:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    [slack_sdk] = [d for d in deps if d.replace("_", "-").startswith("slack-sdk")]
    assert "<4" in slack_sdk.replace(" ", ""), slack_sdk


def test_the_overridden_method_is_still_what_the_sdk_calls() -> None:
    internal = inspect.signature(BaseClient._perform_urllib_http_request_internal)
    assert list(internal.parameters) == ["self", "url", "req"]
    assert "_perform_urllib_http_request_internal(" in inspect.getsource(BaseClient._perform_urllib_http_request)
    assert KeepAliveWebClient._perform_urllib_http_request_internal is not (
        BaseClient._perform_urllib_http_request_internal)


def test_the_header_builder_takes_the_arguments_post_json_passes() -> None:
    params = inspect.signature(BaseClient._build_urllib_request_headers).parameters
    assert {"token", "has_json", "has_files", "additional_headers"} <= set(params)
    headers = WebClient(token="xoxb-test")._build_urllib_request_headers(
        token="xoxb-test", has_json=True, has_files=False, additional_headers={})
    assert headers["Authorization"] == "Bearer xoxb-test"
    assert headers["Content-Type"].startswith("application/json")


def test_the_client_attributes_it_reads_exist() -> None:
    client = KeepAliveWebClient(token="xoxb-test", base_url="http://127.0.0.1:9/api/")
    for name in ("proxy", "ssl", "timeout", "retry_handlers", "base_url", "token"):
        assert hasattr(client, name), name
    assert client.pool.timeout == client.timeout
