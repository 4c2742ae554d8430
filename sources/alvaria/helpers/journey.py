"""From one snapshot and the one before it, the rows of every Alvaria table.

Pure functions: the previous snapshot comes in as the resource's state (`Tracked` per active
e-mail), the new one as the records read, and out come the `emails`, `email_snapshots` and
`email_state_changes` rows and the state to keep. docs/alvaria-tables.md defines each column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Optional

from sources.alvaria.settings import FIELDS, IDS, SNAPSHOT_FIELDS
from sources.kit.pages import Record
from sources.kit.rows import prepare

Tracked = dict[str, Any]
"""What the state keeps of an active e-mail: `record` (as read, after the PII policy) and
`first_seen_at` (ISO 8601). JSON, so that dlt's state stores it as it is."""


def email_row(record: Record) -> Record:
    """An API item as a row: snake_case names, ids as text, times as datetimes, the sequence
    number as an integer (documented int64, sent as a string)."""
    row: Record = {}
    for key, value in record.items():
        if value is None:
            continue
        name = FIELDS.get(key) or _snake(key)
        if name in IDS:
            value = str(value)
        elif name == "event_sequence_number":
            value = sequence_number(value)
        row[name] = value
    return prepare(row)


def sequence_number(value: Any) -> Optional[int]:
    """`eventSequenceNumber` as an int, whether sent as a number or a string; None if it is
    neither (the record is then held in quarantine rather than loaded half)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return None


@dataclass
class Observation:
    emails: list[Record] = field(default_factory=list)
    snapshot_rows: list[Record] = field(default_factory=list)
    changes: list[Record] = field(default_factory=list)
    tracked: dict[str, Tracked] = field(default_factory=dict)
    left: int = 0


def observe(previous: dict[str, Tracked], read: dict[str, Record], snapshot_at: datetime,
            previous_snapshot_at: Optional[datetime],
            unreadable: frozenset[str] = frozenset()) -> Observation:
    """The rows one snapshot adds, given the e-mails active at the one before.

    Every e-mail read gets a snapshot row and its `emails` row (seen now, active); one that
    was not active before, or whose state, handler or work type differs, gets a change row;
    one active before and not read now has left: its `emails` row keeps its last-seen
    fields and gets `left_queue_at`, and its change row carries its last sequence number.
    One listed but `unreadable` (held in quarantine) is not known to have left: it stays
    tracked as last read, and adds no row.
    """
    out = Observation()
    stamp = snapshot_at.isoformat()
    for key in sorted(read, key=_id_order):
        record = read[key]
        row = email_row(record)
        before = previous.get(key)
        first_seen = before["first_seen_at"] if before else stamp
        out.tracked[key] = {"record": record, "first_seen_at": first_seen}
        out.snapshot_rows.append({"snapshot_at": snapshot_at,
                                  **{name: row[name] for name in SNAPSHOT_FIELDS if name in row}})
        out.emails.append({**row, "first_seen_at": _time(first_seen), "last_seen_at": snapshot_at,
                           "is_active": True})
        # the last snapshot's record is shaped again only when the e-mail changed
        if not before or _journey(before["record"]) != _journey(record):
            old = email_row(before["record"]) if before else {}
            out.changes.append(_change(key, old, row, snapshot_at, row.get("event_sequence_number")))
    for key in sorted(set(previous) - set(read), key=_id_order):
        before = previous[key]
        if key in unreadable:
            out.tracked[key] = before
            continue
        old = email_row(before["record"])
        out.left += 1
        out.emails.append({**old, "first_seen_at": _time(before["first_seen_at"]),
                           "last_seen_at": previous_snapshot_at, "is_active": False,
                           "left_queue_at": snapshot_at})
        out.changes.append(_change(key, old, {}, snapshot_at, old.get("event_sequence_number")))
    return out


def _journey(record: Record) -> tuple[Any, Optional[str], Optional[str]]:
    """What a change row is about, as `email_row` would shape it: state, handler, work type."""
    handler, work_type = record.get("workHandlerId"), record.get("workTypeId")
    return (record.get("state"), None if handler is None else str(handler),
            None if work_type is None else str(work_type))


def _change(key: str, old: Record, new: Record, observed_at: datetime,
            sequence: Optional[int]) -> Record:
    change: Record = {
        "id": key, "observed_at": observed_at,
        "from_state": old.get("state"), "to_state": new.get("state"),
        "from_handler": old.get("work_handler_id"), "to_handler": new.get("work_handler_id"),
        "from_work_type_id": old.get("work_type_id"), "to_work_type_id": new.get("work_type_id"),
        "event_sequence_number": sequence,
    }
    return {name: value for name, value in change.items() if value is not None}


def _time(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def _id_order(key: str) -> tuple[int, str]:
    return (int(key), key) if key.isdigit() else (2**63, key)


def _snake(name: str) -> str:
    """A field the documents do not list, in the table's naming (`newField` -> `new_field`)."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


