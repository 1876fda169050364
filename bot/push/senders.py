"""How pushes leave rmbot. Each platform adapter provides a `Sender`; the file sender is the demo's.

`find_sent` is what makes crash recovery exact: after a crash mid-send, the worker asks the
platform whether the message with this outbox key arrived before sending it again. A platform
that cannot answer (WeCom has no read-back API) returns None, and delivery there is
at-least-once within the few milliseconds between the platform's answer and our commit.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Protocol

from bot.core.reply import Reply
from bot.render.text import render_text


class TransientSendError(Exception):
    """Worth retrying later (rate limits, timeouts, 5xx)."""


class PermanentSendError(Exception):
    """Retrying will not help (unknown channel, revoked token): the row goes dead, visibly."""


class Sender(Protocol):
    """What the worker needs. A sender may also have:
    * `min_interval` (seconds): the platform's per-channel pace; the worker spaces a channel's
      messages by it, counted from the previous message's answer.
    * `render(reply) -> str | None` and `send_rendered(target, rendered, key)`: the message made
      when the push is built (stored in `Outbox.rendered`), and posting it as `send` would.
    """

    platform: str

    def send(self, target: str, reply: Reply, key: str) -> str | None:
        """Deliver one message; return the platform's message id if it gives one."""

    def find_sent(self, target: str, key: str, since: datetime) -> str | None:
        """The message id if a message with this key already arrived, else None."""


_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


class FileSender:
    """Writes each message to `<target>/<key>.txt` (+ .json) atomically: one file per key.

    Re-sending a key replaces the same file, so the demo outbox can never show a duplicate.
    """

    platform = "file"

    def _path(self, target: str, key: str) -> Path:
        return Path(target) / f"{_SAFE.sub('_', key)}.txt"

    def send(self, target: str, reply: Reply, key: str) -> str | None:
        path = self._path(target, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(path.with_suffix(".json"), json.dumps(
            {"key": key, "reply": reply.model_dump(mode="json")}, ensure_ascii=False, indent=1))
        _atomic_write(path, render_text(reply))
        return path.name

    def find_sent(self, target: str, key: str, since: datetime) -> str | None:
        path = self._path(target, key)
        return path.name if path.exists() else None


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
