"""Feeds and slices: what a slice takes, when it stops, and that nothing is lost between slices."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from sources.ujet.helpers.feeds import MAX_BUFFERED_ROWS, FetchSession, Slice


def pages(count: int, rows: int = 10) -> Iterator[list[int]]:
    for page in range(count):
        yield list(range(page * rows, (page + 1) * rows))


def test_a_slice_ends_once_its_resources_took_enough_rows_and_the_next_goes_on() -> None:
    session = FetchSession(load_every=None, slice_rows=25)
    taken: list[list[int]] = []
    while not session.finished(["calls"]):
        session.start_slice()
        taken.append([row for page in session.feed("calls", lambda: pages(10)).take(session.slice)
                      for row in page])
    session.close()

    # whole pages are handed over: a slice stops at the first page that reaches the bound
    assert [len(rows) for rows in taken] == [30, 30, 30, 10]
    assert sum(taken, []) == list(range(100))


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


def test_a_feed_holds_a_bounded_number_of_rows_ahead_of_dlt() -> None:
    produced: list[int] = []

    def eager() -> Iterator[list[int]]:
        for page in pages(MAX_BUFFERED_ROWS // 100 * 3, rows=100):
            produced.append(len(page))
            yield page

    session = FetchSession()
    session.feed("calls", eager)
    time.sleep(0.5)
    session.close()

    assert MAX_BUFFERED_ROWS <= sum(produced) <= MAX_BUFFERED_ROWS + 100


def test_an_unbounded_slice_has_no_remaining_time() -> None:
    unbounded = Slice()
    unbounded.took(10**6)

    assert unbounded.remaining() is None and not unbounded.over
