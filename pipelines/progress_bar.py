"""A live status line on a terminal while a run fetches; nothing changes elsewhere.

On a terminal, the bottom line shows each reading resource's records (of the total, where
the API says it), the requests made, and an ETA from the request floor: the requests still
needed at the page size, at the budget's rate. Log lines print above it as usual. When
stderr is not a terminal (a scheduler, a pipe, `--log-format json`), nothing is drawn and the
plain progress lines of `sources/kit/progress.py` are the record.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from sources.kit.progress import ACTIVE, Progress

REFRESH_SECONDS = 0.5


def status_line(progress: list[Progress], width: int) -> str:
    """One line: `calls 1,200/6,530 · chats 300 · 57 requests · ETA 3m20s`, cut to `width`."""
    parts, requests, left, rate = [], 0, 0, None
    for item in progress:
        requests += item.requests
        total = item.total
        mark = "✓" if item.finished else ""
        parts.append(f"{item.resource} {item.records:,}" + (f"/{total:,}" if total else "") + mark)
        remaining = item.requests_left()
        if remaining:
            left += remaining
            rate = rate or item.requests_per_second
    line = " · ".join(parts + [f"{requests:,} requests"])
    if left and rate:
        line += f" · ETA {_duration(left / rate)}"
    return line if len(line) <= width else line[:max(0, width - 1)] + "…"


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class _LiveLine:
    """Draws the status line and keeps it below the log lines."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.lock = threading.RLock()
        self.drawn = False

    def clear(self) -> None:
        with self.lock:
            if self.drawn:
                self.stream.write("\r\x1b[2K")
                self.drawn = False

    def draw(self) -> None:
        with self.lock:
            active = sorted(ACTIVE.values(), key=lambda p: p.resource)
            if not active:
                return
            width = shutil.get_terminal_size((100, 20)).columns - 1
            self.stream.write("\r\x1b[2K" + status_line(active, width))
            self.stream.flush()
            self.drawn = True


class _AboveTheLine(logging.Handler):
    """Wraps the log handler: clears the status line, writes the record, draws it again."""

    def __init__(self, inner: logging.Handler, live: _LiveLine) -> None:
        super().__init__(inner.level)
        self.inner, self.live = inner, live

    def emit(self, record: logging.LogRecord) -> None:
        with self.live.lock:
            self.live.clear()
            self.inner.handle(record)
            self.live.draw()


@contextmanager
def live_progress(stream: IO[str], enabled: bool) -> Iterator[None]:
    """Shows the status line on `stream` while the block runs, if `enabled` and `stream` is a
    terminal."""
    if not enabled or not stream.isatty():
        yield
        return
    ACTIVE.clear()
    live = _LiveLine(stream)
    root = logging.getLogger()
    originals = list(root.handlers)
    root.handlers[:] = [_AboveTheLine(handler, live) for handler in originals]
    stop = threading.Event()

    def refresh() -> None:
        while not stop.wait(REFRESH_SECONDS):
            live.draw()

    thread = threading.Thread(target=refresh, name="progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=2)
        live.clear()
        stream.flush()
        root.handlers[:] = originals
