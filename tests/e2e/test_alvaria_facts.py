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


def expected_contacts(database: Any) -> dict[int, dict[str, Any]]:
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
        expected[int(email["id"])] = {
            "channel": "email", "contact_type": email["email_type"],
            "status": email["state"] if email["is_active"] else "completed",
            "created_at": created, "assigned_at": assigned, "ended_at": email["left_queue_at"],
            "agent_id": email["work_handler_id"], "queue_id": int(email["work_type_id"]),
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
    assert rows(av.database, "select count(*) as n from contact_center.fct_agent_daily"
                             " where source = 'alvaria'")[0]["n"] > 0
    build(av.pipeline(), TransformSettings(ZONE, dataset="contact_center_full"),
          sources=[av.raw_source()], full_refresh=True)
    with duckdb.connect(str(av.database), read_only=True) as connection:
        assert_marts_equal(connection)
