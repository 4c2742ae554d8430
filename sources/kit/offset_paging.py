"""Reading a list paged by offset while it shifts, into one exact snapshot.

Made for a live queue paged by position (Alvaria's EmailQueue: `startIndex`, `maxResults`)
that changes between requests: a record that leaves before the read position moves every
later one down a place (plain `offset += page size` then skips one), an arrival before it
moves them up (one is read twice). The rule a snapshot meets: every record in the list for
the whole read is in it, none twice, none that was never in the list during the read.

How (docs/alvaria-tables.md, "How a snapshot is read"):

* Each page starts `overlap` items before the end of the page before, so consecutive pages
  share records. A page that contains an record read earlier in this pass is *linked*: it
  is a contiguous slice of the list that reaches back to something already read, so no
  record that stayed in the list between the two requests can lie in a gap between them
  (the list keeps the relative order of the records that stay in it). Where the shared
  records sit in the page says how far the list moved (`shifted_pages`).
* A page that shares nothing (more records left before the read position than the overlap
  covers) is not trusted as the next slice: the read steps back, further each time, until a
  page links again; the overlap doubles for the rest of the run (`relinked_pages`).
* The pass ends on the page whose own `totalItems` it reaches: that answer holds the last
  record of the list as it stood then.
* If the shared records ever come back in another order than they were first read, the list
  is not ordered by anything that stays fixed, and linking proves nothing: the pass is not
  consistent and the list is read again (at most `max_passes` times). Every pass's records
  are kept: each was in the list during the run, so none is a phantom.

The newest version of a record read wins: the highest `version` (Alvaria: the event
sequence number), else the later read.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Optional

from sources.kit.pages import Record

logger = logging.getLogger(__name__)

Fetch = Callable[[int, int], tuple[list[Record], Optional[int]]]
"""`fetch(offset, count)` -> (the page's records, the list's total as that answer counts it,
None if the server sends none)."""
Version = Callable[[Record], int]

MAX_STEPS_BACK = 30
"""Step-backs one pass may take before it gives up on linking and reads the list again."""


@dataclass
class OffsetRead:
    """What one read of the list found, and how it went."""

    records: dict[str, Record] = field(default_factory=dict)
    """Every record read, by key (as text): its newest version."""
    total_items: Optional[int] = None
    """The total of the first answer: the list's size when the read began."""
    total_items_at_end: Optional[int] = None
    passes: int = 0
    requests: int = 0
    consistent: bool = False
    relinked_pages: int = 0
    shifted_pages: int = 0
    page_cap: Optional[int] = None
    """The longest page the server sent: its cap, when that is below what was asked for."""
    read_seconds: float = 0.0


class OffsetReader:
    """Reads the whole list once or a few times, until a pass proves itself complete."""

    def __init__(self, fetch: Fetch, page_size: int, *, key: str = "id",
                 version: Optional[Version] = None, overlap: int = 2,
                 max_passes: int = 3) -> None:
        self.fetch = fetch
        self.key = key
        self.version = version
        self.page_size = page_size
        self.overlap = max(1, overlap)
        self.max_passes = max(1, max_passes)

    def read(self) -> OffsetRead:
        result = OffsetRead()
        began = time.monotonic()
        while result.passes < self.max_passes:
            result.passes += 1
            if self._pass(result):
                result.consistent = True
                break
            logger.info("offset paging: pass %d of the list could not prove itself complete;"
                        " reading it again", result.passes)
        result.read_seconds = time.monotonic() - began
        return result

    def _pass(self, result: OffsetRead) -> bool:
        """One read of the list front to back; True if it is provably complete."""
        order: dict[str, int] = {}       # id -> when this pass first read it
        positions: dict[str, int] = {}   # id -> where in the list it was last read
        start, steps_back, previous_length = 0, 0, 0
        consistent = True
        while True:
            items, total = self._page(result, start)
            ids = [self._key(item) for item in items]
            if start > 0:
                shared = [i for i in ids if i in order]
                if not shared:
                    if steps_back >= MAX_STEPS_BACK:
                        logger.warning("offset paging: %d pages in a row shared no record with the"
                                       " read so far; giving up this pass", steps_back)
                        return False
                    steps_back += 1
                    result.relinked_pages += 1
                    self.overlap = min(self.overlap * 2, max(1, (result.page_cap or 2) // 2))
                    start = max(0, start - max(1, previous_length - self.overlap) * steps_back)
                    self._keep(result, items)
                    continue
                first_read = [order[i] for i in shared]
                if first_read != sorted(first_read):
                    logger.info("offset paging: records came back in another order than first read;"
                                " the list's order is not fixed")
                    consistent = False
                anchor = shared[-1]
                if positions[anchor] != start + ids.index(anchor):
                    result.shifted_pages += 1   # the list moved since the anchor was read
            steps_back = 0
            for index, i in enumerate(ids):
                order.setdefault(i, len(order))
                positions[i] = start + index
            self._keep(result, items)
            previous_length = len(items)
            if not items:
                return consistent   # the list is empty, or the pass began past its end
            reached = start + len(items)
            if (total is not None and reached >= total) or (
                    total is None and len(items) < (result.page_cap or self.page_size)):
                return consistent
            start = reached - min(self.overlap, len(items) - 1)

    def _page(self, result: OffsetRead, start: int) -> tuple[list[Record], Optional[int]]:
        items, total = self.fetch(start, self.page_size)
        result.requests += 1
        if result.total_items is None:
            result.total_items = total
        result.total_items_at_end = total
        if len(items) > (result.page_cap or 0):
            result.page_cap = len(items)
        return items, total

    def _keep(self, result: OffsetRead, items: list[Record]) -> None:
        for item in items:
            key = self._key(item)
            known = result.records.get(key)
            if (known is None or self.version is None or not isinstance(item, dict)
                    or not isinstance(known, dict) or self.version(item) >= self.version(known)):
                result.records[key] = item

    def _key(self, item: Record) -> str:
        return str(item.get(self.key)) if isinstance(item, dict) else repr(item)
