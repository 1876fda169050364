"""Every variant of a draft through the compliance lint, plus the one rule of the SMS channel.

The lint (`rules/compliance.py`) judges wording; the SMS length is a channel limit, not law, but
an over-long SMS is split or cut by the operator, which can drop the opt-out line, so it blocks
the draft the same way and is recorded with the lint findings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bot.campaigns.catalogue import BankInfo
from bot.campaigns.render import VARIANT_ZH, VARIANTS, sms_length
from rules.compliance import SEVERITY_LABELS, Finding, LintRules, lint

SMS_RULE = "sms.length"


@dataclass(frozen=True)
class DraftCheck:
    findings: dict[str, list[Finding]]
    """Per variant, in text order."""
    rules_version: str

    @property
    def blocked(self) -> bool:
        return any(f.blocking for fs in self.findings.values() for f in fs)

    @property
    def clean(self) -> bool:
        return not any(self.findings.values())

    def counts(self) -> tuple[int, int]:
        """(blocking, warnings) over all variants."""
        every = [f for fs in self.findings.values() for f in fs]
        return sum(f.blocking for f in every), sum(not f.blocking for f in every)

    def to_json(self) -> dict[str, list[dict[str, Any]]]:
        return {v: [asdict(f) for f in fs] for v, fs in self.findings.items()}


def check_texts(texts: dict[str, str], rules: LintRules, bank: BankInfo) -> DraftCheck:
    findings: dict[str, list[Finding]] = {}
    for variant in VARIANTS:
        text = texts.get(variant, "")
        found = list(lint(text, rules).findings)
        if variant == "sms" and sms_length(text) > bank.sms_max_chars:
            found.append(Finding(
                rule_id=SMS_RULE, span=(bank.sms_max_chars, len(text)), excerpt=text[bank.sms_max_chars:],
                source=bank.sms_source or "单条短信 70 字", severity="block",
                message=f"短信共 {sms_length(text)} 字，超过单条 {bank.sms_max_chars} 字上限（含签名与退订提示）。",
                suggestion="缩短地点、主题等选项，或用 /campaign edit <草稿号> 短信 <文本> 改写。",
            ))
        findings[variant] = found
    return DraftCheck(findings, rules.version)


def findings_from_json(data: dict[str, list[dict[str, Any]]]) -> dict[str, list[Finding]]:
    return {v: [Finding(**{**f, "span": tuple(f["span"])}) for f in fs] for v, fs in data.items()}


def finding_lines(findings: dict[str, list[Finding]], limit: int = 12) -> list[str]:
    """One chat line per finding, variant first: what, where from, how to fix."""
    lines: list[str] = []
    for variant, fs in findings.items():
        for f in fs:
            excerpt = " ".join(f.excerpt.split())[:30]
            source = f.source.split(";")[0].strip()
            lines.append(f"[{VARIANT_ZH.get(variant, variant)}·{SEVERITY_LABELS.get(f.severity, f.severity)}] "
                         f"{f.rule_id}「{excerpt}」{source}：{f.message} 建议：{f.suggestion}")
    if len(lines) > limit:
        lines = lines[:limit] + [f"……另有 {len(lines) - limit} 条"]
    return lines
