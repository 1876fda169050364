"""The explanation attached to every rule result.

RMs and auditors must see *why* the bot said something ("月日均 23.60万 ≥ 20万 → 贵宾客户"),
so rules return reasons as data rather than burying the logic in prose.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Reason:
    rule: str
    """Stable rule id, e.g. ``tier.ladder`` (for logs, tests and the policy file)."""
    text: str
    """One line in Chinese that a user reads: the inputs, the threshold and the outcome."""
    source: str = ""
    """Where the rule comes from (seed document, regulation, bank policy)."""
    inputs: dict[str, object] = field(default_factory=dict)
    """The numbers the rule looked at, for JSON output and audit."""
