"""The marketing-copy lint: every campaign draft is checked before it can be posted (docs/DOMAIN.md §6).

RMs paste copy from many places (seed 000's own 网沙 pitch promises "保底收益,无风险"), and a bank
is liable for what its staff post (银发〔2019〕316号), so the lint is strict on promises and on
missing disclosures, and explains each finding with the rule, its source and a suggested fix.

The rule table is data (`compliance.yaml`, overridable per bank like `policy.yaml`); this module
only knows the three rule kinds. Matching runs on a folded copy of the text so that full-width
punctuation, PDF-export Kangxi radicals (⾼收益) and traditional characters (承諾保本) cannot hide
a phrase, while every finding's span still points into the text the RM wrote.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

Severity = Literal["block", "warn"]
SEVERITY_LABELS: dict[str, str] = {"block": "阻断", "warn": "提示"}

# Traditional → simplified, only for characters the rule table and the negation words use: a 1:1
# character map keeps offsets trivial, and a full converter would be a dependency for a corner case
# (seed 003 reached us in traditional characters, so copy written from such sources does too).
_TRAD_SIMP_PAIRS = (
    "無无 風风 險险 穩稳 賺赚 賠赔 絕绝 對对 諾诺 剛刚 兌兑 證证 確确 預预 財财 結结 構构 於于 資资 "
    "過过 業业 績绩 來来 現现 產产 須须 謹谨 歷历 個个 國国 級级 頂顶 選选 較较 準准 實实 虧亏 損损 "
    "際际 間间 時时 說说 經经 講讲 師师 顧顾 問问 觀观 識识 課课 規规 劃划 詢询 贏赢 應应 嚴严 沒没 "
    "並并 屬属 會会 為为 與与 後后 當当 傳传 稱称 擔担 醫医 環环 續续 萬万 盡尽 額额 兩两 階阶 屆届 "
    "輪轮 場场 項项 節节 條条 週周 筆笔 單单 標标 碼码 號号 獨独 倫伦 優优 強强 進进 權权 漲涨 "
    "種种 類类 參参 壽寿 車车 擊击 換换 錢钱 銀银 債债 義义 務务 據据 數数 計计 圍围 簡简"
)
_TRAD_TO_SIMP: dict[str, str] = {pair[0]: pair[1] for pair in _TRAD_SIMP_PAIRS.split()}

_SENTENCE_END = re.compile(r"[。!?;\n]")
_CLAUSE_END = re.compile(r"[。!?;\n,、:]")
_LIST_SEPARATOR_BEFORE = re.compile(r"\s*[、和或及与/]\s*$")
_NEGATION_WINDOW = 12
"""Characters looked back for a denial: enough for "不得承诺或暗示" before the phrase."""
_ALLOW_MARGIN = 24
"""Allow patterns are short phrases: searching this far around a match finds any that covers it."""


# ---------------------------------------------------------------------------------------------
# The rule table


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _compile(pattern: str, where: str) -> re.Pattern[str]:
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{where}: bad regex {pattern!r}: {exc}") from exc
    if compiled.fullmatch(""):
        # An empty match would flag every position of every draft.
        raise ValueError(f"{where}: regex {pattern!r} matches the empty string")
    return compiled


class NegationSpec(_Frozen):
    prefixes: list[str]
    objects: list[str] = []
    verbs: list[str] = []
    clause_markers: list[str] = []
    clause_ignore: list[str] = []


class RuleSpec(_Frozen):
    id: str = Field(pattern=r"^[a-z0-9_]+(?:\.[a-z0-9_]+)+$")
    kind: Literal["phrase", "disclosure", "proximity"]
    severity: Severity
    source: str = Field(min_length=1)
    message: str = Field(min_length=1)
    suggestion: str = Field(min_length=1)
    enabled: bool = True
    terms: list[str] = []
    """Literal phrases (phrase, proximity) or literal triggers (disclosure)."""
    patterns: list[str] = []
    """Regexes in the same role as `terms`."""
    allow: list[str] = []
    """Regexes: a match lying inside one of their occurrences is a benign use (第一次, 理财经理)."""
    negation: Literal["none", "prefix", "clause"] = "none"
    context: list[str] = []
    """phrase: the rule applies only to a text that matches one of these."""
    anchors: list[str] = []
    """proximity: a term counts only in a sentence holding one of these."""
    required: list[str] = []
    """disclosure: all must be present once a trigger occurs."""
    required_on: Literal["squeezed", "text"] = "squeezed"
    replacements: dict[str, str] = {}
    """A more precise suggestion for a given (folded) matched phrase."""

    @model_validator(mode="after")
    def _kind_fields(self) -> RuleSpec:
        if not self.terms and not self.patterns:
            raise ValueError(f"compliance rule {self.id}: needs terms or patterns")
        if self.kind == "disclosure" and not self.required:
            raise ValueError(f"compliance rule {self.id}: a disclosure rule needs `required`")
        if self.kind == "proximity" and not self.anchors:
            raise ValueError(f"compliance rule {self.id}: a proximity rule needs `anchors`")
        if self.negation == "clause" and self.kind != "proximity":
            raise ValueError(f"compliance rule {self.id}: negation: clause is for proximity rules")
        if self.context and self.kind != "phrase":
            raise ValueError(f"compliance rule {self.id}: context is for phrase rules")
        if any(not t.strip() for t in self.terms):
            raise ValueError(f"compliance rule {self.id}: empty term")
        for pattern in [*self.patterns, *self.allow, *self.context, *self.anchors, *self.required]:
            _compile(pattern, f"compliance rule {self.id}")
        return self


@dataclass(frozen=True)
class _CompiledRule:
    spec: RuleSpec
    match: re.Pattern[str]
    allow: tuple[re.Pattern[str], ...]
    context: tuple[re.Pattern[str], ...]
    anchors: tuple[re.Pattern[str], ...]
    required: tuple[re.Pattern[str], ...]


class LintRules(_Frozen):
    version: str
    negation: NegationSpec
    rules: list[RuleSpec]
    _compiled: tuple[_CompiledRule, ...] = PrivateAttr(default=())
    _negated_prefix: re.Pattern[str] | None = PrivateAttr(default=None)
    _clause_marker: re.Pattern[str] | None = PrivateAttr(default=None)
    _clause_ignore: re.Pattern[str] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _ids_unique(self) -> LintRules:
        ids = [r.id for r in self.rules]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"compliance rules: duplicate ids {dupes}")
        return self

    def model_post_init(self, context: Any, /) -> None:
        # Compiled once per rule table: drafts are linted on every edit.
        self._compiled = tuple(_compile_rule(r) for r in self.rules if r.enabled)
        neg = self.negation
        verbs = f"(?:{_alternation(neg.verbs)})"
        verb_chain = f"(?:{verbs}(?:[或和与及、/]?{verbs})*)?" if neg.verbs else ""
        objects = f"(?:{_alternation(neg.objects)})?" if neg.objects else ""
        self._negated_prefix = re.compile(f"(?:{_alternation(neg.prefixes)}){objects}{verb_chain}(?:任何)?\\s*$")
        self._clause_marker = re.compile(_alternation(neg.clause_markers)) if neg.clause_markers else None
        self._clause_ignore = re.compile(_alternation(neg.clause_ignore)) if neg.clause_ignore else None

    @classmethod
    def from_texts(cls, *yaml_texts: str) -> LintRules:
        """Later texts override earlier ones; `rules` merge by id (see compliance.yaml)."""
        merged: dict[str, Any] = {}
        for text in yaml_texts:
            data = yaml.safe_load(text) or {}
            if not isinstance(data, dict):
                raise ValueError("a compliance rules file must be a YAML mapping")
            merged = _merge(merged, data)
        return cls.model_validate(merged)

    def rule(self, rule_id: str) -> RuleSpec | None:
        return next((r for r in self.rules if r.id == rule_id), None)


def _alternation(words: list[str]) -> str:
    # Longest first, so that 并非 wins over 非 and 稳赚不赔 over 稳赚 at the same position.
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


def _compile_rule(spec: RuleSpec) -> _CompiledRule:
    where = f"compliance rule {spec.id}"
    folded_terms = sorted({fold(t) for t in spec.terms}, key=len, reverse=True)
    parts = [f"(?:{p})" for p in spec.patterns] + [re.escape(t) for t in folded_terms]
    return _CompiledRule(
        spec=spec,
        match=_compile("|".join(parts), where),
        allow=tuple(_compile(p, where) for p in spec.allow),
        context=tuple(_compile(p, where) for p in spec.context),
        anchors=tuple(_compile(p, where) for p in spec.anchors),
        required=tuple(_compile(p, where) for p in spec.required),
    )


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if key == "rules" and isinstance(value, list) and isinstance(out.get(key), list):
            out[key] = _merge_rules(out[key], value)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _merge_rules(base: list[Any], override: list[Any]) -> list[Any]:
    out = [dict(r) if isinstance(r, dict) else r for r in base]
    index = {r.get("id"): i for i, r in enumerate(out) if isinstance(r, dict)}
    for rule in override:
        rule_id = rule.get("id") if isinstance(rule, dict) else None
        if rule_id in index:
            out[index[rule_id]] = {**out[index[rule_id]], **rule}
        else:
            index[rule_id] = len(out)
            out.append(rule)
    return out


def default_rules_text() -> str:
    return resources.files("rules").joinpath("compliance.yaml").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def default_lint_rules() -> LintRules:
    """The shipped table; immutable, so one instance serves every draft."""
    return LintRules.from_texts(default_rules_text())


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Finding:
    rule_id: str
    span: tuple[int, int]
    """Offsets into the original text: ``text[span[0]:span[1]] == excerpt``."""
    excerpt: str
    source: str
    severity: Severity
    message: str
    suggestion: str

    @property
    def blocking(self) -> bool:
        return self.severity == "block"


@dataclass(frozen=True)
class LintResult:
    findings: tuple[Finding, ...]
    """In text order."""
    rules_version: str = ""
    """Which rule table judged the draft, for the approval record."""

    @property
    def blocked(self) -> bool:
        """A draft with any block finding may not be posted."""
        return any(f.blocking for f in self.findings)

    @property
    def clean(self) -> bool:
        return not self.findings

    @property
    def blocks(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.blocking)

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if not f.blocking)

    @property
    def rule_ids(self) -> frozenset[str]:
        return frozenset(f.rule_id for f in self.findings)

    def by_rule(self, rule_id: str) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.rule_id == rule_id)


def format_findings(result: LintResult, *, full_source: bool = False) -> list[str]:
    """One line per finding, for chat: what, where the rule comes from, and how to fix it.

    Chat shows the first (primary) source only, to keep lines readable; the finding keeps all.
    """
    lines = []
    for f in result.findings:
        excerpt = " ".join(f.excerpt.split())
        label = SEVERITY_LABELS.get(f.severity, f.severity)
        source = f.source if full_source else f.source.split(";")[0].strip()
        lines.append(f"[{label}] {f.rule_id}「{excerpt}」 {source}：{f.message} 建议：{f.suggestion}")
    return lines


# ---------------------------------------------------------------------------------------------
# Folding


@lru_cache(maxsize=8192)
def _fold_char(ch: str) -> str:
    if unicodedata.category(ch) == "Cf":  # zero-width space/joiner, BOM: invisible, may split a word
        return ""
    return "".join(_TRAD_TO_SIMP.get(c, c) for c in unicodedata.normalize("NFKC", ch)).lower()


def fold(text: str) -> str:
    """The form rules match against (NFKC, simplified, lower case, no zero-width characters)."""
    return "".join(_fold_char(ch) for ch in text)


@dataclass(frozen=True)
class _Folded:
    text: str
    origin: Sequence[int]
    """For each folded character, the index of the original character it came from."""

    def span(self, start: int, end: int) -> tuple[int, int]:
        return self.origin[start], self.origin[end - 1] + 1


def _fold_with_offsets(text: str) -> _Folded:
    table = {ch: _fold_char(ch) for ch in set(text)}
    if all(len(f) == 1 for f in table.values()):
        # The usual case: one character in, one out, so offsets are unchanged and str.translate
        # does the work in C (a 100,000-character draft folds in milliseconds).
        return _Folded(text.translate({ord(c): f for c, f in table.items()}), range(len(text)))
    parts: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        folded = table[ch]
        parts.append(folded)
        origin.extend([i] * len(folded))
    return _Folded("".join(parts), origin)


_NOT_LETTER_OR_DIGIT = re.compile(r"[\W_]+")


def _squeeze(folded: str) -> str:
    """Letters and digits only: disclosures pass whatever punctuation or spacing joins them."""
    return _NOT_LETTER_OR_DIGIT.sub("", folded)


# ---------------------------------------------------------------------------------------------
# The lint


def lint(text: str, rules: LintRules) -> LintResult:
    """Check one draft against every enabled rule; pure, and linear in the length of the text."""
    doc = _Doc(text, rules)
    findings = _phrases(doc, [r for r in rules._compiled if r.spec.kind == "phrase"])
    for rule in rules._compiled:
        if rule.spec.kind == "disclosure":
            findings += _disclosure(doc, rule)
        elif rule.spec.kind == "proximity":
            findings += _proximity(doc, rule)
    return LintResult(_resolve(findings), rules.version)


class _Doc:
    """One draft with its folded forms, computed lazily: most drafts need few of them."""

    def __init__(self, text: str, rules: LintRules) -> None:
        self.original = text
        self.rules = rules
        self.folded = _fold_with_offsets(text)
        self._squeezed: str | None = None
        self._sentences: list[int] | None = None
        self._clauses: list[int] | None = None

    @property
    def norm(self) -> str:
        return self.folded.text

    @property
    def squeezed(self) -> str:
        if self._squeezed is None:
            self._squeezed = _squeeze(self.norm)
        return self._squeezed

    @property
    def sentence_ends(self) -> list[int]:
        if self._sentences is None:
            self._sentences = [m.start() for m in _SENTENCE_END.finditer(self.norm)]
        return self._sentences

    @property
    def clause_ends(self) -> list[int]:
        if self._clauses is None:
            self._clauses = [m.start() for m in _CLAUSE_END.finditer(self.norm)]
        return self._clauses

    def finding(self, rule: _CompiledRule, start: int, end: int, folded_match: str = "") -> Finding:
        span = self.folded.span(start, end)
        spec = rule.spec
        return Finding(
            rule_id=spec.id,
            span=span,
            excerpt=self.original[span[0]:span[1]],
            source=spec.source,
            severity=spec.severity,
            message=spec.message,
            suggestion=spec.replacements.get(folded_match, spec.suggestion),
        )


def _matches(doc: _Doc, rule: _CompiledRule) -> list[re.Match[str]]:
    """Term/trigger matches that no allow pattern covers."""
    norm = doc.norm
    out = []
    for m in rule.match.finditer(norm):
        if not _allowed(norm, m.start(), m.end(), rule.allow):
            out.append(m)
    return out


def _allowed(norm: str, start: int, end: int, allow: tuple[re.Pattern[str], ...]) -> bool:
    if not allow:
        return False
    lo, hi = max(0, start - _ALLOW_MARGIN), min(len(norm), end + _ALLOW_MARGIN)
    for pattern in allow:
        # `pos` (unlike slicing) lets a lookbehind see the text before the window.
        for a in pattern.finditer(norm, lo, hi):
            if a.start() <= start and end <= a.end():
                return True
            if a.start() > start:
                break
    return False


def _negated_by_prefix(doc: _Doc, start: int) -> bool:
    window = doc.norm[max(0, start - _NEGATION_WINDOW):start]
    pattern = doc.rules._negated_prefix
    return bool(window and pattern is not None and pattern.search(window))


def _negated_in_clause(doc: _Doc, start: int) -> bool:
    marker = doc.rules._clause_marker
    if marker is None:
        return False
    ends = doc.clause_ends
    i = bisect.bisect_left(ends, start)
    clause_start = ends[i - 1] + 1 if i else 0
    before = doc.norm[max(clause_start, start - 2 * _NEGATION_WINDOW):start]
    if doc.rules._clause_ignore is not None:
        before = doc.rules._clause_ignore.sub(" ", before)
    return bool(marker.search(before))


def _phrases(doc: _Doc, rules: list[_CompiledRule]) -> list[Finding]:
    """All phrase rules in one pass, so that a denial carries over a list of phrases across rules:
    in "不得承诺或暗示保本、保收益、无风险" all three are denied, not only 保本."""
    hits = [
        (m.start(), m.end(), rule, m.group())
        for rule in rules
        if not rule.context or any(c.search(doc.norm) for c in rule.context)
        for m in _matches(doc, rule)
    ]
    hits.sort(key=lambda h: (h[0], -h[1]))
    denied_ends: set[int] = set()
    out = []
    for start, end, rule, matched in hits:
        denied = rule.spec.negation == "prefix" and (
            _negated_by_prefix(doc, start) or _continues_denied_list(doc, start, denied_ends))
        if denied:
            denied_ends.add(end)
            continue
        out.append(doc.finding(rule, start, end, matched))
    return out


def _continues_denied_list(doc: _Doc, start: int, denied_ends: set[int]) -> bool:
    sep = _LIST_SEPARATOR_BEFORE.search(doc.norm, max(0, start - 4), start)
    return sep is not None and sep.start() in denied_ends


def _disclosure(doc: _Doc, rule: _CompiledRule) -> list[Finding]:
    triggers = _matches(doc, rule)
    if rule.spec.negation == "prefix":  # "结构性存款不是理财产品" mentions no 理财 product
        triggers = [m for m in triggers if not _negated_by_prefix(doc, m.start())]
    first = next(iter(triggers), None)
    if first is None:
        return []
    haystack = doc.squeezed if rule.spec.required_on == "squeezed" else doc.norm
    if all(r.search(haystack) for r in rule.required):
        return []
    return [doc.finding(rule, first.start(), first.end())]


def _proximity(doc: _Doc, rule: _CompiledRule) -> list[Finding]:
    terms = _matches(doc, rule)
    if not terms:
        return []
    ends = doc.sentence_ends
    anchored = {bisect.bisect_left(ends, a.start()) for p in rule.anchors for a in p.finditer(doc.norm)}
    out = []
    for m in terms:
        if bisect.bisect_left(ends, m.start()) not in anchored:
            continue
        if rule.spec.negation == "clause" and _negated_in_clause(doc, m.start()):
            continue
        if rule.spec.negation == "prefix" and _negated_by_prefix(doc, m.start()):
            continue
        out.append(doc.finding(rule, m.start(), m.end(), m.group()))
    return out


def _resolve(findings: list[Finding]) -> tuple[Finding, ...]:
    """Text order; a warning inside a block finding's span adds nothing ("保证高收益")."""
    blocks = sorted(f.span for f in findings if f.blocking)
    starts = [b[0] for b in blocks]
    reach: list[int] = []  # reach[i]: the furthest end among blocks[0..i]
    for _, end in blocks:
        reach.append(max(end, reach[-1]) if reach else end)

    def covered(span: tuple[int, int]) -> bool:
        i = bisect.bisect_right(starts, span[0])
        return bool(i) and reach[i - 1] >= span[1]

    kept = {(f.rule_id, f.span): f for f in findings if f.blocking or not covered(f.span)}
    return tuple(sorted(kept.values(), key=lambda f: (f.span[0], f.span[1], f.rule_id)))
