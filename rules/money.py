"""Money helpers: amounts are integer 分 (fen) everywhere; this turns them into what users read.

Chat shows 万元 with two decimals ("23.60万"), as bank staff are used to.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

FEN_PER_YUAN = 100
FEN_PER_WAN = 1_000_000


def yuan_to_fen(yuan: Decimal | int | str) -> int:
    """Exact conversion; refuses sub-fen precision instead of rounding money silently."""
    value = Decimal(str(yuan)) * FEN_PER_YUAN
    if value != value.to_integral_value():
        raise ValueError(f"amount has more than 2 decimals: {yuan}")
    return int(value)


def wan_to_fen(wan: Decimal | int | str) -> int:
    return int((Decimal(str(wan)) * FEN_PER_WAN).to_integral_value(rounding=ROUND_HALF_UP))


def fen_to_wan(fen: int) -> Decimal:
    return Decimal(fen) / FEN_PER_WAN


def fmt_wan(fen: int, places: int = 2) -> str:
    """23.60万; 1.2亿 style is deliberately not used: staff compare figures at a glance in 万."""
    q = Decimal(1).scaleb(-places)
    return f"{fen_to_wan(fen).quantize(q, rounding=ROUND_HALF_UP)}万"


def fmt_threshold_wan(fen: int) -> str:
    """Thresholds read best without trailing zeros: 20万, 5万, 0.5万."""
    value = fen_to_wan(fen).normalize()
    text = format(value, "f")
    return f"{text}万"


def fmt_yuan(fen: int) -> str:
    return f"{Decimal(fen) / FEN_PER_YUAN:,.2f}元"
