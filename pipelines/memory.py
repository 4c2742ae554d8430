"""A long run's process: how many malloc arenas it may use, and what the collector scans."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

logger = logging.getLogger(__name__)

MALLOC_ARENAS = 2
_M_ARENA_MAX = -8
"""glibc's `mallopt` parameter number for the arena count (malloc.h)."""


def limit_malloc_arenas(count: int = MALLOC_ARENAS) -> None:
    """As `MALLOC_ARENA_MAX=2`, for the threads started from now on.

    glibc gives threads that allocate at once arenas of their own, up to eight per core, and
    seldom hands their free memory back. A run has many such threads (the feeds, dlt's
    loader, DuckDB's), which kept 50 MB more resident on a backfill, for no speed
    (docs/decisions.md). Does nothing where the C library is not glibc, or where the
    variable is set (the user's choice wins).
    """
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        if libc.mallopt(_M_ARENA_MAX, count) != 1:
            logger.debug("mallopt(M_ARENA_MAX) was refused")
    except (OSError, AttributeError):
        pass   # not glibc: its allocator decides


@contextmanager
def collector_spares_startup() -> Iterator[None]:
    """Leaves what exists before a run (dlt, DuckDB, sqlglot: half a million objects) out of
    the collector's full passes while it runs.

    A full pass holds the interpreter for as long as it scans, and scanning those objects
    made it up to 66 ms: long enough to hold back a request that was due, at 10 requests/s.
    Frozen, the passes took 34 ms at most and a third of the time (docs/decisions.md). What
    was frozen is handed back to the collector when the run ends.
    """
    gc.collect()   # garbage frozen now would never be freed
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
