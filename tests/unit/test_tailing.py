"""CursorTail and read_pages against the sandbox's query semantics, without HTTP.

Each test builds records, lets a fake endpoint answer with the documented filter, sort and
page rules (under a chosen bound semantics, `per` cap and header policy), optionally changes
records between requests, and checks that every record that belongs to the window was read.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Optional

import pytest

from sources.kit.errors import PaginationError
from sources.kit.pages import Page
from sources.kit.paging import CursorTail, parse_timestamp, read_pages
from sources.ujet.sandbox.generate import ts
from sources.ujet.sandbox.query import Bounds, paginate, select

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)


class FakeEndpoint:
    """Answers like the sandbox's `calls` endpoint, in memory."""

    def __init__(self, records: list[dict], *, bounds: Bounds = Bounds(), max_per: int = 100,
                 headers: bool = True, shuffle_seed: Optional[int] = None,
                 ignore_page: bool = False,
                 between_requests: Optional[Callable[[FakeEndpoint], None]] = None) -> None:
        self.records = records
        self.bounds = bounds
        self.max_per = max_per
        self.headers = headers
        self.shuffle = random.Random(shuffle_seed) if shuffle_seed is not None else None
        self.ignore_page = ignore_page
        self.between_requests = between_requests
        self.requests: list[dict[str, str]] = []

    def __call__(self, params: Mapping[str, str]) -> Page:
        self.requests.append(dict(params))
        items = list(params.items()) + [("per", "100")]
        selected = select("calls", self.records, items, self.bounds, shuffle_ties=self.shuffle)
        if self.ignore_page:
            items = [(k, v) for k, v in items if k != "page"]
        page = paginate(selected, items, default_per=25, max_per=self.max_per)
        result = Page(
            records=[dict(r) for r in page.records],
            number=page.page,
            has_next=(page.page < page.last_page) if self.headers else None,
            total=page.total if self.headers else None,
        )
        if self.between_requests:
            self.between_requests(self)
        return result


def make_records(count: int, start: datetime = T0, step: timedelta = timedelta(seconds=7)) -> list[dict]:
    return [{"id": n + 1, "updated_at": ts(start + n * step)} for n in range(count)]


def read_all(endpoint: FakeEndpoint, start: datetime, end: datetime) -> list[dict]:
    tail = CursorTail(endpoint, "updated_at", end)
    return [record for batch in tail.read(start) for record in batch]


BOUNDS = [Bounds(True, True), Bounds(False, False), Bounds(True, False), Bounds(False, True)]


@pytest.mark.parametrize("bounds", BOUNDS, ids=lambda b: f"from_incl={b.from_inclusive},to_incl={b.to_inclusive}")
@pytest.mark.parametrize("headers", [True, False], ids=["headers", "no-headers"])
def test_tail_reads_each_record_of_the_window_once(bounds: Bounds, headers: bool) -> None:
    records = make_records(430)
    end = parse_timestamp(records[-1]["updated_at"]) + timedelta(seconds=1)
    endpoint = FakeEndpoint(records, bounds=bounds, max_per=100, headers=headers)

    read = read_all(endpoint, T0, end)

    assert sorted(r["id"] for r in read) == list(range(1, 431))


def test_tail_respects_the_window_bounds() -> None:
    records = make_records(100)
    start = parse_timestamp(records[10]["updated_at"])
    end = parse_timestamp(records[89]["updated_at"])
    endpoint = FakeEndpoint(records, bounds=Bounds(True, True), max_per=30)

    read = read_all(endpoint, start, end)

    assert sorted(r["id"] for r in read) == list(range(11, 91))


@pytest.mark.parametrize("bounds", BOUNDS, ids=lambda b: f"from_incl={b.from_inclusive},to_incl={b.to_inclusive}")
@pytest.mark.parametrize("headers", [True, False], ids=["headers", "no-headers"])
def test_tail_reads_more_records_on_one_timestamp_than_fit_on_a_page(bounds: Bounds, headers: bool) -> None:
    before = make_records(50)
    tie_at = T0 + timedelta(hours=2)
    tied = [{"id": 1000 + n, "updated_at": ts(tie_at)} for n in range(237)]
    after = [{"id": 5000 + n, "updated_at": ts(tie_at + timedelta(milliseconds=1 + n))} for n in range(20)]
    # the server caps per at 40 without saying so and orders equal timestamps randomly
    endpoint = FakeEndpoint(before + tied + after, bounds=bounds, max_per=40, headers=headers,
                            shuffle_seed=3)

    read = read_all(endpoint, T0, tie_at + timedelta(minutes=5))

    expected = {r["id"] for r in before + tied + after}
    assert {r["id"] for r in read} == expected
    assert len(read) == len(expected), "a record was yielded twice"


@pytest.mark.parametrize("bounds", BOUNDS, ids=lambda b: f"from_incl={b.from_inclusive},to_incl={b.to_inclusive}")
def test_tail_misses_nothing_while_records_change_during_paging(bounds: Bounds) -> None:
    records = make_records(300)
    tie_at = T0 + timedelta(hours=3)
    records += [{"id": 1000 + n, "updated_at": ts(tie_at)} for n in range(150)]
    end = tie_at + timedelta(minutes=1)
    rng = random.Random(11)
    clock = [end]

    def vendor_updates(endpoint: FakeEndpoint) -> None:
        # after every request, three records anywhere (including inside the tie) are updated:
        # their updated_at moves past the run's frozen upper bound
        for record in rng.sample(endpoint.records, 3):
            clock[0] += timedelta(milliseconds=5)
            record["updated_at"] = ts(clock[0])

    endpoint = FakeEndpoint(records, bounds=bounds, max_per=37, shuffle_seed=5,
                            between_requests=vendor_updates)

    read_ids = {r["id"] for r in read_all(endpoint, T0, end)}

    still_in_window = {r["id"] for r in endpoint.records if parse_timestamp(r["updated_at"]) <= end}
    assert still_in_window - read_ids == set(), "records that never left the window were skipped"
    moved = {r["id"] for r in endpoint.records} - still_in_window
    assert moved, "the test did not change anything"


def test_tail_reads_a_window_that_fits_one_page_in_one_request() -> None:
    endpoint = FakeEndpoint(make_records(10), bounds=Bounds(True, True), max_per=100)

    assert len(read_all(endpoint, T0, T0 + timedelta(hours=1))) == 10
    assert len(endpoint.requests) == 1


@pytest.mark.parametrize("inclusive", [True, False])
def test_tail_learns_from_answers_whether_from_is_inclusive(inclusive: bool) -> None:
    tied = [{"id": n, "updated_at": ts(T0)} for n in range(1, 31)]
    endpoint = FakeEndpoint(tied + make_records(5, start=T0 + timedelta(seconds=1)),
                            bounds=Bounds(inclusive, inclusive), max_per=10)
    tail = CursorTail(endpoint, "updated_at", T0 + timedelta(hours=1))

    assert len([r for batch in tail.read(T0) for r in batch]) == 35
    # only an inclusive server ever answers with a record exactly at `[from]`
    assert tail.inclusive is (True if inclusive else None)


def test_tail_on_an_empty_window_makes_one_request() -> None:
    endpoint = FakeEndpoint(make_records(20), max_per=100)
    later = T0 + timedelta(days=1)

    assert read_all(endpoint, later, later + timedelta(hours=1)) == []
    assert len(endpoint.requests) == 1


def test_tail_refuses_a_server_that_ignores_page_when_a_tie_exceeds_a_page() -> None:
    tied = [{"id": n, "updated_at": ts(T0)} for n in range(1, 61)]
    endpoint = FakeEndpoint(tied, max_per=20, ignore_page=True)

    with pytest.raises(PaginationError, match="ignore the `page` parameter"):
        read_all(endpoint, T0, T0 + timedelta(minutes=1))


def test_tail_sends_bounds_at_millisecond_resolution_in_utc() -> None:
    endpoint = FakeEndpoint(make_records(3), max_per=100)
    start = datetime(2026, 11, 1, 1, 2, 3, 456789, tzinfo=timezone.utc)

    list(CursorTail(endpoint, "updated_at", start + timedelta(hours=1)).read(start))

    first = endpoint.requests[0]
    assert first["updated_at[from]"] == "2026-11-01T01:02:03.455Z"  # one step before start
    assert first["updated_at[to]"] == "2026-11-01T02:02:03.456Z"
    assert (first["sort_column"], first["sort_direction"], first["page"]) == ("updated_at", "ASC", "1")


def test_read_pages_rereads_pages_when_records_leave_mid_scan() -> None:
    records = [{"id": n, "updated_at": ts(T0)} for n in range(1, 101)]
    removed: list[int] = []

    def agents_deleted(endpoint: FakeEndpoint) -> None:
        # after page 1 and page 2, the two lowest remaining ids disappear
        if len(endpoint.requests) in (1, 2):
            victim = min(endpoint.records, key=lambda r: r["id"])
            endpoint.records.remove(victim)
            removed.append(victim["id"])

    endpoint = FakeEndpoint(records, max_per=25, between_requests=agents_deleted)

    seen = {r["id"] for page in read_pages(endpoint, {"sort_column": "id"}) for r in page.records}

    assert {r["id"] for r in endpoint.records} - seen == set()
    assert len(removed) == 2


def test_read_pages_without_totals_verifies_with_a_second_pass() -> None:
    endpoint = FakeEndpoint(make_records(60), max_per=25, headers=False)

    seen = {r["id"] for page in read_pages(endpoint, {"sort_column": "id"}) for r in page.records}

    assert seen == set(range(1, 61))
    # 3 pages + the empty page that ends them, twice: the second pass found nothing new
    assert len(endpoint.requests) == 8


def test_tail_is_unaffected_by_a_consumer_that_changes_the_records_it_gets() -> None:
    endpoint = FakeEndpoint(make_records(250), max_per=100)
    tail = CursorTail(endpoint, "updated_at", T0 + timedelta(hours=1))

    read = []
    for batch in tail.read(T0):
        for record in batch:
            record["updated_at"] = parse_timestamp(record["updated_at"])  # as the resource does
        read += batch

    assert len(read) == 250
    assert len(endpoint.requests) == 3
