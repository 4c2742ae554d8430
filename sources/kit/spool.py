"""A durable, append-only spool: what a listener received, kept on disk until it is loaded.

A push API (Genesys' CometD) replays nothing: a notification received and then lost in a
crash is gone for good. So the listener appends every batch it receives here, and fsyncs,
before it asks for the next one; the loader reads from a `SpoolPosition` that is committed
in dlt state together with the rows read up to it, and segments wholly before the committed
position are deleted. After a kill -9 at any moment the next run reads from the committed
position: nothing spooled is lost, and nothing loaded is read again.

Records are JSON lines in numbered segment files (`0000000001.jsonl`, ...). A line without
its newline is a write the crash interrupted (it was never fsynced, so never acknowledged):
it is skipped and its segment closed; the writer always starts a new segment.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

logger = logging.getLogger(__name__)

SEGMENT_BYTES = 8 * 1024 * 1024
"""A segment is closed after this many bytes: the loader deletes whole segments only."""


@dataclass(frozen=True, order=True)
class SpoolPosition:
    """Where reading goes on: segment number and byte offset in it."""

    segment: int = 0
    offset: int = 0

    def __str__(self) -> str:
        return f"{self.segment}:{self.offset}"

    @classmethod
    def parse(cls, text: Any) -> SpoolPosition:
        if not text:
            return cls()
        segment, offset = str(text).split(":")
        return cls(int(segment), int(offset))


class Spool:
    """Segments of JSON lines in `directory` (created private: it holds what was received)."""

    def __init__(self, directory: Path, segment_bytes: int = SEGMENT_BYTES) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.directory, 0o700)
        self.segment_bytes = segment_bytes
        self._lock = threading.Lock()
        self._file: Any = None
        self._segment = 0
        self._written = 0
        self.appended = 0
        """Records appended by this process."""
        self.grew = threading.Condition()
        """Notified after every append, for a reader waiting at the end."""

    def segments(self) -> list[int]:
        return sorted(int(p.stem) for p in self.directory.glob("*.jsonl") if p.stem.isdigit())

    def _path(self, segment: int) -> Path:
        return self.directory / f"{segment:010d}.jsonl"

    def append(self, records: list[Any]) -> None:
        """Writes `records` and makes them durable (fsync) before returning."""
        if not records:
            return
        data = b"".join(orjson.dumps(record) + b"\n" for record in records)
        with self._lock:
            if self._file is None or self._written >= self.segment_bytes:
                self._open_next()
            self._file.write(data)
            self._file.flush()
            os.fsync(self._file.fileno())
            self._written += len(data)
            self.appended += len(records)
        with self.grew:
            self.grew.notify_all()

    def _open_next(self) -> None:
        if self._file is not None:
            self._file.close()
        existing = self.segments()
        self._segment = (existing[-1] if existing else 0) + 1
        fd = os.open(self._path(self._segment), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._file = os.fdopen(fd, "ab")
        self._written = 0
        # the new file's name must survive a crash as well as its contents
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def read(self, start: SpoolPosition) -> Iterator[tuple[SpoolPosition, Any]]:
        """Every complete record from `start` on, with the position after it; ends at the
        spool's current end (call again to go on)."""
        for segment in self.segments():
            if segment < start.segment:
                continue
            offset = start.offset if segment == start.segment else 0
            path = self._path(segment)
            try:
                with open(path, "rb") as handle:
                    handle.seek(offset)
                    for line in handle:
                        if not line.endswith(b"\n"):
                            break   # being written now, or cut by a crash: not a record yet
                        offset += len(line)
                        yield SpoolPosition(segment, offset), orjson.loads(line)
            except FileNotFoundError:
                continue

    def discard_before(self, position: SpoolPosition) -> int:
        """Deletes the segments wholly before `position` (loaded); returns how many."""
        removed = 0
        for segment in self.segments():
            if segment >= position.segment or segment == self._segment:
                continue
            self._path(segment).unlink(missing_ok=True)
            removed += 1
        return removed

    def pending_bytes(self, position: SpoolPosition) -> int:
        """Bytes spooled after `position`: what is still to be loaded."""
        total = 0
        for segment in self.segments():
            if segment < position.segment:
                continue
            size = self._path(segment).stat().st_size
            total += size - (position.offset if segment == position.segment else 0)
        return total
