"""Push senders for the outbox worker (`bot.push`): WeCom app group chats and group robots.

The worker owns retries and bookkeeping; a sender only says whether a failure is worth
retrying. WeCom has no API to read back what was sent, so `find_sent` cannot confirm an
earlier attempt and answers None (delivery is at-least-once, as `bot.push.senders` documents).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.adapters.wecom import deliver
from bot.adapters.wecom.client import SHARED_TOKENS, WeComClient, WeComError
from bot.config import Settings
from bot.core.reply import Reply
from bot.push.senders import PermanentSendError, TransientSendError

TRANSIENT = frozenset({-1, -3, 45009, 45033, 40014, 42001})
"""Busy, timeouts, rate and concurrency limits, a token that expired twice in a row."""

MentionMap = Callable[[list[str]], Mapping[str, str]]


def _classify(exc: WeComError) -> Exception:
    if exc.errcode in TRANSIENT:
        return TransientSendError(str(exc))
    # bad chatid or robot key, IP not trusted (60020), app not allowed...: an operator must act
    return PermanentSendError(str(exc))


def _client(settings: Settings) -> WeComClient:
    if not (settings.wecom_corp_id and settings.wecom_secret and settings.wecom_agent_id is not None):
        raise ValueError("WeCom pushes need WECOM_CORP_ID, WECOM_SECRET and WECOM_AGENT_ID")
    return WeComClient(settings.wecom_corp_id, settings.wecom_secret.get_secret_value(),
                       settings.wecom_agent_id, settings.wecom_api_url, tokens=SHARED_TOKENS)


def _templates(settings: Settings) -> str | None:
    return str(settings.templates_dir) if settings.templates_dir else None


class WeComAppChatSender:
    """target = an app group chat's chatid (only chats this app created can be sent to)."""

    platform = "wecom_appchat"

    def __init__(self, client: WeComClient, templates_dir: str | None = None) -> None:
        self.client = client
        self.templates_dir = templates_dir

    @classmethod
    def from_settings(cls, settings: Settings) -> "WeComAppChatSender":
        return cls(_client(settings), _templates(settings))

    def send(self, target: str, reply: Reply, key: str) -> str | None:
        with _send_errors():
            deliver.to_app_chat(self.client, target, reply, self.templates_dir)
        return None

    def find_sent(self, target: str, key: str, since: datetime) -> str | None:
        return None


@contextmanager
def _send_errors() -> Iterator[None]:
    """WeCom's errors as the worker understands them: retry later, or dead (visible)."""
    try:
        yield
    except WeComError as exc:
        raise _classify(exc) from exc
    except ValueError as exc:
        raise PermanentSendError(str(exc)) from exc


def staff_mentions(engine: Engine) -> MentionMap:
    """staff ids → WeCom userids, looked up when a push is sent (links change)."""
    from bot.store.staff import identities_of

    def lookup(staff_ids: list[str]) -> Mapping[str, str]:
        with Session(engine) as session:
            return identities_of(session, staff_ids, "wecom")

    return lookup


class WeComRobotSender:
    """target = a group robot's webhook key; sections' `mention` staff ids become <@userid>."""

    platform = "wecom_robot"

    def __init__(self, client: WeComClient, templates_dir: str | None = None,
                 mentions: MentionMap | None = None) -> None:
        self.client = client
        self.templates_dir = templates_dir
        self.mentions = mentions

    @classmethod
    def from_settings(cls, settings: Settings, engine: Engine | None = None) -> "WeComRobotSender":
        if engine is None:
            from bot.store.db import make_engine

            engine = make_engine(settings.database_url)
        return cls(_client(settings), _templates(settings), staff_mentions(engine))

    def send(self, target: str, reply: Reply, key: str) -> str | None:
        staff_ids = sorted({s.mention for s in reply.sections if s.mention})
        mentions = self.mentions(staff_ids) if (self.mentions and staff_ids) else {}
        with _send_errors():
            deliver.to_robot(self.client, target, reply, self.templates_dir, mentions)
        return None

    def find_sent(self, target: str, key: str, since: datetime) -> str | None:
        return None


class WeComMemberSender:
    """target = a member's userid: chat replies queued by the inbox (bot/core/inbox.py). The
    outbox row's `rendered` is `cards:0|1` and a newline before the neutral Reply's JSON
    (a button's answer goes out without cards once its card could not be updated)."""

    platform = "wecom_member"

    def __init__(self, client: WeComClient, templates_dir: str | None = None) -> None:
        self.client = client
        self.templates_dir = templates_dir

    @staticmethod
    def rendered(reply: Reply, cards: bool = True) -> str:
        return f"cards:{int(cards)}\n{reply.model_dump_json()}"

    def send(self, target: str, reply: Reply, key: str) -> str | None:
        with _send_errors():
            deliver.to_member(self.client, target, reply, self.templates_dir)
        return None

    def send_rendered(self, target: str, rendered: str, key: str) -> str | None:
        head, _, body = rendered.partition("\n")
        with _send_errors():
            deliver.to_member(self.client, target, Reply.model_validate_json(body), self.templates_dir,
                              cards=head != "cards:0")
        return None

    def find_sent(self, target: str, key: str, since: datetime) -> str | None:
        return None
