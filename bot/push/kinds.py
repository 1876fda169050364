"""The push kinds and when each goes out."""

from __future__ import annotations

from typing import Literal

PushKind = Literal["maturing", "churn", "downgrade", "summary"]
KINDS: tuple[PushKind, ...] = ("maturing", "churn", "downgrade", "summary")
KIND_ZH: dict[str, str] = {"maturing": "到期承接", "churn": "流失预警", "downgrade": "降级风险", "summary": "经营周报"}
WEEKLY: frozenset[str] = frozenset({"downgrade", "summary"})
"""Weekly kinds go out on the first working day of the week; the others every working day."""
DEFAULT_TIMES: dict[str, str] = {"summary": "09:00"}
"""Asia/Shanghai send time when settings name none; the others default to 08:30. The weekly
summary goes out after the daily lists, when managers start their week."""
