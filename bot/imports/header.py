"""Match a file's header to a kind's columns: any alias, in any order; strict about the rest.

Unknown or repeated columns fail the whole file rather than being ignored: a misspelt optional
column silently dropped would import wrong data (every deposit 0) without a single error row.
"""

from __future__ import annotations

from bot.imports.readers import FileProblem
from bot.imports.specs import Kind, norm_header


def resolve(kind: Kind, header: list[str], filename: str) -> list[int | None]:
    """For each of the kind's columns, its position in the file (None when absent)."""
    cells = [norm_header(h) for h in header]
    while cells and not cells[-1]:
        cells.pop()
    if not cells:
        raise FileProblem(f"{filename}：第 1 行应为表头，但为空。The first row must be the header.")
    lookup: dict[str, int] = {}
    for i, col in enumerate(kind.columns):
        for alias in col.headers():
            lookup.setdefault(norm_header(alias), i)
    positions: list[int | None] = [None] * len(kind.columns)
    unknown: list[str] = []
    for j, cell in enumerate(cells):
        found = lookup.get(cell)
        if found is None:
            unknown.append(header[j].strip() or f"第 {j + 1} 列（空）")
        elif positions[found] is not None:
            col = kind.columns[found]
            raise FileProblem(f"{filename}：表头中 {col.zh}（{col.name}）出现了两次。Duplicate column.")
        else:
            positions[found] = j
    known = "、".join(f"{c.zh}/{c.name}" for c in kind.columns)
    if unknown and len(unknown) == len(cells):
        raise FileProblem(f"{filename}：表头不是{kind.zh}文件的表头（第 1 行应为列名：{known}）。"
                          f"Wrong header for {kind.name}.")
    if unknown:
        raise FileProblem(f"{filename}：表头含未知列 {'、'.join(unknown)}；{kind.zh}文件的列为：{known}。"
                          f"Unknown column(s) for {kind.name}.")
    missing = [c for c, p in zip(kind.columns, positions) if p is None and c.required]
    if missing:
        raise FileProblem(f"{filename}：缺少必填列 {'、'.join(f'{c.zh}（{c.name}）' for c in missing)}。"
                          "Required column missing.")
    return positions
