"""Typed sensitive values inside replies: what a command says *is* a customer's name or money.

Commands and push builders do not format a customer's name, phone, ID or amount into a string
themselves. They put one of these values into a reply text (`Text`, a list of plain strings
and typed values); `bot.core.privacy` then decides, in one place and by the reply's audience
(DM or group), how each value reads. A command therefore cannot forget to mask: it never holds
the string a group would see.

    Text.of(CustomerName("苏明"), "（C0000001）· 理财 ", CustomerMoney(158_000_00, places=1))

reads `苏明（C0000001）· 理财 15.8万` in a DM and `苏*（C0000001）· 理财 10–20万` in a group.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True)


class CustomerName(_Value):
    """A customer's (person's or company's) name: the surname only in groups."""

    kind: Literal["name"] = "name"
    value: str

    def __init__(self, value: str, **kw: object) -> None:
        super().__init__(value=value, **kw)


class Phone(_Value):
    """A customer's phone number: `138****1234` in groups."""

    kind: Literal["phone"] = "phone"
    value: str

    def __init__(self, value: str, **kw: object) -> None:
        super().__init__(value=value, **kw)


class IdNumber(_Value):
    """An ID card or passport number: the last 4 characters in groups."""

    kind: Literal["id"] = "id"
    value: str

    def __init__(self, value: str, **kw: object) -> None:
        super().__init__(value=value, **kw)


class AccountNumber(_Value):
    """A bank account or card number: the last 4 digits in groups."""

    kind: Literal["account"] = "account"
    value: str

    def __init__(self, value: str, **kw: object) -> None:
        super().__init__(value=value, **kw)


class CustomerMoney(_Value):
    """One customer's amount (balance, holding, outflow) in 分: a band (`10–20万`) in groups."""

    kind: Literal["money"] = "money"
    fen: int
    places: int = 2
    """Decimals of 万 shown in a DM (2: 15.82万, 1: 15.8万)."""

    def __init__(self, fen: int, places: int = 2, **kw: object) -> None:
        super().__init__(fen=fen, places=places, **kw)


class Aggregate(_Value):
    """A sum over `customers` customers in 分: shown in groups only when enough customers are
    in it (policy `masking.group_min_customers`), else banded, as it would be one customer's money."""

    kind: Literal["aggregate"] = "aggregate"
    fen: int
    customers: int
    places: int = 2
    signed: bool = False
    """A change (`+3.20万`, `−1.00万`) rather than a level."""

    def __init__(self, fen: int, customers: int, places: int = 2, signed: bool = False, **kw: object) -> None:
        super().__init__(fen=fen, customers=customers, places=places, signed=signed, **kw)


class Share(_Value):
    """A percentage of customers' money (承接率): `part_fen` over `whole_fen`. In groups it is
    hidden (`**%`) when the part is a sum over fewer customers than the policy number, since
    the whole is shown and part = share × whole would give that customer's money away."""

    kind: Literal["share"] = "share"
    part_fen: int
    whole_fen: int
    customers: int

    def __init__(self, part_fen: int, whole_fen: int, customers: int, **kw: object) -> None:
        super().__init__(part_fen=part_fen, whole_fen=whole_fen, customers=customers, **kw)


class Shown(_Value):
    """A value already rendered by the masking policy for the reply's audience (never raw in a
    group). Only `bot.core.privacy` creates these."""

    kind: Literal["shown"] = "shown"
    text: str


Sensitive = Union[CustomerName, Phone, IdNumber, AccountNumber, CustomerMoney, Aggregate, Share]
Segment = Annotated[Union[CustomerName, Phone, IdNumber, AccountNumber, CustomerMoney, Aggregate, Share, Shown],
                    Field(discriminator="kind")]


class Text(BaseModel):
    """Reply text made of plain strings and typed values, resolved per audience."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["text"] = "text"
    parts: tuple[Union[str, Segment], ...] = ()

    @classmethod
    def of(cls, *parts: "str | Segment | Text") -> "Text":
        flat: list[str | Segment] = []
        for p in parts:
            if isinstance(p, Text):
                flat.extend(p.parts)
            elif p != "":
                flat.append(p)
        return cls(parts=tuple(flat))

    def __add__(self, other: "str | Segment | Text") -> "Text":
        return Text.of(self, other)

    def __radd__(self, other: str) -> "Text":
        return Text.of(other, self)

    def values(self) -> list[Sensitive]:
        return [p for p in self.parts if not isinstance(p, (str, Shown))]


Rich = Union[str, Text]
"""What a reply's text fields accept: a plain string, or a Text holding typed values."""


def join(sep: str, texts: "list[str | Segment | Text]") -> Text:
    """`sep.join(texts)` for typed texts."""
    out: list[str | Segment | Text] = []
    for i, t in enumerate(texts):
        if i:
            out.append(sep)
        out.append(t)
    return Text.of(*out)
