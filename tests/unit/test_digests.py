"""What the lookback reads again unchanged is recognised, and only what can matter is hashed."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import orjson
import pytest

from sources.kit import digests
from sources.kit.digests import RecentReads

HOUR = timedelta(hours=1)


def at(hours: float) -> datetime:
    return datetime(2026, 12, 1, tzinfo=timezone.utc) + timedelta(hours=hours)


def record(record_id: int, hours: float, status: str = "done") -> dict:
    return {"id": record_id, "updated_at": at(hours), "status": status}


def blake(value: dict) -> str:
    """The digest, written out independently: BLAKE2b-96 of the key-sorted JSON."""
    body = orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return hashlib.blake2b(body, digest_size=12).hexdigest()


def test_the_next_run_skips_what_the_window_held_unchanged_and_loads_what_changed() -> None:
    first = RecentReads(None, HOUR, ("updated_at",))
    read = [record(n, hours=n) for n in range(10)]          # 0h … 9h, oldest first
    assert [first.unchanged(r["id"], r) for r in read] == [False] * 10
    saved = first.saved()
    # the window is the last hour before the newest time (9h): records at 8h and 9h
    assert saved == {"digests": {"8": blake(read[8]), "9": blake(read[9])}}

    second = RecentReads(saved, HOUR, ("updated_at",))
    again = [read[8], record(9, hours=9, status="reopened"), record(10, hours=10)]
    assert [second.unchanged(r["id"], r) for r in again] == [True, False, False]
    assert second.saved() == {"digests": {"9": blake(again[1]), "10": blake(again[2])}}


def test_a_record_the_window_has_left_is_neither_hashed_nor_remembered(
        monkeypatch: pytest.MonkeyPatch) -> None:
    hashed: list[int] = []
    real = digests.digest
    monkeypatch.setattr(digests, "digest", lambda r: hashed.append(r["id"]) or real(r))
    saved = {"digests": {"3": "remembered-by-the-last-run"}}
    recent = RecentReads(saved, HOUR, ("updated_at",))

    for r in [record(1, hours=5), record(2, hours=1), record(3, hours=0.5), record(4, hours=5.5)]:
        recent.unchanged(r["id"], r)

    # 1 (5h) sets the window; 2 (1h) is outside it and unknown: never hashed; 3 is outside
    # but the last run remembered it, so it is compared; 4 (5.5h) is inside
    assert hashed == [1, 3, 4]
    assert set(recent.saved()["digests"]) == {"1", "4"}


def test_a_record_inside_the_window_by_any_of_its_times_is_remembered() -> None:
    recent = RecentReads(None, HOUR, ("started_at", "ended_at"))
    rows = [{"id": 1, "started_at": at(0), "ended_at": at(9)},
            {"id": 2, "started_at": at(9), "ended_at": None},
            {"id": 3, "started_at": at(1), "ended_at": at(2)}]
    for row in rows:
        recent.unchanged(row["id"], row)

    assert recent.saved() == {"digests": {"1": blake(rows[0]), "2": blake(rows[1])}}
