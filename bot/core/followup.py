"""The follow-up buttons every actionable customer item carries (已联系 / 已承接 / 已流失).

They live in the core because pushes and commands both attach them; the action that records a
click is the `followup` command module.
"""

from __future__ import annotations

from bot.core.reply import Button

OUTCOMES = {"contacted": "已联系", "retained": "已承接", "lost": "已流失"}


def followup_buttons(customer_id: str, ref: str) -> list[Button]:
    """value = outcome|customer|ref, parsed back by the `followup` action."""
    return [
        Button(label=label, action="followup", value=f"{outcome}|{customer_id}|{ref}",
               style="danger" if outcome == "lost" else ("primary" if outcome == "retained" else None))
        for outcome, label in OUTCOMES.items()
    ]
