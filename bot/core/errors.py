"""Errors that become a short Chinese reply, never a traceback in chat."""

from __future__ import annotations


class UserError(Exception):
    """Something the user can fix; `message` is shown as is, with `usage` when given."""

    def __init__(self, message: str, usage: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage


class ServiceUnavailable(Exception):
    """The store cannot be reached or is not set up; `hint` says what the operator should do."""

    def __init__(self, hint: str) -> None:
        super().__init__(hint)
        self.hint = hint
