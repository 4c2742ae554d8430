"""Pure functions that shape UJET records into rows before dlt normalizes them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pendulum

from sources.ujet.helpers.pages import Record


def cursor_to_datetime(record: Record, field: str) -> Record:
    """Turns the cursor field into a datetime so dlt compares instants, not strings."""
    value = record.get(field)
    if isinstance(value, str):
        record[field] = pendulum.parse(value)
    return record


def keep_vendor_root_ids(record: Record, root_id: str) -> Record:
    """Saves nested `root_id` values that disagree with the record's own id.

    Child tables get the root's id as `root_id` (e.g. `call_id`), which overwrites a field
    of that name inside nested elements (`participants[].call_id`, `recordings[].call_id`).
    When the vendor's value differs from the root's id, it is kept as `reported_<root_id>`
    so nothing the API sent is lost.
    """
    own_id = record.get("id")
    for element in _nested_dicts(record):
        value = element.get(root_id)
        if value is not None and value != own_id:
            element[f"reported_{root_id}"] = value
    return record


def _nested_dicts(value: Any, inside_list: bool = False) -> Iterator[Record]:
    if isinstance(value, dict):
        if inside_list:
            yield value
        for child in value.values():
            yield from _nested_dicts(child, inside_list)
    elif isinstance(value, list):
        for child in value:
            yield from _nested_dicts(child, inside_list=True)


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


def with_snapshot(rows: Iterable[Record], snapshot_at: pendulum.DateTime, **extra: Any) -> list[Record]:
    """Stamps point-in-time rows with the run's snapshot time (and e.g. the SLA channel)."""
    return [{**row, "snapshot_at": snapshot_at, **extra} for row in rows]
