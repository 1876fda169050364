"""Test support for the Slack adapter: the hand-built store, a uvicorn runner, a Slack
simulator that signs requests the way Slack does, and payload checks against slack_sdk's
block models. Fixtures live in conftest.py.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import uvicorn
from slack_sdk.models.blocks import Block
from slack_sdk.signature import SignatureVerifier
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.applications import Starlette

from bot.config import Settings
from bot.render import blockkit
from bot.store.db import make_engine
from bot.store.migrate import upgrade
from bot.store.models import ChatIdentity, Customer, Org, Staff
from tests.fakes.slack_api import FakeSlackAPI

SECRET = "test-signing-secret-0123456789abcdef"
HTTP_TIMEOUT = httpx.Timeout(5.0)

# Slack user ids of the hand-built staff (chat_identity rows).
U_WANG = "UWANGFANG"  # RM001 王芳, rm at 城东支行, owns C0000001 and C0000002
U_LI = "ULILEI001"  # RM002 李雷, rm at 城东支行, owns C0000003
U_ZHAO = "UZHAOBM01"  # BM001 赵敏, branch manager of 城东支行
U_NOBODY = "UNOTLINKED"
TEAM = "T00000001"  # the workspace the app is installed in (the fake's auth.test answers it)
OTHER_TEAM = "T0FOREIGN"


def build_store(path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with Session(engine) as s:
        s.add(Org(id="BR01", name="测试分行", level="branch", path="/BR01/"))
        s.add(Org(id="SB01", name="城东支行", level="sub_branch", parent_id="BR01", path="/BR01/SB01/"))
        s.flush()
        s.add_all([
            Staff(id="RM001", name="王芳", role="rm", org_id="SB01"),
            Staff(id="RM002", name="李雷", role="rm", org_id="SB01"),
            Staff(id="BM001", name="赵敏", role="branch_manager", org_id="SB01"),
        ])
        s.flush()
        s.add_all([
            ChatIdentity(platform="slack", external_id=U_WANG, staff_id="RM001"),
            ChatIdentity(platform="slack", external_id=U_LI, staff_id="RM002"),
            ChatIdentity(platform="slack", external_id=U_ZHAO, staff_id="BM001"),
            Customer(id="C0000001", kind="individual", name="张三", phone="13812341234", rm_id="RM001",
                     org_id="SB01", opened_on=date(2019, 3, 1), tier="金卡"),
            Customer(id="C0000002", kind="individual", name="欧阳娜娜", rm_id="RM001", org_id="SB01",
                     opened_on=date(2020, 5, 6)),
            Customer(id="C0000003", kind="individual", name="钱七", rm_id="RM002", org_id="SB01",
                     opened_on=date(2021, 7, 8)),
        ])
        s.commit()
    return engine


def slack_settings(fake: FakeSlackAPI, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.base_url,
        "DATABASE_URL": "sqlite://",
    }
    values.update(extra)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@contextmanager
def serve(app: Starlette) -> Iterator[str]:
    """uvicorn on a free 127.0.0.1 port in a background thread; yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()


class SlackSim:
    """Sends what Slack sends: form-encoded commands and clicks, JSON events, all signed."""

    def __init__(self, base_url: str, fake: FakeSlackAPI, secret: str = SECRET) -> None:
        self.url = base_url + "/slack/events"
        self.fake = fake
        self.signer = SignatureVerifier(secret)
        self.http = httpx.Client(timeout=HTTP_TIMEOUT)

    def close(self) -> None:
        self.http.close()

    def signed_headers(self, body: str, *, timestamp: int | None = None, content_type: str) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        return {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": self.signer.generate_signature(timestamp=ts, body=body) or "",
        }

    def post(self, body: str, *, content_type: str = "application/x-www-form-urlencoded",
             headers: dict[str, str] | None = None, timestamp: int | None = None) -> httpx.Response:
        all_headers = self.signed_headers(body, timestamp=timestamp, content_type=content_type)
        all_headers.update(headers or {})
        return self.http.post(self.url, content=body.encode("utf-8"), headers=all_headers)

    def command(self, name: str, text: str = "", *, user: str = U_WANG, channel: str = "D0RMBOT01",
                channel_name: str = "directmessage", drop: tuple[str, ...] = (),
                team: str = TEAM) -> tuple[httpx.Response, str]:
        """A slash command; returns the HTTP response and the response_url to watch."""
        response_url = self.fake.response_url(uuid.uuid4().hex)
        form = {
            "token": "deprecated", "team_id": team, "team_domain": "bank", "channel_id": channel,
            "channel_name": channel_name, "user_id": user, "user_name": "someone", "command": f"/{name}",
            "text": text, "api_app_id": "A0RMBOT01", "is_enterprise_install": "false",
            "response_url": response_url, "trigger_id": "1.2.3",
        }
        for key in drop:
            form.pop(key, None)
        return self.post(urlencode(form)), response_url

    def event(self, event: dict[str, Any], *, event_id: str | None = None,
              headers: dict[str, str] | None = None, team: str = TEAM) -> tuple[httpx.Response, str]:
        event_id = event_id or "Ev" + uuid.uuid4().hex[:10].upper()
        body = {
            "token": "deprecated", "team_id": team, "api_app_id": "A0RMBOT01", "type": "event_callback",
            "event_id": event_id, "event_time": int(time.time()), "event": event,
            "authorizations": [{"team_id": team, "user_id": "UBOT00001", "is_bot": True}],
        }
        return self.post(json.dumps(body), content_type="application/json", headers=headers), event_id

    def click(self, payload: dict[str, Any]) -> httpx.Response:
        return self.post(urlencode({"payload": json.dumps(payload)}))


def block_actions(*, user: str, channel: str, message: dict[str, Any] | None, block_id: str,
                  action_id: str, value: str, response_url: str, ephemeral: bool = False,
                  team: str = TEAM, user_team: str | None = None) -> dict[str, Any]:
    """A block_actions payload as Slack sends it for a click on one of our buttons."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": "someone", "team_id": user_team or team},
        "api_app_id": "A0RMBOT01",
        "token": "deprecated",
        "container": {"type": "message", "message_ts": (message or {}).get("ts", "1.1"), "channel_id": channel,
                      "is_ephemeral": ephemeral},
        "trigger_id": "1.2.3",
        "team": {"id": team, "domain": "bank"},
        "channel": {"id": channel, "name": "private" if channel.startswith("D") else "rm-team"},
        "response_url": response_url,
        "actions": [{"type": "button", "block_id": block_id, "action_id": action_id, "value": value,
                     "text": {"type": "plain_text", "text": "已联系"}, "action_ts": str(time.time())}],
    }
    if message is not None:
        payload["message"] = message
    return payload


def assert_valid_payload(payload: dict[str, Any]) -> None:
    """Every Block Kit limit Slack documents (api.slack.com/reference/block-kit), checked with slack_sdk's own block models."""
    blocks = payload.get("blocks") or []
    assert 0 < len(blocks) <= blockkit.MAX_BLOCKS
    assert 0 < len(payload.get("text") or "") <= blockkit.FALLBACK_TEXT
    assert blockkit.text_size(blocks) <= blockkit.MESSAGE_TEXT_BUDGET
    block_ids = [b["block_id"] for b in blocks if "block_id" in b]
    assert len(block_ids) == len(set(block_ids)), "block_id must be unique within a message"
    for raw in blocks:
        assert not any(k.startswith("_") for k in raw), raw
        block = Block.parse(raw)
        assert block is not None and block.type == raw["type"], raw
        block.validate_json()
        assert block.to_dict() == raw  # to_dict validates nested elements (buttons, texts) too


def response_bodies(fake: FakeSlackAPI, response_url: str, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
    path = "/response/" + response_url.rsplit("/", 1)[1]
    calls = fake.wait_for("response_url", count, timeout, where=lambda c: c.path == path)
    return [c.params for c in calls]


def command_answers(fake: FakeSlackAPI, resp: httpx.Response, response_url: str, count: int = 1,
                    timeout: float = 5.0) -> list[dict[str, Any]]:
    """What the user sees for a slash command, in order: the ack body (when the core answered
    within the deadline) and then the messages that came via the response_url."""
    assert resp.status_code == 200, resp.text
    inline = [resp.json()] if resp.content else []
    later = count - len(inline)
    return inline + (response_bodies(fake, response_url, later, timeout) if later > 0 else [])


def all_text(payload: dict[str, Any]) -> str:
    """Every string of a payload, for "does the user see X" assertions."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
        elif isinstance(node, str):
            out.append(node)

    walk(payload)
    return "\n".join(out)
