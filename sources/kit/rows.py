"""Pure functions that shape API records into rows before dlt normalizes them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Optional

import pendulum

from sources.kit.pages import Record


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


def with_snapshot(rows: Iterable[Record], snapshot_at: pendulum.DateTime, **extra: Any) -> list[Record]:
    """Stamps point-in-time rows with the run's snapshot time (and e.g. the SLA channel)."""
    return [{**row, "snapshot_at": snapshot_at, **extra} for row in rows]
