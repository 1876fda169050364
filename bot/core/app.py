"""The platform-neutral bot: adapters hand it requests, it hands back neutral replies."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy.engine import Engine

from bot.core.middleware import DEFAULT_CHAIN, Call, Middleware
from bot.core.privacy import resolve
from bot.core.registry import REGISTRY, Registry
from bot.core.reply import Reply
from bot.core.request import ActionRequest, Request
from rules.policy import Policy


class Rmbot:
    def __init__(
        self,
        engine: Engine,
        policy: Policy,
        registry: Registry | None = None,
        middlewares: Sequence[Middleware] | None = None,
    ) -> None:
        if registry is None:
            import commands  # noqa: F401  (registers the shipped commands)

            registry = REGISTRY
        self.engine = engine
        self.policy = policy
        self.registry = registry
        self.middlewares: list[Middleware] = list(middlewares or [cls() for cls in DEFAULT_CHAIN])

    def handle(self, request: Request) -> Reply:
        return self._run(Call(request, self.engine, self.policy, self.registry))

    def handle_action(self, request: ActionRequest) -> Reply:
        return self._run(Call(request, self.engine, self.policy, self.registry))

    def _run(self, call: Call) -> Reply:
        def step(i: int) -> Callable[[], Reply]:
            def run() -> Reply:
                if i < len(self.middlewares):
                    return self.middlewares[i].process(call, step(i + 1))
                return _dispatch(call)

            return run

        reply = step(0)()
        # The audience is decided here, for every command and button, not by each command; the
        # masking policy then renders every typed customer value for it (bot.core.privacy).
        reply.masked = call.request.channel_kind != "dm"
        return resolve(reply, self.policy)


def _dispatch(call: Call) -> Reply:
    ctx = call.context()
    if isinstance(call.request, ActionRequest):
        spec = call.registry.action(call.request.action)
        assert spec is not None
        return spec.handler(ctx, call.request.value)
    assert call.spec is not None
    return call.spec.handler(ctx, call.args)
