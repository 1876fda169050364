"""The one masking policy: what each typed sensitive value reads as, by the reply's audience.

A reply's audience is `Reply.masked` (True: a group channel, or a push; False: a DM to the
authorised RM). The core sets it from the request's channel kind (`bot.core.app`), push builders
set it True; every renderer (console text, Slack Block Kit, WeCom markdown and cards) calls
`resolve` first, so what a platform shows always went through here.

| value            | DM            | group (docs/DOMAIN.md §8)                                        |
|------------------|---------------|--------------------------------------------------------------|
| CustomerName     | 苏明          | 苏* (at most the surname, `rules.masking.mask_name`)         |
| Phone            | 13800001234   | 138****1234                                                  |
| IdNumber/Account | full          | ****1234                                                     |
| CustomerMoney    | 15.80万       | 10–20万 (the bands of /tier, policy `aum_bands_yuan`)        |
| Aggregate        | 52.20万       | as a DM if over ≥ `masking.group_min_customers` customers,  |
|                  |               | else a band like one customer's money                        |
| Share (承接率)   | 28.6%         | `**%` when its part is a sum over too few customers          |

Safety net, group replies only: after resolving, any raw form of a typed value of the reply
(a name, a phone, an ID, an amount as 万 or 元) still found in plain text is replaced by its
masked form, and phone-, ID- and card-number-like digit runs are masked wherever they are; each
such catch is logged as a warning, since it means a command formatted a value itself.
Charts (`Image.customers`) over fewer customers than the policy number are not sent to groups.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from bot.core.reply import Button, Field, Image, Item, Reply, Section, Table
from bot.core.sensitive import (AccountNumber, Aggregate, CustomerMoney, CustomerName, IdNumber, Phone, Rich,
                                Sensitive, Share, Shown, Text)
from rules.masking import aum_band, mask_name, mask_phone, mask_tail
from rules.money import fmt_wan, fmt_yuan
from rules.policy import MaskingPolicy, Policy, default_policy

log = logging.getLogger("rmbot.privacy")

_PHONE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d{9}(?!\d)")
_ID = re.compile(r"(?<![\dA-Za-z])\d{17}[\dXx](?![\dA-Za-z])|(?<!\d)\d{15}(?!\d)")
_CARD = re.compile(r"(?<!\d)\d{12,19}(?!\d)")


class Rules:
    """The policy values masking needs, taken from the bank's Policy."""

    def __init__(self, bands_yuan: list[Decimal], masking: MaskingPolicy) -> None:
        self.bands_yuan = bands_yuan
        self.min_customers = masking.group_min_customers

    @classmethod
    def of(cls, policy: Policy) -> "Rules":
        return cls(list(policy.aum_bands_yuan), policy.masking)


@lru_cache(maxsize=1)
def _default_rules() -> Rules:
    return Rules.of(default_policy())


def _signed(fen: int, text: str) -> str:
    return ("+" if fen > 0 else "−" if fen < 0 else "±") + text


def show(value: Sensitive, group: bool, rules: Rules) -> str:
    """What one typed value reads as for the audience."""
    if isinstance(value, CustomerName):
        return mask_name(value.value) if group else value.value
    if isinstance(value, Phone):
        return mask_phone(value.value) if group else value.value
    if isinstance(value, (IdNumber, AccountNumber)):
        return mask_tail(value.value) if group else value.value
    if isinstance(value, CustomerMoney):
        return aum_band(value.fen, rules.bands_yuan) if group else fmt_wan(value.fen, value.places)
    if isinstance(value, Share):
        if not value.whole_fen:
            return "—"
        if group and 0 < value.customers < rules.min_customers and value.part_fen:
            return "**%"
        q = (Decimal(value.part_fen) * 100 / Decimal(value.whole_fen)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        return f"{q}%"
    if isinstance(value, Aggregate):
        if group and 0 < value.customers < rules.min_customers:
            text = aum_band(abs(value.fen), rules.bands_yuan)
        else:
            text = fmt_wan(abs(value.fen) if value.signed else value.fen, value.places)
        return _signed(value.fen, text) if value.signed else text
    raise TypeError(f"not a sensitive value: {value!r}")


def raw_forms(value: Sensitive, rules: Rules) -> list[str]:
    """The strings that would give the value away in a group (for the safety net)."""
    if isinstance(value, CustomerName):
        v = value.value.strip()
        return [v] if len(v) >= 2 else []
    if isinstance(value, (Phone, IdNumber, AccountNumber)):
        v = value.value.strip()
        return [v] if len(v) >= 6 else []
    if isinstance(value, (CustomerMoney, Aggregate)):
        if isinstance(value, Aggregate) and not 0 < value.customers < rules.min_customers:
            return []
        fen = abs(value.fen)
        if fen < 10_000_00:  # under 1万 the bare figures (0.5万) collide with thresholds and bands
            return [fmt_yuan(fen)]
        return [fmt_wan(fen, 2), fmt_wan(fen, 1), fmt_yuan(fen)]
    return []


class _Resolver:
    def __init__(self, group: bool, rules: Rules) -> None:
        self.group = group
        self.rules = rules
        self.raw: dict[str, str] = {}
        """Raw form → what the group may see instead (filled while resolving)."""
        self.caught = 0
        self._pattern: re.Pattern[str] | None = None

    def collect(self, value: Rich | None) -> None:
        if self.group and isinstance(value, Text):
            for v in value.values():
                shown = show(v, True, self.rules)
                for form in raw_forms(v, self.rules):
                    if form not in shown:
                        self.raw.setdefault(form, shown)

    def text(self, value: Rich | None) -> str | None:
        if value is None:
            return None
        if isinstance(value, str):
            return self.net(value)
        out: list[str] = []
        for part in value.parts:
            if isinstance(part, str):
                out.append(self.net(part))
            elif isinstance(part, Shown):
                out.append(part.text)
            else:
                out.append(show(part, self.group, self.rules))
        return "".join(out)

    def net(self, text: str) -> str:
        if not self.group or not text:
            return text
        before = text
        if self.raw:
            if self._pattern is None:
                forms = sorted(self.raw, key=len, reverse=True)
                self._pattern = re.compile("|".join(
                    (r"(?<![\d.,])" if f[0].isdigit() else "") + re.escape(f) for f in forms))
            text = self._pattern.sub(lambda m: self.raw[m.group()], text)
        text = _PHONE.sub(lambda m: mask_phone(re.sub(r"\D", "", m.group())[-11:]), text)
        text = _ID.sub(lambda m: mask_tail(m.group()), text)
        text = _CARD.sub(lambda m: mask_tail(m.group()), text)
        if text != before:
            self.caught += 1
        return text


def _walk(reply: Reply, fn: Callable[[Rich | None], object]) -> None:
    """Every text of the reply, in one place, so resolving and collecting see the same fields."""
    fn(reply.title)
    fn(reply.summary)
    fn(reply.usage)
    for note in reply.notes:
        fn(note)

    def fields(fs: list[Field]) -> None:
        for f in fs:
            fn(f.label)
            fn(f.value)

    def tables(ts: list[Table]) -> None:
        for t in ts:
            fn(t.title)
            for c in t.columns:
                fn(c)
            for row in t.rows:
                for cell in row:
                    fn(cell)

    def items(its: list[Item]) -> None:
        for it in its:
            fn(it.text)
            fn(it.done_by)
            for b in it.buttons:
                fn(b.label)

    fields(reply.fields)
    tables(reply.tables)
    items(reply.items)
    for b in reply.buttons:
        fn(b.label)
    for s in reply.sections:
        fn(s.title)
        fn(s.text)
        fields(s.fields)
        tables(s.tables)
        items(s.items)
    for image in reply.images:
        fn(image.title)


def resolve(reply: Reply, policy: Policy | None = None) -> Reply:
    """A copy of the reply with every text a plain string, as its audience may see it.

    Idempotent: a resolved reply resolves to itself. `policy` is the bank's; renderers that are
    handed an already resolved reply need none (the shipped policy is the fallback).
    """
    rules = Rules.of(policy) if policy is not None else _default_rules()
    r = _Resolver(reply.masked, rules)
    _walk(reply, r.collect)
    t = r.text

    def s(value: Rich) -> str:
        out = t(value)
        assert out is not None
        return out

    def fields(fs: list[Field]) -> list[Field]:
        return [Field(label=s(f.label), value=s(f.value)) for f in fs]

    def tables(ts: list[Table]) -> list[Table]:
        return [Table(title=t(x.title), columns=[s(c) for c in x.columns], rows=[[s(c) for c in row] for row in x.rows])
                for x in ts]

    def buttons(bs: list[Button]) -> list[Button]:
        return [b.model_copy(update={"label": s(b.label)}) for b in bs]

    def items(its: list[Item]) -> list[Item]:
        return [Item(text=s(i.text), buttons=buttons(i.buttons), ref=i.ref, done_by=t(i.done_by)) for i in its]

    images: list[Image] = []
    notes = [s(n) for n in reply.notes]
    for image in reply.images:
        if reply.masked and image.customers is not None and image.customers < rules.min_customers:
            notes.append(f"图表「{s(image.title)}」涉及客户少于 {rules.min_customers} 户，群聊中不显示，请私聊查询。"
                         "Chart withheld in groups: too few customers.")
            continue
        images.append(image.model_copy(update={"title": s(image.title)}))
    out = reply.model_copy(update={
        "title": s(reply.title), "summary": t(reply.summary), "usage": t(reply.usage),
        "fields": fields(reply.fields), "tables": tables(reply.tables), "items": items(reply.items),
        "buttons": buttons(reply.buttons), "notes": notes, "images": images,
        "sections": [Section(title=t(x.title), mention=x.mention, text=t(x.text), fields=fields(x.fields),
                             tables=tables(x.tables), items=items(x.items)) for x in reply.sections],
    })
    if r.caught:
        log.warning("masking net: %d text(s) of group reply %r held raw customer data; masked", r.caught, out.title)
    return out


def raw_values(reply: Reply) -> list[Sensitive]:
    """Every typed value of an unresolved reply (tests compare rendered output against these)."""
    found: list[Sensitive] = []
    _walk(reply, lambda v: found.extend(v.values()) if isinstance(v, Text) else None)
    return found
