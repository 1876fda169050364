"""Serve only the workspaces the app is installed in: one check for HTTP and Socket Mode alike.

Slack signs every request with the app's one signing secret, whichever workspace it comes from:
a second workspace the app was installed in, or a user of another organisation in a Slack
Connect channel, sends correctly signed requests. Their user ids (U…) are not ours, and a
`chat_identity` row (platform "slack", external id U…) only means something inside our team.
So a request reaches the core only when every team it names (the workspace, the acting user's
team, the view's and the event's teams) is an allowed one; the identity table then needs no
team column. Allowed teams: SLACK_TEAM_ID (comma-separated), else the bot token's own team,
learned once by auth.test on the first request (as Bolt learns the bot's user id) and asked
again while Slack cannot be reached, refusing in the meantime: never open when unsure.

A refusal carries no customer data: a slash command gets a short ephemeral answer (Slack shows
non-200 answers as a bare error), an event an empty 200 (Slack would retry anything else), any
other payload 403. Each is logged with the teams involved and counted (`refusals()`).
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from slack_bolt.middleware import Middleware
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk import WebClient

log = logging.getLogger("rmbot.slack")

REFUSED = "本应用未在您的工作区启用，无法提供服务。This app does not serve your Slack workspace."
UNVERIFIED = "暂时无法确认工作区，请稍后再试。Cannot verify the workspace right now; please retry."

_counts: Counter[str] = Counter()
_counts_lock = threading.Lock()


def refusals() -> dict[str, int]:
    """Requests refused since start, by reason ("foreign team", "no team", "malformed team",
    "unverified"), in this process."""
    with _counts_lock:
        return dict(_counts)


def _count(reason: str) -> int:
    from bot import metrics

    metrics.refusal("slack", "team" if reason == "foreign team" else reason.replace(" ", "_"))
    with _counts_lock:
        _counts[reason] += 1
        return sum(_counts.values())


def _team_fields(body: dict[str, Any]) -> Iterator[object]:
    """Every place a Slack payload names a team: the workspace, the actor's, the view's, the event's."""
    yield body.get("team_id")  # slash commands, events
    yield body.get("context_team_id")  # events in Slack Connect channels
    team = body.get("team")  # interactivity: an object (or, rarely, the id itself)
    yield team.get("id") if isinstance(team, dict) else team
    user = body.get("user")
    if isinstance(user, dict):
        yield user.get("team_id")  # the clicker's own team, which differs in a shared channel
    view = body.get("view")
    if isinstance(view, dict):
        yield view.get("team_id")
        yield view.get("app_installed_team_id")
    event = body.get("event")
    if isinstance(event, dict):
        for key in ("team", "user_team", "source_team"):
            yield event.get(key)
    authorizations = body.get("authorizations")
    if isinstance(authorizations, list):
        for auth in authorizations:
            if isinstance(auth, dict):
                yield auth.get("team_id")


def request_teams(body: object) -> set[str] | None:
    """The teams a payload names; None when a team field holds something other than an id."""
    if not isinstance(body, dict):
        return None
    teams: set[str] = set()
    for value in _team_fields(body):
        if value is None:
            continue
        if not isinstance(value, str) or not value:
            return None
        teams.add(value)
    return teams


def _printable(word: str) -> str:
    """A team id or payload type as logged: short, ASCII letters, digits and `_`; anything else
    (a generated value, a newline) is not written out."""
    return word if word.isascii() and word.replace("_", "").isalnum() and len(word) <= 30 else "<not an id>"


class WorkspaceGuard(Middleware):
    """Bolt middleware (after signature checks, before any listener): foreign teams stop here."""

    def __init__(self, configured: frozenset[str], client: WebClient) -> None:
        self.configured = configured
        self.client = client
        self._learned: frozenset[str] | None = None
        self._lock = threading.Lock()

    def allowed(self) -> frozenset[str] | None:
        """SLACK_TEAM_ID, else the bot token's team (auth.test, cached once known); None: unknown."""
        if self.configured:
            return self.configured
        with self._lock:
            if self._learned is None:
                try:
                    team = self.client.auth_test().get("team_id")
                except Exception as exc:  # noqa: BLE001  (unreachable or refused: ask again next time)
                    log.error("auth.test failed, cannot tell which workspace to serve: %s", type(exc).__name__)
                    return None
                if not isinstance(team, str) or not team:
                    log.error("auth.test named no team_id; set SLACK_TEAM_ID")
                    return None
                self._learned = frozenset({team})
                log.info("serving Slack workspace %s (from auth.test; set SLACK_TEAM_ID to pin it)", team)
            return self._learned

    def process(self, *, req: BoltRequest, resp: BoltResponse,
                next: Callable[[], BoltResponse]) -> BoltResponse | None:
        teams = request_teams(req.body)
        if not teams:
            return self._refuse(req, "no team" if teams is not None else "malformed team", set(), frozenset())
        allowed = self.allowed()
        if allowed is None:
            return self._refuse(req, "unverified", teams, frozenset())
        if not teams <= allowed:
            return self._refuse(req, "foreign team", teams, allowed)
        return next()

    def _refuse(self, req: BoltRequest, reason: str, teams: set[str],
                allowed: frozenset[str]) -> BoltResponse:
        total = _count(reason)
        body = req.body if isinstance(req.body, dict) else {}
        kind = "command" if "command" in body else _printable(str(body.get("type") or "?"))
        log.warning("Slack %s refused: %s (teams %s, allowed %s; %d refused since start)", kind, reason,
                    ",".join(sorted(map(_printable, teams))) or "-", ",".join(sorted(allowed)) or "-", total)
        text = UNVERIFIED if reason == "unverified" else REFUSED
        if "command" in body:
            return BoltResponse(status=200, body=json.dumps({"response_type": "ephemeral", "text": text}),
                                headers={"content-type": "application/json"})
        if body.get("type") == "event_callback":
            # Unverified events get a 503 so Slack delivers them again later; foreign ones are done.
            return BoltResponse(status=503 if reason == "unverified" else 200, body="")
        return BoltResponse(status=503 if reason == "unverified" else 403, body=text,
                            headers={"content-type": "text/plain; charset=utf-8"})
