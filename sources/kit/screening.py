"""Row screening: which records can be loaded, and the quarantine table for those that cannot.

Every vendor's records pass `screen` before dlt sees them: a record that cannot be loaded
goes to the source's `quarantine` table with the reason and the raw record (treated by the
PII policy), so nothing the vendor sent is silently lost and nothing breaks a load.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from typing import Any, Optional

import dlt
import orjson
import pendulum
from dlt.common.schema.utils import has_table_seen_data
from dlt.extract import DltSource

from sources.kit.pages import Record
from sources.kit.paging import parse_timestamp
from sources.kit.privacy import PiiPolicy


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


def quarantine_missing(schema: Any) -> bool:
    """The source's dlt schema has never created its quarantine table (no row went there)."""
    table = schema.tables.get(QUARANTINE_TABLE) if schema is not None else None
    return table is None or not has_table_seen_data(table)


def empty_quarantine(schema: Any) -> DltSource:
    """What creates the quarantine table with no rows, so that queries and dashboards over it
    work before the first record is quarantined: a source over a copy of the pipeline's
    `schema`, since a bare resource would reset the schema's normalizer settings (the root
    ids its child tables carry)."""
    hints = {name: value for name, value in QUARANTINE_HINTS.items() if name != "table_name"}

    @dlt.resource(name=QUARANTINE_TABLE, **hints)
    def quarantine() -> Any:
        yield dlt.mark.materialize_table_schema()

    return DltSource(schema.clone(), QUARANTINE_TABLE, [quarantine()])


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
