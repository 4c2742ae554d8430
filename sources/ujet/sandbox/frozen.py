"""A big tenant that nobody changes, kept compact and answered fast (benchmarks).

A `Tenant` keeps every record as nested dicts: about 13 KB of memory per call, so a million
calls would not fit beside the pipeline being measured. A `FrozenTenant` keeps each record of
the four big lists (calls, chats, emails, agent activity logs) as its JSON bytes, with the
timestamps the API filters and sorts on as integers beside them. A page is the bytes of its
records joined, so serving costs the sandbox almost nothing, and requests arrive at its rate
limiter when the client sent them rather than when a busy fake got round to them.

Every answer equals what `select` and `paginate` give on the same records (the unit tests
compare both on many queries). Queries the indexes do not cover (`id[]` filters, ranges on
other fields) decode the records of the narrowest indexed range and run `select` on them.

The small endpoints (agents, menus, teams, trees, statuses, current status, SLA) are answered
by an ordinary `Tenant` that holds the reference data, the vendor's samples and the contacts
of the last day, which is all those views look at.
"""

from __future__ import annotations

import bisect
import logging
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

import orjson

from sources.ujet.sandbox.generate import parse_ts, pickup_logs
from sources.ujet.sandbox.query import (
    LIST_PARAM,
    RANGE_PARAM,
    Bounds,
    PageSlice,
    Params,
    QueryError,
    Record,
    _bound_value,
    _comparable,
    _param,
    _sortable,
    paginate,
    select,
)
from sources.ujet.sandbox.tenant import CHANNEL_OF, CONTACT_KINDS, Tenant, TenantSize

logger = logging.getLogger(__name__)

BIG_LISTS = CONTACT_KINDS + ("agent_activity_logs",)
INDEXED_COLUMNS: dict[str, tuple[str, ...]] = {
    "calls": ("updated_at", "created_at"),
    "chats": ("updated_at", "created_at"),
    "emails": ("updated_at", "created_at"),
    "agent_activity_logs": ("started_at", "ended_at"),
}
"""The time fields each list is sorted and bounded on by the readers we know of."""
RECENT = timedelta(days=1)
"""Contacts the SLA and current-status views may need: ended or still waiting in this window."""
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _micros(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(microseconds=1)


_NO_TIME = -(2**63)
"""Stands for "no parsable time" in a column's array of times per record."""


@dataclass(frozen=True)
class _Index:
    """A column's records in the order `select` sorts them, and their times.

    `order` holds the numbers of the records that have a value, sorted on the raw value and
    then on id, as `select` sorts; `missing` those without one, in insertion order. `timed`
    is the part of `order` whose value is a time, with those times in `keys`; where every
    time is written alike the raw order is the time order (`contiguous`) and a range is a
    slice of `timed` found by bisection.
    """

    order: array
    missing: array
    timed: array
    keys: array
    contiguous: bool

    @classmethod
    def build(cls, values: list[Any], ids: list[Any]) -> tuple[_Index, array]:
        """The index of one column, and each record's time in it (`_NO_TIME` if none)."""
        present = [n for n, value in enumerate(values) if value is not None]
        present.sort(key=lambda n: (_sortable(values[n]), ids[n]))
        times = array("q", [_NO_TIME]) * len(values)
        timed, keys = array("q"), array("q")
        for number in present:
            parsed = _comparable(values[number], datetime)
            if parsed is not None:
                times[number] = _micros(parsed)
                timed.append(number)
                keys.append(times[number])
        missing = array("q", (n for n, value in enumerate(values) if value is None))
        return cls(array("q", present), missing, timed, keys,
                   contiguous=all(a <= b for a, b in zip(keys, keys[1:]))), times


class FrozenList:
    """One big list endpoint: records as JSON bytes, with sorted indexes on its time fields."""

    def __init__(self, name: str, columns: tuple[str, ...]) -> None:
        self.name = name
        self.columns = columns
        self._bodies: list[bytes] = []
        self._values: dict[str, list[Any]] = {c: [] for c in ("id",) + columns}
        self._indexes: dict[str, _Index] = {}
        self._times: dict[str, array] = {}
        self._ranks: dict[str, array] = {}
        """Per column, each record's place in `select`'s order (missing ones after the rest)."""

    def __len__(self) -> int:
        return len(self._bodies)

    def add(self, record: Record) -> None:
        if self._indexes:
            raise RuntimeError(f"{self.name} is frozen: records can only be added before serving")
        # orjson's result keeps its whole working buffer (about 4 KB); a copy keeps only the JSON
        self._bodies.append(bytes(memoryview(orjson.dumps(record))))
        for column, values in self._values.items():
            values.append(record.get(column))

    def freeze(self) -> None:
        """Sorts the indexes; after this the list only answers."""
        ids = [_sortable(value) for value in self._values["id"]]
        for column, values in self._values.items():
            index, self._times[column] = _Index.build(values, ids)
            ranks = array("q", [0]) * len(values)
            for rank, number in enumerate(list(index.order) + list(index.missing)):
                ranks[number] = rank
            self._indexes[column], self._ranks[column] = index, ranks
        self._values.clear()

    def record(self, number: int) -> Record:
        return orjson.loads(self._bodies[number])  # type: ignore[no-any-return]

    def records(self) -> list[Record]:
        """Every record, decoded (small lists and tests only)."""
        return [self.record(number) for number in range(len(self._bodies))]

    def answer(self, params: Params, bounds: Bounds, *, default_per: int,
               max_per: int) -> tuple[bytes, PageSlice]:
        """The page a list request gets: its body, and the slice it came from (headers)."""
        numbers: Any = self._select(params, bounds)
        page = paginate(numbers, params, default_per=default_per, max_per=max_per)
        body = b"[" + b",".join(self._bodies[n] for n in page.records) + b"]"  # type: ignore[call-overload]
        return body, page

    def _select(self, params: Params, bounds: Bounds) -> Sequence[int]:
        column = _param(params, "sort_column", None) or "id"
        direction = _param(params, "sort_direction", "ASC").upper()
        if direction not in ("ASC", "DESC"):
            raise QueryError(f"sort_direction must be ASC or DESC, got {direction!r}")
        bounded = [(m.group(1), m.group(2), _bound_value(value, name)) for name, value in params
                   if (m := RANGE_PARAM.match(name))]
        covered = (column in self._indexes
                   and not any(LIST_PARAM.match(name) for name, _ in params)
                   and all(name in self.columns and isinstance(value, datetime)
                           for name, _, value in bounded))
        if not covered:
            return self._select_decoded(params, bounds, bounded)
        index = self._indexes[column]
        if not bounded:
            return (index.missing + index.order[::-1] if direction == "DESC"
                    else index.order + index.missing)
        numbers, narrowed_on = self._narrowest(bounded, bounds, column)
        for name, side, value in bounded:
            if name == narrowed_on:
                continue   # bisection already applied this column's bounds exactly
            times, bound = self._times[name], _micros(value)
            inclusive = bounds.from_inclusive if side == "from" else bounds.to_inclusive
            if side == "from":
                numbers = array("q", (n for n in numbers if times[n] != _NO_TIME and (
                    times[n] > bound or (inclusive and times[n] == bound))))
            else:
                numbers = array("q", (n for n in numbers if times[n] != _NO_TIME and (
                    times[n] < bound or (inclusive and times[n] == bound))))
        if narrowed_on != column:
            ranks, present = self._ranks[column], len(index.order)
            ordered = sorted(numbers, key=ranks.__getitem__)
            # as `select`: records without a value in the sort column come last ascending and
            # first descending
            missing = [n for n in ordered if ranks[n] >= present]
            ordered = [n for n in ordered if ranks[n] < present]
            return missing + ordered[::-1] if direction == "DESC" else ordered + missing
        # narrowed on the sort column: every record left has a value there, in order
        return numbers[::-1] if direction == "DESC" else numbers

    def _narrowest(self, bounded: list[tuple[str, str, datetime]], bounds: Bounds,
                   column: str) -> tuple[Sequence[int], Optional[str]]:
        """The fewest records that can be in range, found by bisection on a column whose
        times are in order, and that column (None: every record, in `column`'s order)."""
        best: Optional[tuple[int, int, str]] = None
        for name in dict.fromkeys(name for name, _, _ in bounded):
            index = self._indexes[name]
            if index.contiguous:
                low, high = self._bisect(
                    index, [(side, value) for n, side, value in bounded if n == name], bounds)
                # on a tie, the sort column: its records need no sorting
                if best is None or (high - low, name != column) < (best[1] - best[0], best[2] != column):
                    best = (low, high, name)
        if best is None:
            index = self._indexes[column]
            return index.order + index.missing, None
        low, high, name = best
        return self._indexes[name].timed[low:high], name

    def _select_decoded(self, params: Params, bounds: Bounds,
                        bounded: list[tuple[str, str, Any]]) -> Sequence[int]:
        """`select` itself, on the records of the narrowest range an index can find."""
        candidates: Iterable[int] = range(len(self._bodies))
        for name, side, value in bounded:
            index = self._indexes.get(name)
            if name in self.columns and index is not None and index.contiguous \
                    and isinstance(value, datetime):
                low, high = self._bisect(index, [(side, value)], bounds)
                candidates = sorted(index.timed[low:high])
                break
        records = []
        for number in candidates:
            record = self.record(number)
            record[_NUMBER] = number
            records.append(record)
        return [r[_NUMBER] for r in select(self.name, records, params, bounds)]

    @staticmethod
    def _bisect(index: _Index, sides: list[tuple[str, datetime]],
                bounds: Bounds) -> tuple[int, int]:
        low, high = 0, len(index.keys)
        for side, value in sides:
            key = _micros(value)
            if side == "from":
                cut = bisect.bisect_left if bounds.from_inclusive else bisect.bisect_right
                low = max(low, cut(index.keys, key))
            else:
                cut = bisect.bisect_right if bounds.to_inclusive else bisect.bisect_left
                high = min(high, cut(index.keys, key))
        return low, max(low, high)


_NUMBER = "\0record_number"
"""Where a decoded record carries its place in the list through `select` (no API field)."""


class FrozenTenant:
    """A tenant that does not change while it is served: big lists compact, the rest a `Tenant`.

    Build one with `generate` (any size) or `freeze` (an existing tenant, for tests).
    """

    def __init__(self, views: Tenant, lists: dict[str, FrozenList]) -> None:
        self.views = views
        """Answers every endpoint but the big lists."""
        self.lists = lists
        self.lock = views.lock
        for frozen in lists.values():
            frozen.freeze()

    @classmethod
    def freeze(cls, tenant: Tenant) -> FrozenTenant:
        """The same records as `tenant`, served frozen (it must not change afterwards)."""
        lists = {name: FrozenList(name, INDEXED_COLUMNS[name]) for name in BIG_LISTS}
        for name, frozen in lists.items():
            for record in tenant.records(name):
                frozen.add(record)
        return cls(tenant, lists)

    @classmethod
    def generate(cls, seed: int = 7, size: TenantSize = TenantSize(),
                 include_samples: bool = True) -> FrozenTenant:
        """A tenant of `size`, generated record by record without keeping them as dicts.

        Its history is made the way `Tenant` makes it (same generator, same mix), but not
        the same records for the same seed: contacts are made before the shifts here.
        """
        views = Tenant(seed, TenantSize(days=size.days, agents=size.agents, calls=0, chats=0,
                                        emails=0), include_samples=include_samples)
        lists = {name: FrozenList(name, INDEXED_COLUMNS[name]) for name in BIG_LISTS}
        for name, frozen in lists.items():
            # the shifts and the vendor's samples that `views` made
            for record in views.records(name):
                frozen.add(record)
        # no view reads the activity logs, and a year of shifts is a lot of dicts
        views.collections["agent_activity_logs"].clear()
        now = views.now()
        recent = now - RECENT
        for kind, record in views.history(size, now - timedelta(days=size.days), now):
            lists[kind].add(record)
            if kind != "emails":
                for log in pickup_logs(views.reference, views.ids, [record], CHANNEL_OF[kind]):
                    lists["agent_activity_logs"].add(log)
            if _still_relevant(record, recent):
                views.collections[kind][record["id"]] = record
        logger.info("frozen tenant: %s", ", ".join(f"{n} {len(f):,}" for n, f in lists.items()))
        return cls(views, lists)


def _still_relevant(record: Record, recent: datetime) -> bool:
    if record.get("status") == "queued":
        return True
    ended = [segment.get("ended_at") for segment in record.get("queue_durations") or []]
    return any(value and parse_ts(value) >= recent for value in ended)
