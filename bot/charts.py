"""PNG charts for the manager summaries (docs/DOMAIN.md §7): AUM trend, tiers, follow-up by RM.

Why it is built this way:
* The Chinese font ships inside a PyPI package the project depends on (`noto-cjk-sans-otc`,
  Noto Sans CJK, SIL OFL) and is registered with matplotlib's font manager by file path. A bank
  server has no CJK system fonts and may not download anything, and a font that silently falls
  back renders 口口口 ("tofu"): `cjk_font()` fails loudly instead when the face does not resolve
  to the packaged file.
* Agg canvas objects, never pyplot: no global backend switch and no figure registry that grows
  in a long-running bot. Rendering holds a lock because matplotlib's rc settings are global.
* A fixed pixel size and no timestamp in the PNG, so the same figures give the same bytes and
  every platform shows the chart at the same size.
* The title and the labels shown are also written into the PNG's text chunks
  (Title, Description): tests and auditors can read what a chart says without OCR.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from io import BytesIO

import matplotlib
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

FONT_FAMILY = "Noto Sans CJK SC"
"""The Simplified Chinese face of the packaged collection (face 2 of NotoSansCJK-Regular.ttc)."""
WIDTH_PX, HEIGHT_PX, DPI = 960, 540, 120
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

DONE_COLOR, OPEN_COLOR, LINE_COLOR = "#2e7d32", "#ef6c00", "#1565c0"
BAR_COLOR = "#5c6bc0"

_lock = threading.RLock()


class FontUnavailable(RuntimeError):
    """The packaged CJK font is missing or did not resolve: charts would show tofu."""


def font_file() -> str:
    """Path of the collection inside the installed `noto-cjk-sans-otc` package."""
    try:
        from noto_cjk_sans_otc import FONT_PATH
    except ImportError as exc:  # pragma: no cover - a broken install
        raise FontUnavailable("字体包 noto-cjk-sans-otc 未安装：pip install -e . 后重试") from exc
    return str(FONT_PATH)


def cjk_font() -> font_manager.FontPath:
    """Register the packaged font once; return what matplotlib resolves FONT_FAMILY to."""
    path = font_file()
    manager = font_manager.fontManager
    with _lock:
        if not manager.ttflist or manager.ttflist[0].fname != path:
            if not any(entry.fname == path for entry in manager.ttflist):
                manager.addfont(path)
            # A machine with Noto CJK installed system-wide has the same family name; matplotlib
            # keeps the first of equal matches, so the packaged faces go first.
            manager.ttflist.sort(key=lambda entry: entry.fname != path)
            manager._findfont_cached.cache_clear()  # type: ignore[attr-defined]
        resolved = font_manager.findfont(font_manager.FontProperties(family=FONT_FAMILY),
                                         fallback_to_default=False)
    if str(resolved) != path:
        raise FontUnavailable(f"{FONT_FAMILY} resolved to {resolved}, not the packaged {path}")
    return resolved


@contextmanager
def style() -> Iterator[None]:
    """The packaged font and the house style, for as long as a figure is built or drawn."""
    cjk_font()
    with _lock, matplotlib.rc_context({
        "font.family": "sans-serif",
        "font.sans-serif": [FONT_FAMILY],
        "axes.unicode_minus": False,  # CJK fonts' U+2212 is fine, but keep labels plain ASCII
        "font.size": 11,
        "axes.titlesize": 14,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }):
        yield


def _figure() -> Figure:
    return Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, layout="constrained")


def _empty(ax: object, text: str = "暂无数据") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=16, color="#757575",  # type: ignore[attr-defined]
            transform=ax.transAxes)  # type: ignore[attr-defined]
    ax.set_xticks([])  # type: ignore[attr-defined]
    ax.set_yticks([])  # type: ignore[attr-defined]


def to_png(fig: Figure, title: str, labels: Sequence[str] = ()) -> bytes:
    """Render at the fixed size; Title/Description text chunks say what the chart shows."""
    buf = BytesIO()
    with style():
        FigureCanvasAgg(fig)
        fig.savefig(buf, format="png", dpi=DPI, metadata={
            "Software": None, "Title": title, "Description": " | ".join(labels)})
    return buf.getvalue()


def wan(fen: int) -> float:
    return fen / 1_000_000


def _money_axis(max_fen: int) -> tuple[str, float]:
    """亿元 once amounts reach 1亿, else 万元 (what managers read on a report)."""
    return ("亿元", 10_000_000_000) if max_fen >= 10_000_000_000 else ("万元", 1_000_000)


# -- AUM trend ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    label: str
    """x-axis label, e.g. "2026-10" (month end) or "11-20" (point-in-time)."""
    fen: int


def aum_trend_figure(points: Sequence[Point], title: str) -> tuple[Figure, list[str]]:
    with style():
        fig = _figure()
        ax = fig.add_subplot()
        ax.set_title(title)
        labels = [p.label for p in points]
        if not points:
            _empty(ax)
            return fig, [title]
        unit, div = _money_axis(max(p.fen for p in points))
        values = [p.fen / div for p in points]
        xs = list(range(len(points)))
        ax.plot(xs, values, marker="o", color=LINE_COLOR, linewidth=2)
        ax.set_xticks(xs, labels)
        ax.set_ylabel(f"金融资产（{unit}）")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.2f}" if unit == "亿元" else f"{v:,.0f}"))
        low, high = min(values), max(values)
        pad = (high - low) * 0.15 or max(high * 0.05, 1e-6)
        ax.set_ylim(max(0.0, low - pad), high + pad)
        ax.annotate(f"{values[-1]:,.2f}{unit}", (xs[-1], values[-1]), textcoords="offset points",
                    xytext=(-6, 10), ha="right", fontsize=10, color=LINE_COLOR,
                    bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.85})
        ax.margins(x=0.06)
        ax.grid(axis="y", alpha=0.3)
    return fig, [title, f"金融资产（{unit}）", *labels]


def aum_trend(points: Sequence[Point], title: str) -> bytes:
    fig, labels = aum_trend_figure(points, title)
    return to_png(fig, title, labels)


# -- tier distribution ------------------------------------------------------------------------


def tier_figure(rows: Sequence[tuple[str, int]], title: str) -> tuple[Figure, list[str]]:
    """rows: (tier, customers), highest tier first; drawn top to bottom in that order."""
    with style():
        fig = _figure()
        ax = fig.add_subplot()
        ax.set_title(title)
        if not rows or not any(n for _, n in rows):
            _empty(ax)
            return fig, [title]
        names = [name for name, _ in rows]
        counts = [n for _, n in rows]
        ys = list(range(len(rows)))[::-1]
        bars = ax.barh(ys, counts, color=BAR_COLOR)
        ax.set_yticks(ys, names)
        ax.bar_label(bars, labels=[f"{n:,} 户" for n in counts], padding=4, fontsize=10)
        ax.set_xlabel("客户数（户）")
        ax.set_xlim(0, max(counts) * 1.18)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(axis="x", alpha=0.3)
    return fig, [title, "客户数（户）", *names]


def tier_distribution(rows: Sequence[tuple[str, int]], title: str) -> bytes:
    fig, labels = tier_figure(rows, title)
    return to_png(fig, title, labels)


# -- follow-up completion by RM ------------------------------------------------------------------


MAX_RMS = 15
"""Bars that still read at this size; the RMs with most open items come first."""


def followup_figure(rows: Sequence[tuple[str, int, int]], title: str) -> tuple[Figure, list[str]]:
    """rows: (RM label, items followed up, items still open), in the order to show."""
    rows = list(rows)[:MAX_RMS]
    with style():
        fig = _figure()
        ax = fig.add_subplot()
        ax.set_title(title)
        if not rows:
            _empty(ax, "本期无待跟进事项")
            return fig, [title]
        names = [r[0] for r in rows]
        done = [r[1] for r in rows]
        open_ = [r[2] for r in rows]
        ys = list(range(len(rows)))[::-1]
        ax.barh(ys, done, color=DONE_COLOR, label="已跟进")
        bars = ax.barh(ys, open_, left=done, color=OPEN_COLOR, label="未跟进")
        ax.bar_label(bars, labels=[f"{d}/{d + o}" + (f"（{d * 100 // (d + o)}%）" if d + o else "")
                                   for d, o in zip(done, open_)], padding=4, fontsize=9)
        ax.set_yticks(ys, names)
        ax.set_xlabel("事项数（已跟进 / 合计）")
        ax.set_xlim(0, max(d + o for d, o in zip(done, open_)) * 1.3 or 1)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(loc="lower right", frameon=False)
        ax.grid(axis="x", alpha=0.3)
    return fig, [title, "已跟进", "未跟进", *names]


def followup_completion(rows: Sequence[tuple[str, int, int]], title: str) -> bytes:
    fig, labels = followup_figure(rows, title)
    return to_png(fig, title, labels)
