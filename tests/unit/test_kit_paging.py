"""The kit's page-number and offset readers, over lists that change while they are read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional

import itertools

import pytest

from sources.kit.errors import PaginationError
from sources.kit.offset_paging import OffsetReader
from sources.kit.paging import read_numbered_pages


class ActivityList:
    """Conversations sorted by last activity, newest first, 25 a page (Chatwoot's default);
    `during` changes the list after the given page requests."""

    def __init__(self, count: int, during: dict[int, list[int]] | None = None) -> None:
        self.rows = [{"id": i, "last_activity_at": 1000 - i} for i in range(1, count + 1)]
        self.clock = 2000
        self.during = during or {}
        self.requests: list[int] = []

    def fetch(self, number: int) -> list[dict]:
        self.requests.append(number)
        ordered = sorted(self.rows, key=lambda r: -r["last_activity_at"])
        page = [dict(r) for r in ordered[(number - 1) * 25:number * 25]]
        for conversation in self.during.get(len(self.requests), []):
            self.clock += 1
            next(r for r in self.rows if r["id"] == conversation)["last_activity_at"] = self.clock
        return page


def read_all(reader) -> list[dict]:  # type: ignore[no-untyped-def]
    return [record for batch in reader for record in batch]


def test_numbered_pages_of_a_quiet_list_are_read_once_and_confirmed_by_one_page() -> None:
    conversations = ActivityList(60)

    got = read_all(read_numbered_pages(conversations.fetch))

    assert [r["id"] for r in got] == list(range(1, 61))
    # pages 1-3, the empty page 4, and page 1 again to see nothing moved
    assert conversations.requests == [1, 2, 3, 4, 1]


def test_records_that_jump_to_the_front_while_read_are_found_again_in_their_new_version() -> None:
    # after page 1 is served, conversations 40 and 55 (on pages 2 and 3) get new messages
    # and jump to the front, which was read already
    conversations = ActivityList(60, during={1: [40, 55]})

    got = read_all(read_numbered_pages(conversations.fetch, version=lambda r: r["last_activity_at"]))

    ids = [r["id"] for r in got]
    assert sorted(set(ids)) == list(range(1, 61))
    assert ids.count(40) == 1 and ids.count(55) == 1
    latest = {r["id"]: r["last_activity_at"] for r in got}
    assert (latest[40], latest[55]) == (2001, 2002)


def test_a_list_that_never_settles_is_an_error_not_an_endless_loop() -> None:
    conversations = ActivityList(30)
    busy = itertools.count(1)

    def fetch(number: int) -> list[dict]:
        page = conversations.fetch(number)
        # more new conversations than a page between any two requests
        for _ in range(26):
            new = next(busy)
            conversations.rows.append({"id": 100 + new, "last_activity_at": 10_000 + new})
        return page

    with pytest.raises(PaginationError, match="no end after 50 pages"):
        read_all(read_numbered_pages(fetch, max_confirmations=5, max_pages=50))


def test_confirmation_that_never_finds_a_quiet_page_is_an_error_not_an_endless_loop() -> None:
    conversations = ActivityList(30)
    busy = itertools.count(1)
    served = []

    def fetch(number: int) -> list[dict]:
        page = conversations.fetch(number)
        served.append(number)
        if len(served) >= 3:   # quiet while first read, then busier than a page per request
            for _ in range(26):
                new = next(busy)
                conversations.rows.append({"id": 100 + new, "last_activity_at": 10_000 + new})
        return page

    with pytest.raises(PaginationError, match="kept moving to the front of the list for 5 pages"):
        read_all(read_numbered_pages(fetch, max_confirmations=5))


Listing = list[dict[str, Any]]


def items(*ids: int) -> Listing:
    return [{"id": str(i), "eventSequenceNumber": "1"} for i in ids]


class ScriptedList:
    """A live queue read by offset (Alvaria's startIndex/maxResults), answering at most `cap`
    records whatever is asked, with the list's total (unless `totals` is off);
    `between(n, listing)` changes it after the n-th request, as the real queue changes."""

    def __init__(self, listing: Listing, cap: int, totals: bool = True,
                 between: Optional[Callable[[int, Listing], None]] = None) -> None:
        self.listing, self.cap, self.totals, self.between = listing, cap, totals, between
        self.served: list[int] = []

    def __call__(self, start: int, wanted: int) -> tuple[Listing, Optional[int]]:
        page = self.listing[start:start + min(wanted, self.cap)]
        total = len(self.listing) if self.totals else None
        self.served.append(start)
        if self.between:
            self.between(len(self.served), self.listing)
        return list(page), total


def test_a_quiet_list_is_read_in_overlapping_pages_once() -> None:
    fake = ScriptedList(items(*range(1, 51)), cap=10)

    read = OffsetReader(fake, page_size=100, overlap=2).read()

    assert sorted(read.records, key=int) == [str(i) for i in range(1, 51)]
    # 10 new on the first page, 8 on each later one: 1 + ceil(40 / 8) pages
    assert fake.served == [0, 8, 16, 24, 32, 40] and read.requests == 6
    assert read.consistent and read.passes == 1 and read.shifted_pages == 0
    assert read.page_cap == 10 and read.total_items == read.total_items_at_end == 50


def test_more_departures_ahead_than_the_overlap_make_the_reader_step_back_not_skip() -> None:
    def five_leave_ahead(page: int, listing: Listing) -> None:
        if page == 1:
            del listing[0:5]            # e-mails 1-5 complete after the first page

    fake = ScriptedList(items(*range(1, 41)), cap=10, between=five_leave_ahead)

    read = OffsetReader(fake, page_size=10, overlap=2).read()

    # plain paging from 8 would start at e-mail 14 and never see 11, 12, 13
    assert {str(i) for i in range(6, 41)} <= set(read.records)
    assert read.relinked_pages >= 1 and read.consistent


def test_arrivals_ahead_shift_the_list_up_and_nothing_is_kept_twice() -> None:
    def two_arrive_ahead(page: int, listing: Listing) -> None:
        listing[0:0] = items(1000 + 2 * page, 1001 + 2 * page)

    fake = ScriptedList(items(*range(1, 31)), cap=10, between=two_arrive_ahead)

    read = OffsetReader(fake, page_size=10, overlap=2).read()

    assert {str(i) for i in range(1, 31)} <= set(read.records)
    assert read.shifted_pages >= 1 and read.consistent
    assert len(read.records) == len(set(read.records))


def test_without_total_items_a_short_page_ends_the_read() -> None:
    fake = ScriptedList(items(*range(1, 26)), cap=10, totals=False)

    read = OffsetReader(fake, page_size=10, overlap=2).read()

    assert sorted(read.records, key=int) == [str(i) for i in range(1, 26)]
    assert read.total_items is None and read.consistent


def test_an_order_that_is_not_fixed_is_noticed_and_the_list_read_again() -> None:
    def swap_the_overlap(page: int, listing: Listing) -> None:
        if page == 1:                   # the two e-mails both pages share trade places
            listing[8], listing[9] = listing[9], listing[8]

    fake = ScriptedList(items(*range(1, 21)), cap=10, between=swap_the_overlap)

    read = OffsetReader(fake, page_size=10, overlap=2, max_passes=3).read()

    assert read.passes == 2 and read.consistent
    assert sorted(read.records, key=int) == [str(i) for i in range(1, 21)]


def test_the_newest_version_of_a_record_read_twice_wins() -> None:
    listing = items(*range(1, 13))

    def changes_nine(page: int, listing: Listing) -> None:
        if page == 1:
            listing[8] = {"id": "9", "eventSequenceNumber": "5", "state": "Wrap"}

    read = OffsetReader(ScriptedList(listing, cap=10, between=changes_nine), page_size=10,
                        overlap=2, version=lambda r: int(r["eventSequenceNumber"])).read()

    assert read.records["9"]["state"] == "Wrap"


def test_more_departures_ahead_than_the_overlap_cost_a_step_back_to_the_start() -> None:
    def twelve_leave(page: int, listing: Listing) -> None:
        if page == 1:
            del listing[0:12]           # every later record moves back 12 places

    fake = ScriptedList(items(*range(1, 96)), cap=1000, between=twelve_leave)

    read = OffsetReader(fake, page_size=40, overlap=10).read()

    assert sorted(read.records, key=int) == [str(i) for i in range(1, 96)]
    # the page at 30 starts at record 43 and shares nothing with 1-40: the overlap doubles to
    # 20 and the read steps back by a page less the overlap, to 10 (records 23-62, linked),
    # then goes on in steps of 20: 30 (43-82) and 50 (63-95, which reaches the total of 83)
    assert fake.served == [0, 30, 10, 30, 50] and read.relinked_pages == 1


def test_a_silent_cap_sets_the_step_and_the_total_ends_the_read_without_an_extra_request() -> None:
    fake = ScriptedList(items(*range(1, 71)), cap=25)

    read = OffsetReader(fake, page_size=100).read()

    assert sorted(read.records, key=int) == [str(i) for i in range(1, 71)]
    # 25 an answer, 2 re-read: offsets 0, 23, 46; the answer at 46 reaches the total of 70
    assert fake.served == [0, 23, 46] and read.page_cap == 25
