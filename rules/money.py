"""Money helpers: amounts are integer 分 (fen) everywhere; this turns them into what users read.

Chat shows 万元 with two decimals ("23.60万"), as bank staff are used to. Every comparison an
answer shows ("月日均 23.60万 ≥ 20万 → 贵宾客户") goes through `compare_wan` / `compare_ratio`:
the operator is computed from the exact amounts and the figures get as many decimals as it takes
for the displayed numbers to say the same thing (49,999.99元 is "4.999999万 < 5万", never
"5.00万 < 5万"). That is the one place the guarantee lives; `tests/rules/test_displayed_comparisons.py`
checks it over generated amounts at every policy line.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Literal

FEN_PER_YUAN = 100
FEN_PER_WAN = 1_000_000
WAN_PLACES_EXACT = 6
"""万 to six decimals is exact to the 分."""


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


def _sign(x: Decimal | int) -> int:
    return (x > 0) - (x < 0)


def _wan_at(fen: int, places: int) -> Decimal:
    return fen_to_wan(fen).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def wan_vs(value_fen: int, *lines_fen: int, places: int = 2) -> str:
    """`value_fen` in 万 with the fewest decimals (at least `places`) at which it stands against
    every line, and against zero, exactly as the amount does: the figure never contradicts a
    verdict taken on the exact amount."""
    for p in range(places, WAN_PLACES_EXACT + 1):
        shown = _wan_at(value_fen, p) * FEN_PER_WAN
        if all(_sign(shown - line) == _sign(value_fen - line) for line in (0, *lines_fen)):
            return f"{_wan_at(value_fen, p)}万"
    return fmt_wan(value_fen, WAN_PLACES_EXACT)


def compare_wan(value_fen: int, line_fen: int, *other_lines_fen: int, op: Literal["≥", "≤", ">"] = "≥",
                places: int = 2) -> str:
    """"5.00万 ≥ 5万" / "4.999999万 < 5万": `op` names the rule's side of the line, the operator
    shown is the exact outcome, and the figure is precise enough against this line and the
    other lines of the same ladder (600.00万 must not sit beside a verdict of 贵宾客户)."""
    if op == "≥":
        sym = "≥" if value_fen >= line_fen else "<"
    elif op == "≤":
        sym = "≤" if value_fen <= line_fen else ">"
    else:
        sym = ">" if value_fen > line_fen else "≤"
    return f"{wan_vs(value_fen, line_fen, *other_lines_fen, places=places)} {sym} {fmt_threshold_wan(line_fen)}"


def fmt_gap(gap_fen: int) -> str:
    """A positive gap ("仅差 X") is never shown as 0: under 1万 it is given in 元 to the 分."""
    if 0 < abs(gap_fen) < FEN_PER_WAN:
        return fmt_yuan(gap_fen)
    return wan_vs(gap_fen)


def fmt_ratio_line(ratio: Decimal) -> str:
    """A policy ratio as a percentage without trailing zeros: 0.80 → 80%, 0.825 → 82.5%."""
    return f"{format((Decimal(ratio) * 100).normalize(), 'f')}%"


def ratio_parts(num_fen: int, den_fen: int, *ratios: Decimal, places: int = 2,
                pct_places: int = 1) -> tuple[str, str, str]:
    """(numerator, denominator, percentage) as shown in "当前 A / 基线 B = P%": the amounts and
    the percentage each get the decimals needed to stand against every ratio line as the exact
    quotient does, so "20.00万 / 25.00万 = 80.0% > 80%" cannot be printed for 80.01%."""
    if den_fen <= 0:
        raise ValueError("ratio_parts needs a positive denominator")
    exact = [_sign(num_fen - den_fen * Decimal(r)) for r in ratios]
    num_text = den_text = ""
    for p in range(places, WAN_PLACES_EXACT + 1):
        n, d = _wan_at(num_fen, p), _wan_at(den_fen, p)
        if d > 0 and [_sign(n - d * Decimal(r)) for r in ratios] == exact and _sign(n) == _sign(num_fen):
            num_text, den_text = f"{n}万", f"{d}万"
            break
    else:
        num_text, den_text = fmt_wan(num_fen, WAN_PLACES_EXACT), fmt_wan(den_fen, WAN_PLACES_EXACT)
    with localcontext() as ctx:
        ctx.prec = 60
        pct = Decimal(num_fen) * 100 / Decimal(den_fen)
        for p in range(pct_places, 40):
            q = pct.quantize(Decimal(1).scaleb(-p), rounding=ROUND_HALF_UP)
            if [_sign(q - Decimal(r) * 100) for r in ratios] == exact:
                break
    return num_text, den_text, f"{format(q, 'f')}%"


def pct_vs(num_fen: int, den_fen: int, *ratios: Decimal, places: int = 0) -> str:
    """Only the percentage of `ratio_parts` (list items that show "资产为近3月高点的 P%")."""
    return ratio_parts(num_fen, den_fen, *ratios, pct_places=places)[2]
