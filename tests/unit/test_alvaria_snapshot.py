"""The snapshot reader against scripted lists: what it must do when the list moves between
two pages, when the server sends no `totalItems`, and when the order is not fixed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional

from sources.alvaria.helpers.snapshot import SnapshotReader

Listing = list[dict[str, Any]]


def items(*ids: int) -> Listing:
    return [{"id": str(i), "eventSequenceNumber": "1"} for i in ids]


class ScriptedList:
    """A list served with a cap; `between(n, listing)` changes it after the n-th page."""

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

    read = SnapshotReader(fake, page_size=100, overlap=2).read()

    assert sorted(read.emails, key=int) == [str(i) for i in range(1, 51)]
    # 10 new on the first page, 8 on each later one: 1 + ceil(40 / 8) pages
    assert fake.served == [0, 8, 16, 24, 32, 40] and read.requests == 6
    assert read.consistent and read.passes == 1 and read.shifted_pages == 0
    assert read.page_cap == 10 and read.total_items == read.total_items_at_end == 50


def test_more_departures_ahead_than_the_overlap_make_the_reader_step_back_not_skip() -> None:
    def five_leave_ahead(page: int, listing: Listing) -> None:
        if page == 1:
            del listing[0:5]            # e-mails 1-5 complete after the first page

    fake = ScriptedList(items(*range(1, 41)), cap=10, between=five_leave_ahead)

    read = SnapshotReader(fake, page_size=10, overlap=2).read()

    # plain paging from 8 would start at e-mail 14 and never see 11, 12, 13
    assert {str(i) for i in range(6, 41)} <= set(read.emails)
    assert read.relinked_pages >= 1 and read.consistent


def test_arrivals_ahead_shift_the_list_up_and_nothing_is_kept_twice() -> None:
    def two_arrive_ahead(page: int, listing: Listing) -> None:
        listing[0:0] = items(1000 + 2 * page, 1001 + 2 * page)

    fake = ScriptedList(items(*range(1, 31)), cap=10, between=two_arrive_ahead)

    read = SnapshotReader(fake, page_size=10, overlap=2).read()

    assert {str(i) for i in range(1, 31)} <= set(read.emails)
    assert read.shifted_pages >= 1 and read.consistent
    assert len(read.emails) == len(set(read.emails))


def test_without_total_items_a_short_page_ends_the_read() -> None:
    fake = ScriptedList(items(*range(1, 26)), cap=10, totals=False)

    read = SnapshotReader(fake, page_size=10, overlap=2).read()

    assert sorted(read.emails, key=int) == [str(i) for i in range(1, 26)]
    assert read.total_items is None and read.consistent


def test_an_order_that_is_not_fixed_is_noticed_and_the_list_read_again() -> None:
    def swap_the_overlap(page: int, listing: Listing) -> None:
        if page == 1:                   # the two e-mails both pages share trade places
            listing[8], listing[9] = listing[9], listing[8]

    fake = ScriptedList(items(*range(1, 21)), cap=10, between=swap_the_overlap)

    read = SnapshotReader(fake, page_size=10, overlap=2, max_passes=3).read()

    assert read.passes == 2 and read.consistent
    assert sorted(read.emails, key=int) == [str(i) for i in range(1, 21)]


def test_the_newest_version_of_an_email_read_twice_wins() -> None:
    listing = items(*range(1, 13))

    def changes_nine(page: int, listing: Listing) -> None:
        if page == 1:
            listing[8] = {"id": "9", "eventSequenceNumber": "5", "state": "Wrap"}

    read = SnapshotReader(ScriptedList(listing, cap=10, between=changes_nine), page_size=10,
                          overlap=2).read()

    assert read.emails["9"]["state"] == "Wrap"
