"""Reading a list that shifts while it is paged, into one exact snapshot.

The EmailQueue list is paged by position (`startIndex`, `maxResults`) and changes between
requests: an e-mail that leaves before the read position moves every later one down a place
(plain `startIndex += maxResults` then skips one), an arrival before it moves them up (one
is read twice). The rule a snapshot meets: every e-mail active for the whole read is in it,
none twice, none that was never active during the read.

How (docs/alvaria-tables.md, "How a snapshot is read"):

* Each page starts `overlap` items before the end of the page before, so consecutive pages
  share e-mails. A page that contains an e-mail read earlier in this pass is *linked*: it
  is a contiguous slice of the list that reaches back to something already read, so no
  e-mail that stayed in the list between the two requests can lie in a gap between them
  (the list keeps the relative order of the e-mails that stay in it). Where the shared
  e-mails sit in the page says how far the list moved (`shifted_pages`).
* A page that shares nothing (more e-mails left before the read position than the overlap
  covers) is not trusted as the next slice: the read steps back, further each time, until a
  page links again; the overlap doubles for the rest of the run (`relinked_pages`).
* The pass ends on the page whose own `totalItems` it reaches: that answer holds the last
  e-mail of the list as it stood then.
* If the shared e-mails ever come back in another order than they were first read, the list
  is not ordered by anything that stays fixed, and linking proves nothing: the pass is not
  consistent and the list is read again (at most `max_passes` times). Every pass's e-mails
  are kept: each was in the list during the run, so none is a phantom.

The newest version of an e-mail read wins (the highest `eventSequenceNumber`, else the
later read).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

from sources.kit.pages import Record

logger = logging.getLogger(__name__)

Fetch = Callable[[int, int], tuple[list[Record], Optional[int]]]
"""`fetch(start_index, max_results)` -> (the page's items, its `totalItems`, None if absent)."""

MAX_STEPS_BACK = 30
"""Step-backs one pass may take before it gives up on linking and reads the list again."""


@dataclass
class SnapshotRead:
    """What one run's read of the list found, and how it went (the `snapshots` row)."""

    emails: dict[str, Record] = field(default_factory=dict)
    """Every e-mail read, by id: its newest version."""
    total_items: Optional[int] = None
    """`totalItems` of the first answer: the list's size when the read began."""
    total_items_at_end: Optional[int] = None
    passes: int = 0
    requests: int = 0
    consistent: bool = False
    relinked_pages: int = 0
    shifted_pages: int = 0
    page_cap: Optional[int] = None
    """The longest page the server sent: its cap, when that is below what was asked for."""
    read_seconds: float = 0.0


class SnapshotReader:
    """Reads the whole list once or a few times, until a pass proves itself complete."""

    def __init__(self, fetch: Fetch, page_size: int, *, overlap: int = 2,
                 max_passes: int = 3) -> None:
        self.fetch = fetch
        self.page_size = page_size
        self.overlap = max(1, overlap)
        self.max_passes = max(1, max_passes)

    def read(self) -> SnapshotRead:
        result = SnapshotRead()
        began = time.monotonic()
        while result.passes < self.max_passes:
            result.passes += 1
            if self._pass(result):
                result.consistent = True
                break
            logger.info("alvaria: pass %d of the e-mail list could not prove itself complete;"
                        " reading it again", result.passes)
        result.read_seconds = time.monotonic() - began
        return result

    def _pass(self, result: SnapshotRead) -> bool:
        """One read of the list front to back; True if it is provably complete."""
        order: dict[str, int] = {}       # id -> when this pass first read it
        positions: dict[str, int] = {}   # id -> where in the list it was last read
        start, steps_back, previous_length = 0, 0, 0
        consistent = True
        while True:
            items, total = self._page(result, start)
            ids = [_id(item) for item in items]
            if start > 0:
                shared = [i for i in ids if i in order]
                if not shared:
                    if steps_back >= MAX_STEPS_BACK:
                        logger.warning("alvaria: %d pages in a row shared no e-mail with the"
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
                    logger.info("alvaria: e-mails came back in another order than first read;"
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

    def _page(self, result: SnapshotRead, start: int) -> tuple[list[Record], Optional[int]]:
        items, total = self.fetch(start, self.page_size)
        result.requests += 1
        if result.total_items is None:
            result.total_items = total
        result.total_items_at_end = total
        if len(items) > (result.page_cap or 0):
            result.page_cap = len(items)
        return items, total

    @staticmethod
    def _keep(result: SnapshotRead, items: list[Record]) -> None:
        for item in items:
            key = _id(item)
            known = result.emails.get(key)
            if known is None or _sequence(item) >= _sequence(known):
                result.emails[key] = item


def _id(item: Record) -> str:
    return str(item.get("id"))


def _sequence(item: Record) -> int:
    try:
        return int(str(item.get("eventSequenceNumber")))
    except ValueError:
        return -1
