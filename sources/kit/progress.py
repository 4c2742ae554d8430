"""Progress of long reads: a backfill at 1 request per second can take hours.

Each reading resource keeps a `Progress`: it logs a line at most every ten seconds (what a
scheduler's log shows), and registers itself in `ACTIVE`, which a live display on a terminal
reads (pipelines/progress_bar.py).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Optional

logger = logging.getLogger(__name__)

ACTIVE: dict[str, Progress] = {}
"""Every resource's progress in this process, by resource name (the latest run's)."""
_ACTIVE_LOCK = threading.Lock()


class Progress:
    """Counts records a resource has read and logs it at most every `interval` seconds."""

    def __init__(self, resource: str, requests: Callable[[], int], interval: float = 10.0, *,
                 total: Callable[[], Optional[int]] = lambda: None,
                 per_request: Optional[int] = None,
                 requests_per_second: Optional[float] = None) -> None:
        """
        Args:
            total: the records the read will find, once the API said (UJET's `Total`).
            per_request: records one request brings at most (the page size).
            requests_per_second: the budget the requests are spaced by.
        """
        self.resource = resource
        self.records = 0
        self.unchanged = 0
        """Records read again exactly as the last run loaded them (not loaded again)."""
        self.finished = False
        self._requests = requests
        self._total = total
        self.per_request = per_request
        self.requests_per_second = requests_per_second
        self._interval = interval
        self._started = self._last = time.monotonic()
        with _ACTIVE_LOCK:
            ACTIVE[resource] = self

    @property
    def requests(self) -> int:
        return self._requests()

    @property
    def total(self) -> Optional[int]:
        return self._total()

    def requests_left(self) -> Optional[int]:
        """The fewest requests still needed (the floor), when the total is known."""
        total = self.total
        if self.finished:
            return 0
        if total is None or not self.per_request:
            return None
        return math.ceil(max(0, total - self.records) / self.per_request)

    def add(self, count: int, position: Optional[str] = None) -> None:
        self.records += count
        now = time.monotonic()
        if now - self._last >= self._interval:
            self._last = now
            at = f", reached {position}" if position else ""
            logger.info("%s: %d records so far in %d requests%s", self.resource, self.records,
                        self._requests(), at)

    def done(self) -> None:
        self.finished = True
        again = f" ({self.unchanged} unchanged since the last run, not loaded again)" \
            if self.unchanged else ""
        logger.info("%s: %d records in %d requests%s, %.1fs", self.resource, self.records,
                    self._requests(), again, time.monotonic() - self._started)
