"""Progress lines for long reads: a backfill at 1 request per second can take hours."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Optional

logger = logging.getLogger(__name__)


class Progress:
    """Counts records a resource has read and logs it at most every `interval` seconds."""

    def __init__(self, resource: str, requests: Callable[[], int], interval: float = 10.0) -> None:
        self.resource = resource
        self.records = 0
        self.unchanged = 0
        """Records read again exactly as the last run loaded them (not loaded again)."""
        self._requests = requests
        self._interval = interval
        self._started = self._last = time.monotonic()

    def add(self, count: int, position: Optional[str] = None) -> None:
        self.records += count
        now = time.monotonic()
        if now - self._last >= self._interval:
            self._last = now
            at = f", reached {position}" if position else ""
            logger.info("%s: %d records so far in %d requests%s", self.resource, self.records,
                        self._requests(), at)

    def done(self) -> None:
        again = f" ({self.unchanged} unchanged since the last run, not loaded again)" \
            if self.unchanged else ""
        logger.info("%s: %d records in %d requests%s, %.1fs", self.resource, self.records,
                    self._requests(), again, time.monotonic() - self._started)
