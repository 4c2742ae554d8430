"""Alvaria e-mails in the shared facts (contacts, queue intervals, agent days), as docs/metrics.md ("Across sources") maps them:
expected rows computed here in Python from the raw tables (which tests/e2e/test_alvaria.py
holds to the sandbox organisation), not by the models."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from tests.e2e.alvaria_harness import alvaria  # noqa: F401 (the fixture)
from tests.e2e.marts import assert_marts_equal
from transforms.runner import build
from transforms.settings import TransformSettings

ZONE = "America/New_York"
WORKED = {"Active", "Wrap", "DraftActive", "TransferredActive", "ReviewActive", "ReassignedActive"}


def rows(database: Any, sql: str) -> list[dict[str, Any]]:
    with duckdb.connect(str(database), read_only=True) as connection:
        connection.execute("set timezone = 'UTC'")
        cursor = connection.execute(sql)
        names = [d[0] for d in cursor.description]
        return [{k: (v.astimezone(timezone.utc) if isinstance(v, datetime) and v.tzinfo else v)
                 for k, v in zip(names, row)} for row in cursor.fetchall()]


def interval(moment: datetime) -> datetime:
    local = moment.astimezone(ZoneInfo(ZONE))
    return local.replace(minute=local.minute // 15 * 15, second=0, microsecond=0, tzinfo=None)


def expected_contacts(database: Any) -> dict[str, dict[str, Any]]:
    sightings: dict[str, list[dict[str, Any]]] = {}
    for row in rows(database, "select * from alvaria.email_snapshots"):
        sightings.setdefault(row["id"], []).append(row)
    expected = {}
    for email in rows(database, "select * from alvaria.emails"):
        seen = sightings[email["id"]]
        actives = [s["active_time"] for s in seen if s["active_time"] is not None]
        queued = [s["queued_time"] for s in seen if s["queued_time"] is not None]
        assigned = min(actives) if actives else None
        first_queued = min(queued) if queued else None
        created = email["received_time"] or email["start_time"]
        # from the first queuing seen to the first activity seen; unknown when the e-mail
        # was queued again before any snapshot saw it first queued
        wait = ((assigned - first_queued).total_seconds()
                if assigned is not None and first_queued is not None and assigned >= first_queued
                else None)
        expected[email["id"]] = {
            "channel": "email", "contact_type": email["email_type"],
            "status": email["state"] if email["is_active"] else "completed",
            "created_at": created, "assigned_at": assigned, "ended_at": email["left_queue_at"],
            "agent_id": email["work_handler_id"], "queue_id": email["work_type_id"],
            "queue_name": email["work_type_name"], "queue_seconds": wait,
            "first_response_seconds": None, "duration_seconds": None,
            "is_handled": any(s["state"] in WORKED for s in seen), "is_abandoned": False,
            "local_date": created.astimezone(ZoneInfo(ZONE)).date(),
            "interval_start": interval(created),
            "_queued": first_queued or created,
        }
    return expected


def assert_facts_match(database: Any) -> None:
    expected = expected_contacts(database)
    columns = ", ".join(c for c in next(iter(expected.values())) if not c.startswith("_"))
    loaded = {r.pop("contact_id"): r for r in rows(
        database, f"select contact_id, {columns} from contact_center.fct_contacts"
                  " where source = 'alvaria'")}
    assert set(loaded) == set(expected)
    wrong = {key: {c: (want[c], loaded[key][c]) for c in loaded[key] if want[c] != loaded[key][c]}
             for key, want in expected.items()}
    wrong = {k: v for k, v in wrong.items() if v}
    assert wrong == {}, list(wrong.items())[:3]

    counts: Counter[tuple[Any, ...]] = Counter()
    for contact in expected.values():
        key = (interval(contact["_queued"]), "email", contact["queue_id"])
        counts[key + ("entries",)] += 1
        counts[key + ("answered",)] += contact["is_handled"]
        counts[key + ("sla_excluded",)] += 1
    loaded_counts: Counter[tuple[Any, ...]] = Counter()
    for r in rows(database, "select interval_start, channel, queue_id, entries, answered, in_sla,"
                            " not_in_sla, sla_excluded, service_level_pct"
                            " from contact_center.fct_queue_interval where source = 'alvaria'"):
        assert r["in_sla"] == r["not_in_sla"] == 0 and r["service_level_pct"] is None
        for name in ("entries", "answered", "sla_excluded"):
            if r[name]:
                loaded_counts[(r["interval_start"], r["channel"], r["queue_id"], name)] += r[name]
    assert +loaded_counts == +counts


def assert_agent_days_match(database: Any) -> None:
    """An e-mail that left the queue from a state an agent works in is one handled contact
    of the agent who held it last, on the local date of the snapshot that saw it gone;
    durations and transfers are unknown (null)."""
    last: dict[str, dict[str, Any]] = {}
    for row in rows(database, "select * from alvaria.email_snapshots order by snapshot_at"):
        last[row["id"]] = row
    handled: Counter[tuple[Any, ...]] = Counter()
    for email in rows(database, "select * from alvaria.emails where not is_active"):
        final = last[email["id"]]
        if final["state"] in WORKED and final["work_handler_id"]:
            local = email["left_queue_at"].astimezone(ZoneInfo(ZONE)).date()
            handled[(final["work_handler_id"], local)] += 1
    loaded = {}
    for r in rows(database, "select * from contact_center.fct_agent_daily where source = 'alvaria'"):
        assert r["channel"] == "email"
        assert r["segments"] == r["handled"] == r["contacts_handled"]
        assert all(r[c] is None for c in ("duration_seconds", "hold_seconds", "acw_seconds",
                                          "bcw_seconds", "handle_seconds", "aht_seconds",
                                          "transfers_out", "transfers_in"))
        loaded[(r["agent_id"], r["local_date"])] = r["handled"]
    assert loaded == dict(handled)


def test_emails_are_contacts_and_queue_entries_and_incremental_equals_full(alvaria) -> None:
    av = alvaria(emails=90)
    av.run(transform=ZONE)
    assert_facts_match(av.database)

    for _ in range(3):
        av.organisation.churn(40)
        summary = av.run(transform=ZONE)
    assert summary.transform is not None and summary.transform.mode == "incremental"
    facts = rows(av.database, "select * from contact_center.fct_contacts where source = 'alvaria'")
    assert any(f["status"] == "completed" for f in facts) and any(f["is_handled"] for f in facts)
    assert any(f["queue_seconds"] for f in facts)
    assert_facts_match(av.database)
    assert_agent_days_match(av.database)
    assert_backlog_matches(av.database, snapshots=4)
    assert_events_match(av.database)
    assert rows(av.database, "select count(*) as n from contact_center.fct_agent_daily"
                             " where source = 'alvaria'")[0]["n"] > 0
    build(av.pipeline(), TransformSettings(ZONE, dataset="contact_center_full"),
          sources=[av.raw_source()], full_refresh=True)
    with duckdb.connect(str(av.database), read_only=True) as connection:
        assert_marts_equal(connection)


def assert_backlog_matches(database: Any, snapshots: int) -> None:
    """`fct_queue_backlog` holds, for every snapshot, each work type and state's e-mails as
    waiting (no agent works that state) or in progress, and the oldest one's age."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows(database, "select * from alvaria.email_snapshots"):
        key = (row["snapshot_at"], row["work_type_id"], row["state"])
        groups.setdefault(key, []).append(row)
    expected = {}
    for (at, queue, state), emails in groups.items():
        arrivals = [e["queued_time"] or e["received_time"] for e in emails
                    if (e["queued_time"] or e["received_time"]) is not None]
        oldest = min(arrivals) if arrivals else None
        worked = state in WORKED
        expected[(at, queue, state)] = {
            "channel": "email", "queue_name": None,
            "waiting": 0 if worked else len(emails), "in_progress": len(emails) if worked else 0,
            "oldest_age_seconds": (at - oldest).total_seconds()
            if oldest is not None and oldest <= at else None}
    got = {(r["snapshot_at"], r["queue_id"], r["state"]): {
        k: r[k] for k in ("channel", "queue_name", "waiting", "in_progress", "oldest_age_seconds")}
        for r in rows(database, "select * from contact_center.fct_queue_backlog"
                                " where source = 'alvaria'")}
    assert len({at for at, _, _ in got}) == snapshots
    assert got.keys() == expected.keys()
    for key, want in expected.items():
        have = got[key]
        assert {k: v for k, v in have.items() if k != "oldest_age_seconds"} == {
            k: v for k, v in want.items() if k != "oldest_age_seconds"}, key
        if want["oldest_age_seconds"] is None:
            assert have["oldest_age_seconds"] is None, key
        else:
            assert abs(have["oldest_age_seconds"] - want["oldest_age_seconds"]) < 0.002, key


ALVARIA_EVENTS = {"Queued": "queued", "Queued2": "queued", "Active": "accepted",
                  "Draft": "replied", "DraftActive": "replied", "Transferred": "transferred",
                  "TransferredActive": "transferred", "Reassigned": "transferred",
                  "ReassignedActive": "transferred", "ReassignedDraft": "transferred"}
"""docs/metrics.md, "fct_contact_events": Alvaria's states in the shared vocabulary."""


def assert_events_match(database: Any) -> None:
    """Every observed change of state is an event in the vocabulary (arrivals and departures
    too), numbered per e-mail in order; states without a word are left out."""
    expected: dict[str, list[tuple[Any, ...]]] = {}
    changes = sorted(rows(database, "select * from alvaria.email_state_changes"),
                     key=lambda c: (c["observed_at"], c["event_sequence_number"]))
    for change in changes:
        if change["from_state"] is None:
            event = "arrived"
        elif change["to_state"] is None:
            event = "completed"
        else:
            event = ALVARIA_EVENTS.get(change["to_state"])
        if event is None:
            continue
        expected.setdefault(change["id"], []).append(
            (change["observed_at"], event, change["to_state"] or "left the queue",
             change["to_handler"]))
    got: dict[str, list[tuple[Any, ...]]] = {}
    for row in sorted(rows(database, "select * from contact_center.fct_contact_events"
                                     " where source = 'alvaria'"),
                      key=lambda r: (r["contact_id"], r["event_number"])):
        got.setdefault(row["contact_id"], []).append(
            (row["event_at"], row["event"], row["vendor_state"], row["agent_id"]))
        assert row["event_number"] == len(got[row["contact_id"]])
    assert got == expected
    assert {e[1] for events in got.values() for e in events} >= {"arrived", "accepted", "completed"}
