"""Org files need the whole tree: levels must nest, parents may come later in the file, and the
materialised paths ("/BR01/SB01/") of every org below a moved one change with it.

A bank has hundreds to a few thousand orgs, so the tree is checked and rebuilt in memory.
"""

from __future__ import annotations

from bot.imports.staging import STAGE, Stage

PARENT_LEVEL = {"sub_branch": "branch", "outlet": "sub_branch"}
LEVEL_ZH = {"branch": "分行", "sub_branch": "支行", "outlet": "网点"}


def check_tree(stage: Stage) -> None:
    """Level nesting and cycles, for the staged orgs over the stored ones; bad rows go to errors."""
    pos = next(i for i, c in enumerate(stage.kind.columns) if c.target == "parent_id")
    while True:
        merged = _merged(stage)
        staged = _staged(stage)
        bad: list[tuple[int, int, str, str, str]] = []
        for org_id, (row, level, parent) in staged.items():
            if parent is None:
                continue
            parent_level = merged.get(parent, (None, None))[0]
            wanted = PARENT_LEVEL.get(level)
            if parent_level is not None and wanted is not None and parent_level != wanted:
                bad.append((row, pos, "parent_id", parent,
                            f"{LEVEL_ZH[level]}的上级应为{LEVEL_ZH[wanted]}，{parent} 是{LEVEL_ZH.get(parent_level, parent_level)}"))
            elif _cycles(org_id, merged):
                bad.append((row, pos, "parent_id", parent, "上级机构形成循环"))
        if not bad:
            return
        stage.add_errors(bad)
        stage.reject()
        stage.check_refs()  # children of a rejected parent now point at nothing
        stage.reject()


def _staged(stage: Stage) -> dict[str, tuple[int, str, str | None]]:
    stage.cur.execute(f"SELECT id, _row, level, parent_id FROM {STAGE}")
    return {r[0]: (r[1], r[2], r[3]) for r in stage.cur.fetchall()}


def _merged(stage: Stage) -> dict[str, tuple[str, str | None]]:
    """id → (level, parent): the stored tree with the staged rows laid over it."""
    stage.cur.execute("SELECT id, level, parent_id FROM org")
    tree = {r[0]: (r[1], r[2]) for r in stage.cur.fetchall()}
    stage.cur.execute(f"SELECT id, level, parent_id FROM {STAGE}")
    tree.update({r[0]: (r[1], r[2]) for r in stage.cur.fetchall()})
    return tree


def _cycles(org_id: str, tree: dict[str, tuple[str, str | None]]) -> bool:
    seen = {org_id}
    node = tree.get(org_id, (None, None))[1]
    while node is not None:
        if node in seen:
            return True
        seen.add(node)
        node = tree.get(node, (None, None))[1]
    return False


def paths(tree: dict[str, tuple[str, str | None]]) -> dict[str, str]:
    out: dict[str, str] = {}

    def path(org_id: str) -> str:
        if org_id not in out:
            parent = tree[org_id][1]
            out[org_id] = (path(parent) if parent else "/") + f"{org_id}/"
        return out[org_id]

    for org_id in tree:
        path(org_id)
    return out


def fill_stage_paths(stage: Stage) -> None:
    """Paths for the staged rows, so the upsert writes complete rows."""
    computed = paths(_merged(stage))
    rows = [(computed[org_id], org_id) for org_id in _staged(stage)]
    mark = "%s" if stage.pg else "?"
    stage.cur.executemany(f"UPDATE {STAGE} SET path = {mark} WHERE id = {mark}", rows)


def repath_stored(stage: Stage) -> int:
    """After the upsert: fix the paths of stored orgs below a moved one. Returns how many changed."""
    stage.cur.execute("SELECT id, level, parent_id, path FROM org")
    rows = stage.cur.fetchall()
    computed = paths({r[0]: (r[1], r[2]) for r in rows})
    changed = [(computed[r[0]], r[0]) for r in rows if computed[r[0]] != r[3]]
    mark = "%s" if stage.pg else "?"
    if changed:
        stage.cur.executemany(f"UPDATE org SET path = {mark} WHERE id = {mark}", changed)
    return len(changed)

