"""Genesys notifications and lists in the shared facts (fct_contacts, fct_queue_interval,
fct_agent_daily, fct_contact_events, fct_queue_backlog), as docs/metrics.md maps them:
expected rows computed here in Python from the raw tables (which tests/e2e/test_genesys.py
holds to the sandbox), not by the models."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any, Optional, Protocol

import duckdb

from tests.e2e.genesys_harness import Genesys, genesys  # noqa: F401 (the fixture)
from tests.e2e.marts import assert_marts_equal
from transforms.runner import build
from transforms.settings import TransformSettings

class Readable(Protocol):
    """Anything that reads a warehouse's rows as dicts: the harness (DuckDB), or Postgres in
    tests/e2e/test_documented_sql.py."""

    def rows(self, sql: str) -> list[dict[str, Any]]: ...


GENESYS_EVENTS = {"Invited": "offered", "Processing": "accepted", "ReplyCreated": "replied",
                  "Transferred": "transferred", "PlacedInQueue": "queued",
                  "Completed": "completed"}
"""docs/metrics.md, "fct_contact_events": Genesys' states in the shared vocabulary."""


def expected_events(g: Readable) -> dict[str, list[tuple[Any, ...]]]:
    """Per e-mail (a reply filed under the e-mail it answers), each change of an
    interaction's state in the vocabulary; the same state notified again is not an event."""
    last_state: dict[str, str] = {}
    expected: dict[str, list[tuple[Any, ...]]] = {}
    for row in g.rows("select * from genesys.interaction_events where interaction_id is not null"
                      " order by spool_seq"):
        previous = last_state.get(row["interaction_id"])
        last_state[row["interaction_id"]] = row["state"]
        if previous == row["state"] or row["state"] not in GENESYS_EVENTS:
            continue
        contact = row["parent_interaction_id"] or row["interaction_id"]
        expected.setdefault(contact, []).append(
            (row["observed_at"], row["spool_seq"], GENESYS_EVENTS[row["state"]], row["state"]))
    return {key: [(at, event, state) for at, _, event, state in sorted(events)]
            for key, events in expected.items()}


def interval(moment: datetime) -> datetime:
    """The UTC 15-minute interval of a moment, as a naive local wall clock (the zone is UTC)."""
    return moment.replace(minute=moment.minute // 15 * 15, second=0, microsecond=0, tzinfo=None)


def expected_contacts(g: Readable) -> dict[str, dict[str, Any]]:
    """docs/metrics.md, "fct_contacts by source", Genesys column: each e-mail (an interaction
    without a parent) with its own notifications in the order received; replies are
    interactions whose parent it is."""
    sign_ins = [(r["spool_seq"], r["detail"]) for r in g.rows(
        "select * from genesys.sessions where event = 'signed in' order by spool_seq")]
    own: dict[str, list[dict[str, Any]]] = {}
    replies: dict[str, list[datetime]] = {}
    for row in g.rows("select * from genesys.interaction_events where interaction_id is not null"
                      " order by spool_seq"):
        if row["parent_interaction_id"]:
            replies.setdefault(row["parent_interaction_id"], []).append(row["received_at"])
        else:
            own.setdefault(row["interaction_id"], []).append(row)
    expected = {}
    for contact_id, events in own.items():
        first = events[0]
        created = first["received_at"] or first["observed_at"]
        accepted = next((e for e in events if e["state"] == "Processing"), None)
        completed = next((e for e in events if e["state"] == "Completed"), None)
        agent: Optional[str] = None
        if accepted is not None:
            agent = next((user for seq, user in reversed(sign_ins)
                          if seq < accepted["spool_seq"]), None)
        queue = next((e["current_queue"] for e in events if e["current_queue"]), None)
        assigned = accepted["observed_at"] if accepted else None
        reply_times = [at for at in replies.get(contact_id, []) if at is not None]
        first_reply = min(reply_times) if reply_times else None
        expected[contact_id] = {
            "channel": "email", "contact_type": first["interaction_sub_type"],
            "status": events[-1]["state"], "created_at": created, "assigned_at": assigned,
            "ended_at": completed["observed_at"] if completed else None,
            "updated_at": max(e["observed_at"] for e in events), "agent_id": agent,
            "end_user_id": None, "queue_id": queue, "queue_name": queue, "lang": None,
            "queue_seconds": ((assigned - created).total_seconds()
                              if assigned is not None and assigned >= created else None),
            "duration_seconds": None, "rating": None, "fail_reason": None,
            "transfer_count": 0, "handle_segments": 0,
            "first_response_seconds": ((first_reply - created).total_seconds()
                                       if first_reply is not None and first_reply >= created
                                       else None),
            "is_handled": accepted is not None, "is_abandoned": False,
            "local_date": created.date(), "interval_start": interval(created),
        }
    return expected


def assert_contacts_match(g: Readable) -> None:
    expected = expected_contacts(g)
    assert expected, "the world produced no e-mails"
    loaded = {r.pop("contact_id"): r for r in g.rows(
        f"select contact_id, {', '.join(next(iter(expected.values())))}"
        " from contact_center.fct_contacts where source = 'genesys'")}
    assert set(loaded) == set(expected)
    wrong = {key: {c: (want[c], loaded[key][c]) for c in want if _differs(want[c], loaded[key][c])}
             for key, want in expected.items()}
    wrong = {k: v for k, v in wrong.items() if v}
    assert wrong == {}, list(wrong.items())[:3]
    handled = [c for c in expected.values() if c["is_handled"]]
    assert handled and any(c["first_response_seconds"] is not None for c in handled)
    assert any(c["ended_at"] for c in handled) and any(not c["is_handled"] for c in expected.values())

    # one queue entry per e-mail at its arrival: answered once accepted, no SLA data
    counts: Counter[tuple[Any, ...]] = Counter()
    waits: dict[tuple[Any, ...], list[float]] = {}
    for contact in expected.values():
        key = (contact["interval_start"], contact["queue_id"])
        counts[key] += 1
        if contact["is_handled"] and contact["queue_seconds"] is not None:
            waits.setdefault(key, []).append(contact["queue_seconds"])
        counts[key + ("answered",)] += contact["is_handled"]
    got = g.rows("select * from contact_center.fct_queue_interval where source = 'genesys'")
    assert {(r["interval_start"], r["queue_id"]) for r in got} == {k for k in counts if len(k) == 2}
    for r in got:
        key = (r["interval_start"], r["queue_id"])
        assert (r["channel"], r["queue_name"], r["lang"], r["entries"], r["answered"],
                r["unanswered"], r["in_sla"], r["not_in_sla"], r["sla_excluded"],
                r["service_level_pct"]) == (
            "email", key[1], None, counts[key], counts[key + ("answered",)],
            counts[key] - counts[key + ("answered",)], 0, 0, counts[key], None), key
        assert abs(r["answered_queue_seconds"] - sum(waits.get(key, []))) < 0.002, key

    # the user's completed e-mails per local date; no durations or transfers are known
    completed: Counter[tuple[Any, ...]] = Counter(
        (c["agent_id"], c["ended_at"].date()) for c in expected.values()
        if c["ended_at"] is not None and c["agent_id"] is not None)
    assert completed
    days = {}
    for r in g.rows("select * from contact_center.fct_agent_daily where source = 'genesys'"):
        assert r["channel"] == "email"
        assert r["segments"] == r["handled"] == r["contacts_handled"]
        assert all(r[c] is None for c in ("duration_seconds", "hold_seconds", "acw_seconds",
                                          "bcw_seconds", "handle_seconds", "aht_seconds",
                                          "transfers_out", "transfers_in", "messages_sent"))
        days[(r["agent_id"], r["local_date"])] = r["handled"]
    assert days == dict(completed)


def assert_events_match(g: Readable) -> dict[str, list[tuple[Any, ...]]]:
    """Genesys' rows of `fct_contact_events` are `expected_events`, numbered in order; returns
    them per contact."""
    got: dict[str, list[tuple[Any, ...]]] = {}
    for row in g.rows("select * from contact_center.fct_contact_events where source = 'genesys'"
                      " order by contact_id, event_number"):
        got.setdefault(row["contact_id"], []).append(
            (row["event_at"], row["event"], row["vendor_state"]))
        assert row["event_number"] == len(got[row["contact_id"]]) and row["channel"] == "email"
    assert got == expected_events(g)
    return got


def _differs(want: Any, got: Any) -> bool:
    if isinstance(want, float) and isinstance(got, float):
        return abs(want - got) > 0.002
    return bool(want != got)


def test_notifications_are_contact_events_and_lists_are_the_backlog(genesys) -> None:
    g = genesys()
    # Every list must hold something, or it leaves no rows to compare. Each change of the
    # world can take one interaction off the list, and this world empties it in about 200
    # changes, so the world changes only while ccelt listens (at most 76 and 39 changes:
    # the list never drops below 13 on the way), not while a slow machine loads and builds
    # between the runs.
    g.server.arrive(20)
    g.server.run_world(per_second=25)
    g.listen(3.0, pause_world_after=3.0, transform="UTC")
    g.server.pause_world()
    g.server.arrive(20)
    g.server.run_world(per_second=25)
    summary = g.listen(3.0, pause_world_after=1.5, transform="UTC")
    assert summary.transform is not None and summary.transform.mode == "incremental"
    assert_contacts_match(g)

    got = assert_events_match(g)
    assert {"offered", "accepted", "replied", "completed"} <= {
        e[1] for events in got.values() for e in events}

    lists: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in g.rows("select * from genesys.interaction_snapshots"):
        lists.setdefault((row["listed_at"], row["current_queue"], row["state"]), []).append(row)
    backlog = {(r["snapshot_at"], r["queue_name"], r["state"]): r for r in g.rows(
        "select * from contact_center.fct_queue_backlog where source = 'genesys'")}
    assert set(backlog) == set(lists), (sorted(backlog, key=repr), sorted(lists, key=repr))
    assert len({k[0] for k in lists}) == 4, ("lists at the start and the end of each run", g.rows(
        "select occurred_at, event, detail from genesys.sessions order by spool_seq"))
    for key, listed in lists.items():
        row = backlog[key]
        waiting = len(listed) if key[2] == "Invited" else 0
        assert (row["waiting"], row["in_progress"], row["queue_id"], row["channel"]) == (
            waiting, len(listed) - waiting, key[1], "email")
        oldest = min(r["received_at"] for r in listed)
        assert abs(row["oldest_age_seconds"] - (key[0] - oldest).total_seconds()) < 0.002

    build(g.pipeline(), TransformSettings("UTC", dataset="contact_center_full"),
          sources=[g.raw_source()], full_refresh=True)
    with duckdb.connect(str(g.database), read_only=True) as connection:
        assert_marts_equal(connection)
