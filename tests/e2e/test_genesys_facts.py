"""Genesys notifications and lists in the shared facts (fct_contact_events,
fct_queue_backlog), as docs/metrics.md maps them: expected rows computed here in Python from
the raw tables (which tests/e2e/test_genesys.py holds to the sandbox), not by the models."""

from __future__ import annotations

from typing import Any

import duckdb

from tests.e2e.genesys_harness import Genesys, genesys  # noqa: F401 (the fixture)
from tests.e2e.marts import assert_marts_equal
from transforms.runner import build
from transforms.settings import TransformSettings

GENESYS_EVENTS = {"Invited": "offered", "Processing": "accepted", "ReplyCreated": "replied",
                  "Transferred": "transferred", "PlacedInQueue": "queued",
                  "Completed": "completed"}
"""docs/metrics.md, "fct_contact_events": Genesys' states in the shared vocabulary."""


def expected_events(g: Genesys) -> dict[str, list[tuple[Any, ...]]]:
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


def test_notifications_are_contact_events_and_lists_are_the_backlog(genesys) -> None:
    g = genesys()
    g.server.arrive(20)                 # a list long enough to be a backlog at every list
    g.server.run_world(per_second=25)
    g.listen(3.0, transform="UTC")
    g.server.arrive(10)
    summary = g.listen(3.0, pause_world_after=1.5, transform="UTC")
    assert summary.transform is not None and summary.transform.mode == "incremental"

    got: dict[str, list[tuple[Any, ...]]] = {}
    for row in g.rows("select * from contact_center.fct_contact_events where source = 'genesys'"
                      " order by contact_id, event_number"):
        got.setdefault(row["contact_id"], []).append(
            (row["event_at"], row["event"], row["vendor_state"]))
        assert row["event_number"] == len(got[row["contact_id"]]) and row["channel"] == "email"
    assert got == expected_events(g)
    assert {"offered", "accepted", "replied", "completed"} <= {
        e[1] for events in got.values() for e in events}

    lists: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in g.rows("select * from genesys.interaction_snapshots"):
        lists.setdefault((row["listed_at"], row["current_queue"], row["state"]), []).append(row)
    backlog = {(r["snapshot_at"], r["queue_name"], r["state"]): r for r in g.rows(
        "select * from contact_center.fct_queue_backlog where source = 'genesys'")}
    assert set(backlog) == set(lists), (sorted(backlog, key=repr), sorted(lists, key=repr))
    assert len({k[0] for k in lists}) == 4, "lists at the start and the end of each run"
    for key, listed in lists.items():
        row = backlog[key]
        waiting = len(listed) if key[2] == "Invited" else 0
        assert (row["waiting"], row["in_progress"], row["queue_id"], row["channel"]) == (
            waiting, len(listed) - waiting, None, "email")
        oldest = min(r["received_at"] for r in listed)
        assert abs(row["oldest_age_seconds"] - (key[0] - oldest).total_seconds()) < 0.002

    build(g.pipeline(), TransformSettings("UTC", dataset="contact_center_full"),
          sources=[g.raw_source()], full_refresh=True)
    with duckdb.connect(str(g.database), read_only=True) as connection:
        assert_marts_equal(connection)
