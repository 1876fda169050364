"""Command and action metadata. Decorators only record; `bot.core.app` wires and runs them.

Keeping metadata (names, aliases, usage, roles) in one place lets `/help` list exactly what a
caller may run and lets the access filter sit in front of every command.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.core.context import Context
    from bot.core.reply import Reply

ALL_ROLES: frozenset[str] = frozenset({"rm", "branch_manager", "regional_manager"})
MANAGERS: frozenset[str] = frozenset({"branch_manager", "regional_manager"})

Handler = Callable[["Context", list[str]], "Reply"]
ActionHandler = Callable[["Context", str], "Reply"]


@dataclass(frozen=True)
class CommandSpec:
    name: str
    summary: str
    usage: str
    handler: Handler
    aliases: tuple[str, ...] = ()
    roles: frozenset[str] = ALL_ROLES
    examples: tuple[str, ...] = ()
    refusal: str | None = None
    """What a caller whose role may not run it is told (default: a generic refusal)."""

    @property
    def words(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class ActionSpec:
    name: str
    handler: ActionHandler
    roles: frozenset[str] = ALL_ROLES
    refusal: str | None = None


class Registry:
    def __init__(self) -> None:
        self._commands: dict[str, CommandSpec] = {}
        self._words: dict[str, CommandSpec] = {}
        self._actions: dict[str, ActionSpec] = {}

    def add_command(self, spec: CommandSpec) -> None:
        for word in spec.words:
            key = word.lower()
            if key in self._words and self._words[key].name != spec.name:
                raise ValueError(f"command word {word!r} is taken by /{self._words[key].name}")
            self._words[key] = spec
        self._commands[spec.name] = spec

    def add_action(self, spec: ActionSpec) -> None:
        self._actions[spec.name] = spec

    def lookup(self, word: str) -> CommandSpec | None:
        return self._words.get(word.lower())

    def split_glued(self, token: str) -> tuple[CommandSpec, str] | None:
        """`分层C0000001` → (/tier, "C0000001"): Chinese users often type no space."""
        best: tuple[CommandSpec, str] | None = None
        lowered = token.lower()
        for word, spec in self._words.items():
            if lowered.startswith(word) and len(word) < len(token) and not word.isascii():
                if best is None or len(word) > len(token) - len(best[1]):
                    best = (spec, token[len(word):])
        return best

    def action(self, name: str) -> ActionSpec | None:
        return self._actions.get(name)

    def commands(self) -> list[CommandSpec]:
        return list(self._commands.values())


REGISTRY = Registry()


def command(
    name: str,
    *,
    summary: str,
    usage: str,
    aliases: tuple[str, ...] = (),
    roles: frozenset[str] = ALL_ROLES,
    examples: tuple[str, ...] = (),
    refusal: str | None = None,
) -> Callable[[Handler], Handler]:
    def record(fn: Handler) -> Handler:
        REGISTRY.add_command(
            CommandSpec(name, summary, usage, fn, tuple(aliases), frozenset(roles), tuple(examples), refusal)
        )
        return fn

    return record


def action(name: str, *, roles: frozenset[str] = ALL_ROLES,
           refusal: str | None = None) -> Callable[[ActionHandler], ActionHandler]:
    def record(fn: ActionHandler) -> ActionHandler:
        REGISTRY.add_action(ActionSpec(name, fn, frozenset(roles), refusal))
        return fn

    return record
