"""Fetching that goes on while dlt normalizes and loads.

The API's rate limit is the floor under a backfill; everything local must hide under it.
So a run fetches in background threads (feeds) and loads in slices: every `load_every`
seconds, or sooner once they took `slice_rows` rows, the dlt resources stop taking from
their feeds, dlt normalizes and loads what they took, and meanwhile the feeds keep fetching
into bounded buffers. The row bound keeps the last slice, the only one whose work cannot
hide under fetching, small at high request rates. The next slice picks up
where the last stopped. Each slice is an ordinary dlt run, so its cursors are committed with
its data: a long backfill that dies keeps every slice it loaded.

A feed runs one producer: a generator that fetches and shapes rows. Producers never touch
dlt state (they run outside dlt's context); when a cursor must move (activity logs), they
yield a `StateUpdate` that the resource applies as it hands the rows to dlt, and where rows
and their cursor must not be split between slices, both in one `Together`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Optional

import pendulum

logger = logging.getLogger(__name__)

MAX_BUFFERED_ROWS = 5_000
"""Rows a feed may always hold ahead of dlt. A call takes 7 to 12 KB as Python objects (3.6
KB of JSON), so these buffers are most of the process's steady memory: 20,000 rows in all
made it about 300 MB while fetching, 8,000 about 210 MB, but 8,000 ran a backfill without a
rate limit 20 % slower and left DuckDB's checkpoints a larger share of the peak, which then
varied more with the warehouse's size (docs/decisions.md, "Memory")."""
SESSION_BUFFERED_ROWS = 4 * MAX_BUFFERED_ROWS
"""Rows the big feeds may hold together: shared among those still fetching, so that the
last one still reading keeps the request budget busy while a slice is loaded. At 10
requests/s a feed alone fetches 1,000 rows a second, and a slice of 10,000 rows takes about
five seconds to normalize and load: 20,000 rows cover it with room for a slow one."""


@dataclass(frozen=True)
class StateUpdate:
    """Set `key` in the resource's dlt state to `value` when the rows before it are handed over."""

    key: str
    value: Any


@dataclass(frozen=True)
class Together:
    """Items a resource hands over in one slice: rows and the `StateUpdate`s that commit
    them. A slice may end between two items of a feed; without this it could end between a
    record's rows and the cursor past them, and the rows would be loaded with the cursor
    before them, to be read again after a crash (the Genesys spool)."""

    items: tuple[Any, ...]


def _size(item: Any) -> int:
    if isinstance(item, Together):
        return sum(_size(part) for part in item.items)
    return len(item) if isinstance(item, list) else 1


class Slice:
    """When the current slice stops taking from the feeds: after `seconds`, or once `rows`
    rows were taken by all its resources together. Either may be None (no bound)."""

    def __init__(self, seconds: Optional[float] = None, rows: Optional[int] = None,
                 interrupt: Optional[threading.Event] = None) -> None:
        self._deadline = time.monotonic() + seconds if seconds else None
        self._rows_left = rows
        self._interrupt = interrupt
        self._lock = threading.Lock()

    def remaining(self) -> Optional[float]:
        """Seconds left in the slice (0 when it is over), None if it has no bound."""
        if self._interrupt is not None and self._interrupt.is_set():
            return 0.0   # the run was asked to stop: this slice is the last, and ends now
        with self._lock:
            if self._rows_left is not None and self._rows_left <= 0:
                return 0.0
        return None if self._deadline is None else max(0.0, self._deadline - time.monotonic())

    def took(self, rows: int) -> None:
        with self._lock:
            if self._rows_left is not None:
                self._rows_left -= rows

    @property
    def over(self) -> bool:
        return self.remaining() == 0.0


class Feed:
    """One producer in a thread, its output in a bounded buffer."""

    def __init__(self, name: str, produce: Iterator[Any], stopped: threading.Event,
                 room: Callable[[Feed], int] = lambda feed: MAX_BUFFERED_ROWS,
                 interrupt: Optional[threading.Event] = None) -> None:
        self.name = name
        self._produce = produce
        self._stopped = stopped
        self._interrupt = interrupt
        """Set when the run is asked to stop: the feed fetches nothing more. None for a
        feed that must be taken whole (a replaced table would be emptied by less)."""
        self._room = room
        self._items: deque[Any] = deque()
        self._buffered = 0
        self._done = False
        self._error: Optional[BaseException] = None
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=f"feed-{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for item in self._produce:
                with self._changed:
                    while self._buffered >= self._room(self) and not self._stopping:
                        # other feeds' buffers shrink without telling: look again soon
                        self._changed.wait(timeout=0.1)
                    if self._stopping:
                        return
                    self._items.append(item)
                    self._buffered += _size(item)
                    self._changed.notify_all()
        except BaseException as exc:  # noqa: BLE001 (handed to the consumer, which raises it)
            self._error = exc
        finally:
            # a feed stopped half-way closes its producer, which stops any reader it runs ahead
            close = getattr(self._produce, "close", None)
            if close is not None:
                close()
            with self._changed:
                self._done = True
                self._changed.notify_all()

    def take(self, until: Slice) -> Iterator[Any]:
        """Yields items as they come, until the producer is done or the slice is over.

        Raises the producer's error, if it failed, once everything before it was taken.
        """
        while not until.over:
            with self._changed:
                while not self._items and not self._done:
                    remaining = until.remaining()
                    if remaining == 0.0:
                        return
                    # another feed may end the slice by rows: look again soon
                    self._changed.wait(timeout=min(remaining or 0.25, 0.25))
                if self._items:
                    item = self._items.popleft()
                    self._buffered -= _size(item)
                    self._changed.notify_all()
                elif self._error is not None:
                    error, self._error = self._error, None
                    raise error
                else:
                    return
            yield item
            until.took(_size(item))

    @property
    def _stopping(self) -> bool:
        return self._stopped.is_set() or (self._interrupt is not None and self._interrupt.is_set())

    @property
    def buffered(self) -> int:
        """Rows fetched and not yet taken."""
        return self._buffered

    @property
    def done_fetching(self) -> bool:
        """Its producer has ended (what it fetched may still wait to be taken)."""
        return self._done

    @property
    def exhausted(self) -> bool:
        with self._changed:
            return self._done and not self._items and self._error is None


def read_ahead(pages: Iterator[Any], depth: int = 2) -> Iterator[Any]:
    """`pages`, produced in a thread of their own up to `depth` pages ahead of the caller.

    A tailing reader cannot ask for its next page before it has read the last one, but it
    need not wait while that page is screened, prepared and fingerprinted either: this puts
    the next request on the wire while the caller works. At 10 requests/s a single resource
    (the last one still reading) could otherwise not keep the rate (docs/decisions.md).
    """
    queue: deque[tuple[str, Any]] = deque()
    changed = threading.Condition()
    closed = threading.Event()

    def produce() -> None:
        try:
            while True:
                # wait for room before asking for a page: `depth` requests ahead, no more
                with changed:
                    while len(queue) >= depth and not closed.is_set():
                        changed.wait(timeout=0.5)
                    if closed.is_set():
                        return
                try:
                    page = next(pages)
                except StopIteration:
                    break
                with changed:
                    queue.append(("page", page))
                    changed.notify_all()
            outcome: tuple[str, Any] = ("done", None)
        except BaseException as exc:  # noqa: BLE001 (raised in the caller's thread)
            outcome = ("error", exc)
        with changed:
            queue.append(outcome)
            changed.notify_all()

    threading.Thread(target=produce, name="read-ahead", daemon=True).start()
    try:
        while True:
            with changed:
                while not queue:
                    changed.wait(timeout=0.5)
                kind, value = queue.popleft()
                changed.notify_all()
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        closed.set()
        with changed:
            changed.notify_all()


STRETCHED_SLICE = 5
"""How many times `slice_rows` a slice may take when the feeds are ahead of the loading.

The row bound keeps the last slice short when fetching is the slower side (a rate limit):
its normalize and load are the only work that cannot hide under fetching. When the feeds
already hold a whole slice's rows as a slice starts, fetching is the faster side; the run's
end then waits for the loading whatever the slices' size, and each extra slice only adds
its fixed cost (a dlt run, a merge per table, DuckDB's checkpoint: about a second). 50,000
rows at the default bound took no more memory to normalize and load than 10,000
(docs/decisions.md, "Performance")."""


class FetchSession:
    """The feeds of one `ccelt run`, shared by the dlt runs (slices) that load them."""

    def __init__(self, load_every: Optional[float] = None, slice_rows: Optional[int] = None,
                 interrupt: Optional[threading.Event] = None) -> None:
        self.load_every = load_every
        self.slice_rows = slice_rows
        self.interrupt = interrupt or threading.Event()
        """Set (by a signal handler) to stop the run cleanly: the current slice ends at once
        with what it took, and the feeds fetch nothing more."""
        self.slice = Slice(interrupt=self.interrupt)
        self.drain_slice = Slice()
        self.slices = 0
        """Slices started so far: resources do some things once, in the first."""
        self.stretched = False
        """Whether the current slice may take `STRETCHED_SLICE` times `slice_rows` rows."""
        now = pendulum.now("UTC")
        self.run_started = now.replace(microsecond=now.microsecond // 1000 * 1000)
        """The run's frozen upper bound of every incremental read, and its snapshot time."""
        self._feeds: dict[str, Feed] = {}
        self._expected: set[str] = set()
        self._draining: set[str] = set()
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    def start_slice(self) -> None:
        rows = self.slice_rows
        self.stretched = rows is not None and self.backlog() >= rows
        if self.stretched:
            rows = STRETCHED_SLICE * rows
        self.slice = Slice(self.load_every, rows, self.interrupt)
        # a draining feed's slices end by their bounds alone: after an interrupt, slices go
        # on until it has handed over everything (what a listener spooled)
        self.drain_slice = Slice(self.load_every, rows)
        self.slices += 1

    @property
    def interrupted(self) -> bool:
        return self.interrupt.is_set()

    def feed(self, name: str, producer: Callable[[], Iterator[Any]], whole: bool = False,
             drains: bool = False) -> Feed:
        """The resource's feed, started with `producer()` the first time it is asked for.

        A `whole` feed (a table replaced by each run) is not stopped by an interrupt: taken
        in part, it would replace the table with less than the vendor has. A `drains` feed
        is not stopped either: its producer sees the interrupt itself, stops receiving, and
        ends once it handed over what it holds (a listener's spool); the run's slices go on
        until it has (`draining`)."""
        with self._lock:
            if name not in self._feeds:
                self._feeds[name] = Feed(name, producer(), self._stopped, self._room,
                                         None if whole or drains else self.interrupt)
                if drains:
                    self._draining.add(name)
            return self._feeds[name]

    @property
    def draining(self) -> bool:
        """A `drains` feed still has something to hand over."""
        with self._lock:
            feeds = [self._feeds[name] for name in self._draining]
        return any(not feed.exhausted for feed in feeds)

    def expect(self, names: list[str]) -> None:
        """The resources that will take from feeds: a feed started early does not take the
        room of the ones about to start."""
        with self._lock:
            self._expected.update(names)

    def backlog(self) -> int:
        """Rows the feeds fetched that no slice has taken yet."""
        # read without the feeds' locks: an int read is atomic, and a count a moment old is
        # good enough to decide a slice's size on
        with self._lock:
            feeds = list(self._feeds.values())
        return sum(feed.buffered for feed in feeds)

    def _room(self, feed: Feed) -> int:
        """Rows a feed may hold: an equal share of the session's among the feeds still
        fetching or about to, never less than its own `MAX_BUFFERED_ROWS`.

        Called by the feed's thread under the feed's lock, so it takes no feed's lock."""
        with self._lock:
            feeds = dict(self._feeds)
            expected = self._expected | set(feeds)
        fetching = sum(1 for name in expected if name not in feeds or not feeds[name].done_fetching)
        return max(MAX_BUFFERED_ROWS, SESSION_BUFFERED_ROWS // max(1, fetching))

    def finished(self, names: list[str]) -> bool:
        """Every named resource has started its feed and taken all of it."""
        return not self.unfinished(names)

    def unfinished(self, names: list[str]) -> list[str]:
        """The named resources that still have something to take (or have not started)."""
        # a feed asks `_room` (this lock) while holding its own: never hold this one while
        # taking a feed's, or the two threads wait for each other for good
        with self._lock:
            feeds = dict(self._feeds)
        return [n for n in names if n not in feeds or not feeds[n].exhausted]

    def close(self) -> None:
        """Stops feeds that are still fetching (the run failed or ended)."""
        self._stopped.set()


def take_from_feed(session: FetchSession, name: str, producer: Callable[[], Iterator[Any]],
                   whole: bool = False, drains: bool = False) -> Iterator[Any]:
    """For a dlt resource: what its feed fetched so far in this slice (`whole`: all of it,
    however long the slice waits), applying the state updates the feed carries to the
    resource's dlt state as the rows before them are handed over. A `drains` feed goes on
    handing over after an interrupt (`FetchSession.feed`)."""
    import dlt

    until = Slice() if whole else session.drain_slice if drains else session.slice
    for item in session.feed(name, producer, whole, drains).take(until):
        for part in item.items if isinstance(item, Together) else (item,):
            if isinstance(part, StateUpdate):
                dlt.current.resource_state()[part.key] = part.value
            else:
                yield part
