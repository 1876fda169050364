"""Callback de-duplication: WeCom re-sends a callback it thinks went unanswered (3 tries in all).

We answer at once, so retries are rare, but a slow network or a restart can still deliver the
same message twice, and a repeated follow-up click would write the follow-up log twice.
`Deduper` is the whole interface (the same `first_seen` as the Slack adapter's, so one DB-backed
store, a unique key in a table shared by several server processes, can serve both) and replaces
the in-memory one without touching the callback code.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.core.dedupe import Deduper, MemoryDeduper  # noqa: F401  (re-exported for the callback)


def message_key(msg: Mapping[str, str]) -> str | None:
    """MsgId for messages; events have none, so sender + time + what was clicked.

    None when the callback carries nothing to key on (then it is processed: better twice
    than never for a message we cannot identify).
    """
    if msg.get("MsgId"):
        return f"msg:{msg['MsgId']}"
    sender, created = msg.get("FromUserName", ""), msg.get("CreateTime", "")
    if not sender or not created:
        return None
    parts = [sender, created, msg.get("Event", ""), msg.get("EventKey", ""), msg.get("TaskId", "")]
    return "evt:" + "\x1f".join(parts)
