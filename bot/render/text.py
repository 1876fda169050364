"""Neutral reply → plain text, for the console adapter and the test harness."""

from __future__ import annotations

import unicodedata

from bot.core.privacy import resolve
from bot.core.reply import Reply, Table
from bot.render.env import jinja_env


def display_width(text: str) -> int:
    """CJK characters take two terminal columns; tables must line up in Chinese."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - display_width(text))


def render_table(table: Table) -> str:
    cells = [table.columns, *table.rows]
    widths = [max(display_width(row[i]) if i < len(row) else 0 for row in cells) for i in range(len(table.columns))]
    lines = [f"  {table.title}"] if table.title else []
    for n, row in enumerate(cells):
        lines.append("  " + "  ".join(_pad(cell, widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            lines.append("  " + "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_text(reply: Reply, templates_dir: str | None = None) -> str:
    reply = resolve(reply)  # the masking policy decides what each customer value reads as
    template = jinja_env(templates_dir).get_template("console.txt.j2")
    return template.render(reply=reply, table=render_table).strip() + "\n"
