"""Reading list endpoints completely while their data changes under us.

The readers here (and `offset_paging.OffsetReader` for lists paged by offset):

* `read_pages` walks one fixed query page by page. When the `Total` header shrinks between
  two pages, records may have slid from the next page onto one already read; it steps back
  and reads those pages again, so a record that stays in the result set is never skipped.
* `CursorTail` reads every record whose cursor (e.g. `updated_at`) lies in `[start, end]` by
  *tailing*: it sorts ascending by the cursor and re-seeks `[from]` to the last value seen,
  always asking for page 1. A record updated while we read moves past `end` and is read by
  the next run; nothing slides under a page number.

`CursorTail` is exact whether the server treats `[from]` as inclusive or exclusive, when more
records share one cursor value than fit on a page, and when the server silently caps `per`.
How: see docs/incremental-loading.md.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from sources.kit.errors import PaginationError
from sources.kit.pages import Page, PageFetcher, Record

logger = logging.getLogger(__name__)

MILLISECOND = timedelta(milliseconds=1)
MICROSECOND = timedelta(microseconds=1)


def parse_timestamp(value: str) -> datetime:
    """Parses a UJET timestamp such as `2024-01-30T07:09:48.813Z` into an aware datetime."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


class TimestampGrid:
    """The resolution the API renders timestamps in, and how to write a bound on it.

    UJET renders milliseconds. One step of the grid is the smallest distance between two
    distinct rendered values; bounds are written at that resolution. If the API ever renders
    finer values, the grid refines itself so that "just before" and "just after" stay exact.
    """

    def __init__(self) -> None:
        self.step = MILLISECOND

    def observe(self, value: str) -> None:
        if self.step is MILLISECOND and "." in value:
            fraction = value.split(".", 1)[1].rstrip("Z").split("+")[0].split("-")[0]
            if len(fraction) > 3:
                self.step = MICROSECOND

    def format(self, value: datetime) -> str:
        value = value.astimezone(timezone.utc)
        if self.step is MICROSECOND:
            return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def read_pages(
    fetch: PageFetcher, params: Mapping[str, str], *, key: str = "id", max_passes: int = 3,
    slides: bool = True,
) -> Iterator[Page]:
    """Yields every page of one fixed query, re-reading pages that records slid onto.

    Pages may repeat records; callers deduplicate by `key`. When the server sends no `Total`
    header, shrinking cannot be seen, so a query read in more than one request is read again
    until a pass finds no key it had not seen before (at most `max_passes` passes). One
    request is one moment of the list: nothing can slide within it. `slides=False` says the
    list cannot shrink and grows only at its end (sorted by id, deleted records kept), so
    nothing slides between requests either, and one pass is enough.
    """
    seen: set[Any] = set()
    for _ in range(max_passes):
        new_keys = 0
        saw_total = False
        requests = 0
        for page in _read_pass(fetch, params, key):
            requests += 1
            saw_total = saw_total or page.total is not None
            for record in page.records:
                if record.get(key) not in seen:
                    seen.add(record.get(key))
                    new_keys += 1
            yield page
        if saw_total or new_keys == 0 or requests <= 1 or not slides:
            return
    logger.warning(
        "%s kept changing over %d passes and the server sends no Total header; records that"
        " changed meanwhile are read by the next run",
        dict(params),
        max_passes,
    )


def _read_pass(fetch: PageFetcher, params: Mapping[str, str], key: str) -> Iterator[Page]:
    number = 1
    page_size: Optional[int] = None
    previous_total: Optional[int] = None
    first_keys: list[Any] = []
    while True:
        page = fetch({**params, "page": str(number)})
        keys = [record.get(key) for record in page.records]
        if number == 1:
            first_keys = keys
        elif keys and keys == first_keys:
            raise PaginationError(
                f"page {number} of {dict(params)} repeats page 1: the server seems to ignore"
                " the `page` parameter, so only one page could be read"
            )
        yield page
        if page_size is None and page.records and page.has_next is not False:
            page_size = len(page.records)
        shrunk_by = 0
        if previous_total is not None and page.total is not None:
            shrunk_by = previous_total - page.total
        previous_total = page.total
        if shrunk_by > 0 and number > 1:
            # records on pages already read left the result set, so up to `shrunk_by` records
            # slid from this page onto those: read them again (even if this page was the last)
            back = math.ceil(shrunk_by / (page_size or len(page.records) or 1))
            logger.debug("result shrank by %d while paging; re-reading %d page(s)", shrunk_by, back)
            number = max(1, number - back)
            continue
        if not page.records or page.has_next is False:
            return
        number += 1


class CursorTail:
    """Reads every record with `start <= record[cursor] <= end`, each at least once.

    Args:
        fetch: fetches one page of the endpoint for given query parameters.
        cursor: the timestamp field to tail on, e.g. `updated_at`.
        end: the run's frozen upper bound; sent as `[to]` on every request.
        key: the field that identifies a record.
    """

    def __init__(self, fetch: PageFetcher, cursor: str, end: datetime, *, key: str = "id") -> None:
        self.fetch = fetch
        self.cursor = cursor
        self.end = end
        self.key = key
        self.grid = TimestampGrid()
        self.inclusive: Optional[bool] = None
        """Whether the server treats `[from]` as inclusive; learned from its answers."""
        self.total: Optional[int] = None
        """Records in the whole window, as the server's first answer counted them (its
        `Total` header), for progress; None when it sends no count."""
        self._emitted: dict[Any, datetime] = {}

    def read(self, start: datetime) -> Iterator[list[Record]]:
        """Yields batches of records not yielded before in this run."""
        if start > self.end:
            return
        lower, lower_done = start, False
        while True:
            page = self._fetch_from(lower, lower_done)
            # measured before yielding: the consumer may change the records it receives
            top = max(self._values(page.records), default=None)
            fresh = self._fresh(page.records)
            if fresh:
                yield fresh
            if not page.records or page.has_next is False:
                return
            if top is not None and top > lower:
                lower, lower_done = top, False
                self._forget_below(lower)
                continue
            if lower_done:
                raise PaginationError(
                    f"asked for {self.cursor} after {self.grid.format(lower)} but the server"
                    " answered with records at or before it; refusing to loop"
                )
            # a page that does not get past `lower` holds only records at `lower` (and ones
            # re-read from just below it): more records share that value than fit on a page
            logger.info(
                "%s: more than %d records share %s=%s; reading them by id",
                self.cursor,
                len(page.records),
                self.cursor,
                self.grid.format(lower),
            )
            yield from self._read_tie(lower)
            lower_done = True

    def _fetch_from(self, lower: datetime, lower_done: bool) -> Page:
        """Page 1 of the records at `lower` and later, or strictly after it when `lower_done`."""
        if not lower_done:
            low = lower if self.inclusive else lower - self.grid.step
            return self._fetch_range(low, self.end, self.cursor)
        if self.inclusive:
            return self._fetch_range(lower + self.grid.step, self.end, self.cursor)
        page = self._fetch_range(lower, self.end, self.cursor)
        if self.inclusive:
            # the answer proved `[from]` inclusive, so it starts at `lower` again: ask one step later
            page = self._fetch_range(lower + self.grid.step, self.end, self.cursor)
        return page

    def _fetch_range(self, low: datetime, high: datetime, sort_column: str) -> Page:
        page = self.fetch({**self._range_params(low, high, sort_column), "page": "1"})
        if self.total is None and page.total is not None:
            self.total = page.total
        if self.inclusive is None and any(value == low for value in self._values(page.records)):
            # only an inclusive bound returns a record exactly at `[from]`
            self.inclusive = True
            logger.debug("%s[from] is inclusive on this server", self.cursor)
        return page

    def _range_params(self, low: datetime, high: datetime, sort_column: str) -> dict[str, str]:
        return {
            f"{self.cursor}[from]": self.grid.format(low),
            f"{self.cursor}[to]": self.grid.format(high),
            "sort_column": sort_column,
            "sort_direction": "ASC",
        }

    def _read_tie(self, value: datetime) -> Iterator[list[Record]]:
        """Reads every record whose cursor equals `value`, sorted by key, page by page."""
        low = value if self.inclusive else value - self.grid.step
        # `[to]` may be exclusive even where `[from]` is inclusive: ask up to one step past it
        high = min(value + self.grid.step, self.end)
        params = self._range_params(low, high, self.key)
        for page in read_pages(self.fetch, params, key=self.key):
            fresh = self._fresh(page.records)
            if fresh:
                yield fresh

    def _values(self, records: list[Record]) -> Iterator[datetime]:
        for record in records:
            value = self._value(record)
            if value is not None:
                self.grid.observe(record[self.cursor])
                yield value

    def _value(self, record: Any) -> Optional[datetime]:
        """The record's cursor, or None when missing or garbled (the caller quarantines it)."""
        raw = record.get(self.cursor) if isinstance(record, dict) else None
        if not isinstance(raw, str):
            return None
        try:
            return parse_timestamp(raw)
        except ValueError:
            return None

    def _fresh(self, records: list[Record]) -> list[Record]:
        fresh = []
        for record in records:
            value = self._value(record)
            if not isinstance(record, dict):
                fresh.append(record)
                continue
            record_key = record.get(self.key)
            if value is not None and self._emitted.get(record_key) == value:
                continue
            if value is not None:
                self._emitted[record_key] = value
            fresh.append(record)
        return fresh

    def _forget_below(self, lower: datetime) -> None:
        """Drops dedup memory no page can return again, keeping memory flat on backfills."""
        if len(self._emitted) > 10_000:
            floor = lower - self.grid.step
            self._emitted = {k: v for k, v in self._emitted.items() if v >= floor}


PageByNumber = Callable[[int], list[Record]]
"""Fetches one page of a fixed query by its number (1-based)."""


def read_numbered_pages(fetch: PageByNumber, *, key: str = "id",
                        version: Optional[Callable[[Record], Any]] = None,
                        max_confirmations: int = 20,
                        max_pages: int = 100_000) -> Iterator[list[Record]]:
    """Every record of a list read by page number while records move to its front.

    Made for lists sorted newest-activity-first with no tie-breaker (Chatwoot's
    conversations: `last_activity_at desc`, 25 a page, an empty page past the end). A record
    that changes while the pages are read jumps to page 1, which was already read, and would
    be missed; everything it jumped over slides one place back, so nothing else is skipped
    (a record seen twice is handed over once). So after the last page, the first pages are
    read again, from page 1, until a page holds nothing new: no unseen record, and (with
    `version`, e.g. `updated_at`) no record in a newer version than the one handed over.

    Yields:
        Batches of records not handed over before (or in a newer version).
    """
    handed: dict[Any, Any] = {}

    def fresh(records: list[Record]) -> list[Record]:
        new = []
        for record in records:
            if not isinstance(record, dict):
                new.append(record)      # screening quarantines it with its reason
                continue
            mark = version(record) if version else None
            if record.get(key) not in handed or handed[record.get(key)] != mark:
                handed[record.get(key)] = mark
                new.append(record)
        return new

    for number in range(1, max_pages + 1):
        page = fetch(number)
        if not page:
            break
        batch = fresh(page)
        if batch:
            yield batch
    else:
        raise PaginationError(f"the list had no end after {max_pages} pages: it grows faster"
                              " than it can be read")
    for number in range(1, max_confirmations + 1):
        page = fetch(number)
        batch = fresh(page)
        if batch:
            yield batch
        if not page or not batch:
            return
    raise PaginationError(f"records kept moving to the front of the list for {max_confirmations}"
                          " pages of re-reading; try again when the account is quieter")
