"""Pure functions that shape UJET records into rows before dlt normalizes them."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Optional

import orjson

import pendulum

from sources.ujet.helpers.pages import Record
from sources.ujet.helpers.privacy import PiiPolicy
from sources.ujet.helpers.tailing import parse_timestamp


def prepare(record: Record, root_id: Optional[str] = None) -> Record:
    """The record as dlt should get it: typed, without nulls, with vendor ids kept.

    One walk over the record does three things:

    * timestamps (`2024-01-30T07:09:48.813Z`) become aware datetimes. dlt would infer the
      same columns as timestamps from the strings, but then parse every value again in
      normalize; a datetime passes through its extract files typed and is not touched.
    * keys whose value is null are left out. dlt drops them too, after checking each one
      against its column; absent, they load as NULL all the same.
    * inside nested lists, a `root_id` field (e.g. `participants[].call_id`) that disagrees
      with the record's own id is kept as `reported_<root_id>`: dlt's normalizer writes the
      root's id over that field in child tables, so the vendor's value would be lost.
    """
    return _prepared(record, root_id, record.get("id"), inside_list=False)


def _prepared(value: Record, root_id: Optional[str], own_id: Any, inside_list: bool) -> Record:
    # a hot loop (every field of every record): type checks by identity, no helper calls
    # for the many fields that are neither containers nor timestamps
    out: Record = {}
    for key, item in value.items():
        if item is None:
            continue
        kind = type(item)
        if kind is str:
            if len(item) >= 20 and item[10] == "T" and item[-1] == "Z":
                item = _timestamp_or_text(item)
        elif kind is dict:
            item = _prepared(item, root_id, own_id, inside_list)
        elif kind is list:
            item = [_prepared(x, root_id, own_id, True) if type(x) is dict
                    else _timestamp_or_text(x) if type(x) is str else x for x in item]
        out[key] = item
    if inside_list and root_id:
        vendor_value = value.get(root_id)
        if vendor_value is not None and vendor_value != own_id:
            out[f"reported_{root_id}"] = vendor_value
    return out


def _timestamp_or_text(text: str) -> Any:
    """A datetime for a UTC timestamp as the API writes them; anything else unchanged."""
    if len(text) < 20 or text[10] != "T" or text[4] != "-" or text[-1] != "Z":
        return text
    try:
        return datetime.fromisoformat(text[:-1] + "+00:00")
    except ValueError:
        return text


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


QUARANTINE_TABLE = "quarantine"
QUARANTINE_HINTS: dict[str, Any] = {
    "table_name": QUARANTINE_TABLE,
    "write_disposition": "append",
    "primary_key": [],
    "columns": {
        "resource": {"name": "resource", "data_type": "text"},
        "reason": {"name": "reason", "data_type": "text"},
        "record_id": {"name": "record_id", "data_type": "text"},
        "request": {"name": "request", "data_type": "text"},
        "payload": {"name": "payload", "data_type": "text"},
        "quarantined_at": {"name": "quarantined_at", "data_type": "timestamp"},
    },
}


def screen(records: Iterable[Any], *, resource: str, kind: str, policy: PiiPolicy,
           key: Optional[str] = "id", cursor: Optional[str] = None) -> tuple[list[Record], list[Record]]:
    """Splits a batch into rows to load and rows for the quarantine table.

    A record that cannot be loaded (not an object, no key, a cursor that is no timestamp)
    goes only to quarantine, with the reason and the raw record. A record with NUL characters
    is loaded and also quarantined raw, because PostgreSQL cannot store NUL and dlt drops it
    there. Personal fields are treated by `policy` in both places.
    """
    loadable: list[Record] = []
    held: list[Record] = []
    for record in records:
        reason = _unloadable(record, key, cursor)
        if reason is None and _has_nul(record):
            held.append(quarantine_row(resource, "contains NUL characters, which PostgreSQL"
                                       " cannot store (loaded without them there)", record, kind,
                                       policy, key))
        if reason is not None:
            held.append(quarantine_row(resource, reason, record, kind, policy, key))
            continue
        loadable.append(policy.apply(kind, record))
    return loadable, held


def quarantine_row(resource: str, reason: str, record: Any, kind: str, policy: PiiPolicy,
                   key: Optional[str] = "id", request: Optional[str] = None) -> Record:
    record_id = record.get(key) if isinstance(record, dict) and key else None
    if isinstance(record, dict):
        payload: Optional[str] = json.dumps(policy.apply(kind, copy.deepcopy(record)), default=str)
    elif policy.keeps_everything:
        payload = json.dumps(record, default=str)
    else:
        payload, reason = None, f"{reason} (payload withheld: the PII policy cannot read it)"
    return {"resource": resource, "reason": reason, "record_id": None if record_id is None else str(record_id),
            "request": request, "payload": payload, "quarantined_at": pendulum.now("UTC")}


def page_quarantine(resource: str, rows: Iterable[Record], policy: PiiPolicy) -> list[Record]:
    """Quarantine rows for raw pages the HTTP layer could not decode, with their resource."""
    finished = []
    for row in rows:
        row = {**row, "resource": resource, "quarantined_at": pendulum.now("UTC")}
        if not policy.keeps_everything:
            row.update(payload=None, reason=row["reason"] + " (payload withheld by the PII policy)")
        finished.append(row)
    return finished


def _unloadable(record: Any, key: Optional[str], cursor: Optional[str]) -> Optional[str]:
    if not isinstance(record, dict):
        return f"not a JSON object but {type(record).__name__}"
    if key and record.get(key) is None:
        return f"has no {key}, which the table is keyed on"
    value = record.get(cursor) if cursor else None
    if value is not None:
        if not isinstance(value, str):
            return f"{cursor} is not a timestamp: {value!r}"
        try:
            parse_timestamp(value)
        except ValueError:
            return f"{cursor} is not a timestamp: {value!r}"
    return None


def _has_nul(value: Any) -> bool:
    try:
        # JSON writes NUL as \u0000 wherever it is, keys included: one search in C finds
        # the (many) records without it; the few it flags are looked at one value at a time
        if b"\\u0000" not in orjson.dumps(value):
            return False
    except TypeError:   # not what JSON carries (a test's record): look at every value
        pass
    return _has_nul_value(value)


def _has_nul_value(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul_value(k) or _has_nul_value(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul_value(v) for v in value)
    return False
