"""The kit's page-number and offset readers, over lists that change while they are read."""

from __future__ import annotations

import itertools

import pytest

from sources.kit.errors import PaginationError
from sources.kit.paging import read_numbered_pages, read_offset_pages


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


class Queue:
    """A live e-mail queue read by startIndex/maxResults; `leave` removes e-mails after the
    given request, as e-mails completed meanwhile leave the real queue. It answers at most
    `cap` records whatever is asked, as a server may."""

    def __init__(self, count: int, leave: dict[int, list[int]] | None = None,
                 cap: int = 1000) -> None:
        self.ids = list(range(1, count + 1))
        self.leave = leave or {}
        self.cap = cap
        self.requests: list[tuple[int, int]] = []

    def fetch(self, offset: int, count: int) -> list[dict]:
        self.requests.append((offset, count))
        page = [{"id": i} for i in self.ids[offset:offset + min(count, self.cap)]]
        for gone in self.leave.get(len(self.requests), []):
            self.ids.remove(gone)
        return page


def test_offsets_over_a_still_queue_read_everything_once() -> None:
    queue = Queue(95)

    got = read_all(read_offset_pages(queue.fetch, 40, overlap=10))

    assert [r["id"] for r in got] == list(range(1, 96))
    # the third page is short (35): the fourth, from its overlap, holds nothing new and is
    # shorter than a full page, so it is the end
    assert queue.requests == [(0, 40), (30, 40), (60, 40), (85, 40)]


def test_emails_leaving_before_the_read_position_shift_nothing_out_of_sight() -> None:
    # after the first page, 12 e-mails already read leave: every later e-mail moves back 12
    # places, more than the overlap of 10, so a plain next offset would skip two
    queue = Queue(95, leave={1: list(range(1, 13))})

    got = read_all(read_offset_pages(queue.fetch, 40, overlap=10))

    ids = [r["id"] for r in got]
    assert sorted(ids) == list(range(1, 96)) and len(ids) == len(set(ids))
    assert (30, 40) in queue.requests and (10, 40) in queue.requests   # read again further back


def test_a_server_that_caps_the_page_silently_is_read_to_the_end_with_overlap_of_its_real_page() -> None:
    queue = Queue(70, cap=25)

    got = read_all(read_offset_pages(queue.fetch, 100))

    assert [r["id"] for r in got] == list(range(1, 71))
    # 25 records an answer, so 6 are re-read each time (a quarter): offsets 0, 19, 38, 57;
    # the answer at 57 is short (13) and the one at 64 holds nothing new: the end
    assert [offset for offset, _ in queue.requests] == [0, 19, 38, 57, 64]
