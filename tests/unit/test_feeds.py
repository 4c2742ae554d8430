"""Feeds and slices: what a slice takes, when it stops, and that nothing is lost between slices."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from sources.kit.feeds import (
    MAX_BUFFERED_ROWS,
    SESSION_BUFFERED_ROWS,
    FetchSession,
    Slice,
    StateUpdate,
    Together,
    read_ahead,
    take_from_feed,
)


def pages(count: int, rows: int = 10) -> Iterator[list[int]]:
    for page in range(count):
        yield list(range(page * rows, (page + 1) * rows))


def settled(value: Callable[[], int], at_least: int, timeout: float = 20.0) -> int:
    """`value()` once it reached `at_least` and then stopped changing for a while: what a
    producer fetched once its buffer is full, however slow the machine."""
    deadline = time.monotonic() + timeout
    while value() < at_least and time.monotonic() < deadline:
        time.sleep(0.02)
    before = value()
    while True:
        time.sleep(0.4)   # longer than a feed's 0.1 s look at its room
        now = value()
        if now == before or time.monotonic() > deadline:
            return now
        before = now


def test_a_slice_ends_once_its_resources_took_enough_rows_and_the_next_goes_on() -> None:
    # fetching is the slower side: the producer fetches a page only once the last was taken
    turn = threading.Semaphore(1)

    def paced() -> Iterator[list[int]]:
        for page in pages(10):
            turn.acquire()
            yield page

    session = FetchSession(load_every=None, slice_rows=25)
    taken: list[list[int]] = []
    while not session.finished(["calls"]):
        session.start_slice()
        assert not session.stretched
        rows: list[int] = []
        for page in session.feed("calls", paced).take(session.slice):
            rows += page
            turn.release()
        taken.append(rows)
    session.close()

    # whole pages are handed over: a slice stops at the first page that reaches the bound
    assert [len(rows) for rows in taken] == [30, 30, 30, 10]
    assert sum(taken, []) == list(range(100))


def test_a_slice_takes_up_to_five_bounds_while_the_feeds_hold_a_whole_slice_waiting() -> None:
    session = FetchSession(load_every=None, slice_rows=25)
    taken: list[list[int]] = []
    stretched: list[bool] = []
    while not session.finished(["calls"]):
        if session.slices:
            # the feed fetched everything while the slice before was "loaded"
            settled(session.backlog, 230 - len(sum(taken, [])))
        session.start_slice()
        stretched.append(session.stretched)
        taken.append([row for page in session.feed("calls", lambda: pages(23)).take(session.slice)
                      for row in page])
    session.close()

    # the first slice cannot know (nothing fetched yet); the second stops at the first page
    # reaching 5 × 25 rows; the third, with 100 rows waiting, is stretched and takes them
    assert [len(rows) for rows in taken] == [30, 130, 70]
    assert stretched == [False, True, True]
    assert sum(taken, []) == list(range(230))


def test_the_row_bound_counts_every_resource_of_the_slice_together() -> None:
    session = FetchSession(load_every=None, slice_rows=40)
    session.start_slice()
    calls = session.feed("calls", lambda: pages(10))
    chats = session.feed("chats", lambda: pages(10))
    first = sum(len(p) for p in calls.take(session.slice))

    assert first == 40
    assert list(chats.take(session.slice)) == []


def test_a_slice_ends_after_its_seconds_while_the_producer_is_slow() -> None:
    release = threading.Event()

    def slow() -> Iterator[list[int]]:
        yield [1]
        release.wait(10)
        yield [2]

    session = FetchSession(load_every=0.3, slice_rows=None)
    session.start_slice()
    feed = session.feed("calls", slow)
    started = time.monotonic()
    first = list(feed.take(session.slice))
    waited = time.monotonic() - started
    release.set()
    session.start_slice()
    second = list(feed.take(session.slice))

    assert first == [[1]] and second == [[2]]
    assert 0.2 < waited < 5


def test_a_producer_error_is_raised_after_everything_it_fetched_before_it() -> None:
    def failing() -> Iterator[list[int]]:
        yield [1, 2]
        raise RuntimeError("HTTP 500 five times")

    session = FetchSession()
    session.start_slice()
    feed = session.feed("calls", failing)
    got: list[list[int]] = []
    with pytest.raises(RuntimeError, match="five times"):
        for item in feed.take(session.slice):
            got.append(item)

    assert got == [[1, 2]]


def test_feeds_fetching_together_hold_a_bounded_number_of_rows_ahead_of_dlt() -> None:
    produced: dict[str, int] = {}

    def eager(name: str) -> Iterator[list[int]]:
        for page in pages(SESSION_BUFFERED_ROWS // 100 * 3, rows=100):
            produced[name] = produced.get(name, 0) + len(page)
            yield page

    session = FetchSession()
    names = ["calls", "chats", "emails", "agent_activity_logs"]
    session.expect(names)
    for name in names:
        session.feed(name, lambda name=name: eager(name))
    settled(lambda: sum(produced.values()), at_least=4 * MAX_BUFFERED_ROWS)
    session.close()

    # four feeds still fetching share the session's room: each holds its own share
    assert len(produced) == 4
    assert all(MAX_BUFFERED_ROWS <= rows <= MAX_BUFFERED_ROWS + 100 for rows in produced.values())


def test_an_unbounded_slice_has_no_remaining_time() -> None:
    unbounded = Slice()
    unbounded.took(10**6)

    assert unbounded.remaining() is None and not unbounded.over


def test_reading_ahead_fetches_the_next_page_while_the_caller_works_and_keeps_order() -> None:
    fetched: list[int] = []
    second_fetched_while_first_handled = threading.Event()

    def slow_pages() -> Iterator[int]:
        for number in range(5):
            fetched.append(number)
            if number == 1:
                second_fetched_while_first_handled.set()
            yield number

    got = []
    for page in read_ahead(slow_pages(), depth=2):
        if page == 0:
            assert second_fetched_while_first_handled.wait(5), "page 1 was not fetched ahead"
        got.append(page)

    assert got == [0, 1, 2, 3, 4]


def test_reading_ahead_stays_within_its_depth_and_raises_the_readers_error_in_order() -> None:
    fetched: list[int] = []

    def failing() -> Iterator[int]:
        for number in range(3):
            fetched.append(number)
            yield number
        raise RuntimeError("HTTP 503 six times")

    pages = read_ahead(failing(), depth=1)
    assert next(pages) == 0
    settled(lambda: len(fetched), at_least=2)
    assert fetched == [0, 1], "one page ahead, not more"
    assert list(itertools.islice(pages, 2)) == [1, 2]
    with pytest.raises(RuntimeError, match="six times"):
        next(pages)


def test_a_caller_that_stops_early_stops_the_reader() -> None:
    fetched: list[int] = []

    def endless() -> Iterator[int]:
        number = 0
        while True:
            fetched.append(number)
            yield number
            number += 1

    before = set(threading.enumerate())
    pages = read_ahead(endless(), depth=2)
    assert next(pages) == 0
    reader = next(t for t in threading.enumerate() if t not in before and t.name == "read-ahead")
    pages.close()
    reader.join(timeout=10.0)

    # reading ahead is bounded by its depth anyway: what shows it stopped is its thread ending
    assert not reader.is_alive(), "the reader went on waiting to fetch for a caller that left"
    # the page taken, two ahead, and at most the one under way when the caller stopped
    assert len(fetched) <= 4


def test_a_feed_left_alone_may_buffer_what_the_finished_ones_leave() -> None:
    produced = [0]

    def eager() -> Iterator[list[int]]:
        for page in pages(SESSION_BUFFERED_ROWS // 100 * 2, rows=100):
            produced[0] += len(page)
            yield page

    session = FetchSession()
    chats = session.feed("chats", lambda: pages(3))      # a small feed, done after three pages
    settled(lambda: int(chats.done_fetching), at_least=1)
    session.feed("calls", eager)
    settled(lambda: produced[0], at_least=SESSION_BUFFERED_ROWS)
    session.close()

    # alone in fetching, calls used the session's whole room, not only its own share
    assert SESSION_BUFFERED_ROWS <= produced[0] <= SESSION_BUFFERED_ROWS + 100


def test_asking_whether_feeds_are_finished_never_deadlocks_with_a_fetching_feed() -> None:
    """A feed thread asks the session for its room while holding its own lock; the run asks
    the session, under the session's lock, whether the feeds are finished. Taking the two
    locks in opposite orders hung a run (and once this suite) for good."""
    session = FetchSession()
    session.feed("calls", lambda: pages(10**9, rows=1))   # fills its buffer, then waits for room
    asked = threading.Event()

    def ask() -> None:
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            session.finished(["calls"])
            session.unfinished(["calls", "chats"])
        asked.set()

    asker = threading.Thread(target=ask, daemon=True)
    asker.start()
    asker.join(timeout=10.0)
    session.close()

    assert asked.is_set(), "the run and a feed deadlocked on the session's and the feed's locks"


def test_rows_and_the_cursor_past_them_handed_over_together_are_never_split_by_a_slice(
        tmp_path, monkeypatch) -> None:
    import dlt

    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))

    def records() -> Iterator[Together]:
        # each record: two pages of rows, then the cursor past its last row
        for record in range(12):
            first = record * 8
            yield Together(([first + i for i in range(4)], [first + i for i in range(4, 8)],
                            StateUpdate("position", first + 8)))

    session = FetchSession(load_every=None, slice_rows=6)   # a bound inside every record
    taken: list[list[int]] = []

    @dlt.resource(name="rows")
    def rows() -> Iterator[list[dict[str, int]]]:
        for page in take_from_feed(session, "rows", records):
            taken[-1] += page
            yield [{"n": n} for n in page]

    pipeline = dlt.pipeline("together", destination=dlt.destinations.duckdb(str(tmp_path / "w.duckdb")))
    positions = []
    while not session.finished(["rows"]):
        session.start_slice()
        taken.append([])
        pipeline.extract(rows())
        resources = pipeline.state.get("sources", {}).get("together", {}).get("resources", {})
        positions.append(resources.get("rows", {}).get("position"))
    session.close()

    # each slice ends with a whole record, and the cursor it committed is just past its rows
    assert all(taken) and sum(taken, []) == list(range(96))
    assert positions == [max(rows) + 1 for rows in taken]
