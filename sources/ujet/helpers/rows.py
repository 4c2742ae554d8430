"""Pure functions that shape records only UJET sends (its menu and team trees)."""

from __future__ import annotations

from collections.abc import Iterable

from sources.kit.pages import Record


def flatten_tree(nodes: Iterable[Record]) -> list[Record]:
    """One row per node of a `menus/tree` or `teams/tree` answer, parents before children.

    Each row keeps the node's own fields and adds `depth` (0 for roots), `path` (ids from the
    root, joined by `/`), `name_path` (names, joined by `/` as UJET's `materialized_path`
    does) and `is_leaf`.
    """
    rows: list[Record] = []

    def visit(node: Record, depth: int, ids: tuple[str, ...], names: tuple[str, ...]) -> None:
        children = node.get("children") or []
        ids = ids + (str(node.get("id")),)
        names = names + (str(node.get("name") or ""),)
        row = {key: value for key, value in node.items() if key != "children"}
        row.update(depth=depth, path="/".join(ids), name_path="/".join(names),
                   is_leaf=not children)
        rows.append(row)
        for child in children:
            visit(child, depth + 1, ids, names)

    for root in nodes:
        visit(root, 0, (), ())
    return rows
