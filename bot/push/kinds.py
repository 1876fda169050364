"""The push kinds and when each goes out."""

from __future__ import annotations

from typing import Literal

PushKind = Literal["maturing", "churn", "downgrade"]
KINDS: tuple[PushKind, ...] = ("maturing", "churn", "downgrade")
KIND_ZH: dict[str, str] = {"maturing": "到期承接", "churn": "流失预警", "downgrade": "降级风险"}
WEEKLY: frozenset[str] = frozenset({"downgrade"})
"""Weekly kinds go out on the first working day of the week; the others every working day."""
