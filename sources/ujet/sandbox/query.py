"""How the sandbox answers a list query: filters, sorting and paging, as the docs describe.

Pure functions over lists of records, so the paging readers can be tested against them
without HTTP. Parameter semantics follow the UJET manager API documents:

* `field[from]` / `field[to]`: bounds on a timestamp or number field. Whether a bound is
  inclusive is not documented; `Bounds` chooses, so clients can be tested under both.
* `field[]`: keep records whose field is one of the values (repeatable).
* `sort_column` / `sort_direction`: any field of the record; NULLs last ascending and first
  descending, as PostgreSQL does.
* `page` / `per`: 1-based page number and size; `per` is silently capped.
* unknown parameters are ignored, as Rails applications do.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Optional

Record = dict[str, Any]
Params = Sequence[tuple[str, str]]

RANGE_PARAM = re.compile(r"^(\w+)\[(from|to)\]$")
LIST_PARAM = re.compile(r"^(\w+)\[\]$")

# documented filter names that do not match the field they filter
FILTER_FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "calls": {"agent_id": ("agent_info", "id"), "end_user_id": ("end_user", "id"),
              "call_status": ("status",), "call_fail_reason": ("fail_reason",)},
    "chats": {"agent_id": ("agent_info", "id"), "end_user_id": ("end_user", "id"),
              "chat_status": ("status",), "chat_fail_reason": ("fail_reason",)},
    "emails": {"agent_id": ("agent_info", "id"), "end_user_id": ("end_user", "id")},
    "agents": {"status_id": ("status", "id")},
    "agent_activity_logs": {"whodunnit_id": ("whodunnit", "id")},
}


class QueryError(ValueError):
    """A parameter the API would answer with 400 Bad Request."""


@dataclass(frozen=True)
class Bounds:
    from_inclusive: bool = True
    to_inclusive: bool = True


@dataclass(frozen=True)
class PageSlice:
    records: list[Record]
    page: int
    per: int
    total: int

    @property
    def last_page(self) -> int:
        return max(1, math.ceil(self.total / self.per))


@lru_cache(maxsize=200_000)
def parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace(" ", "+"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def select(endpoint: str, records: list[Record], params: Params, bounds: Bounds,
           *, sortable: bool = True, shuffle_ties: Optional[random.Random] = None) -> list[Record]:
    """Filters and sorts `records` for a list request."""
    aliases = FILTER_FIELDS.get(endpoint, {})
    memberships: dict[tuple[str, ...], set[str]] = {}
    selected = records
    for name, value in params:
        if match := RANGE_PARAM.match(name):
            path = aliases.get(match.group(1), (match.group(1),))
            selected = _in_range(selected, path, match.group(2), value, bounds, name)
        elif match := LIST_PARAM.match(name):
            path = aliases.get(match.group(1), (match.group(1),))
            memberships.setdefault(path, set()).add(value.lower())
    for path, wanted in memberships.items():
        selected = [r for r in selected if _text(_get(r, path)) in wanted]
    if endpoint in ("menus", "teams") and _param(params, "with_deleted", "false").lower() != "true":
        selected = [r for r in selected if not r.get("deleted")]
    column = _param(params, "sort_column", None) if sortable else None
    direction = (_param(params, "sort_direction", "ASC") if sortable else "ASC").upper()
    if direction not in ("ASC", "DESC"):
        raise QueryError(f"sort_direction must be ASC or DESC, got {direction!r}")
    return _sorted(selected, column or "id", direction == "DESC", shuffle_ties)


def paginate(records: list[Record], params: Params, *, default_per: int, max_per: int) -> PageSlice:
    page = _positive_int(params, "page", 1)
    per = min(_positive_int(params, "per", default_per), max_per)
    start = (page - 1) * per
    return PageSlice(records=records[start:start + per], page=page, per=per, total=len(records))


def _in_range(records: list[Record], path: tuple[str, ...], side: str, raw: str,
              bounds: Bounds, name: str) -> list[Record]:
    bound = _bound_value(raw, name)
    inclusive = bounds.from_inclusive if side == "from" else bounds.to_inclusive
    kept = []
    for record in records:
        value = _comparable(_get(record, path), type(bound))
        if value is None:
            continue
        if side == "from" and (value > bound or (inclusive and value == bound)):
            kept.append(record)
        elif side == "to" and (value < bound or (inclusive and value == bound)):
            kept.append(record)
    return kept


def _bound_value(raw: str, name: str) -> Any:
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        return parse_time(raw)
    except ValueError:
        raise QueryError(f"{name} must be a number or a UTC time, got {raw!r}") from None


def _comparable(value: Any, kind: type) -> Any:
    if value is None or isinstance(value, bool):
        return None
    if kind is float:
        return float(value) if isinstance(value, (int, float)) else None
    if isinstance(value, str):
        try:
            return parse_time(value)
        except ValueError:
            return None
    return None


def _sorted(records: list[Record], column: str, descending: bool,
            shuffle_ties: Optional[random.Random]) -> list[Record]:
    if records and not any(column in r for r in records):
        raise QueryError(f"sort_column {column!r} is not a field of this resource")
    present = [r for r in records if r.get(column) is not None]
    missing = [r for r in records if r.get(column) is None]

    def tie_breaker(record: Record) -> Any:
        # a database gives no order among equal sort values; shuffling shows who relied on one
        return shuffle_ties.random() if shuffle_ties else _sortable(record.get("id"))

    present.sort(key=lambda r: (_sortable(r[column]), tie_breaker(r)), reverse=descending)
    # PostgreSQL puts NULLs last ascending and first descending
    return missing + present if descending else present + missing


def _sortable(value: Any) -> Any:
    if isinstance(value, bool):
        return (0, int(value), "")
    if isinstance(value, (int, float)):
        return (0, value, "")
    return (1, 0, str(value))


def _get(record: Record, path: tuple[str, ...]) -> Any:
    value: Any = record
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).lower()


def _param(params: Params, name: str, default: Any) -> Any:
    for key, value in params:
        if key == name:
            return value
    return default


def _positive_int(params: Params, name: str, default: int) -> int:
    raw = _param(params, name, None)
    if raw is None or raw == "":
        return default
    try:
        number = int(raw)
    except ValueError:
        raise QueryError(f"{name} must be a positive integer, got {raw!r}") from None
    if number < 1:
        raise QueryError(f"{name} must be a positive integer, got {raw!r}")
    return number
