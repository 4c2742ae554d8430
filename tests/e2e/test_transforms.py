"""The fact tables mean what docs/metrics.md says, worked out by hand for small scenarios.

Each test puts hand-made records into a sandbox tenant, runs the real pipeline and the
transforms, and compares the facts with values computed in the test from the definitions.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pipelines.summary import format_summary
from tests.e2e.marts import MARTS, SAME_DATA_MARTS, assert_marts_equal
from tests.e2e.conftest import WAREHOUSES, Harness
from tests.e2e.documents import sql_blocks
from tests.e2e.scenario import (
    add,
    contact,
    empty_tenant,
    handle_segment,
    queue_entry,
    status_interval,
    transfer,
)
from transforms.runner import DataTestFailed, build

PROJECT_ROOT = Path(__file__).resolve().parents[2]
UTC = "UTC"
NEW_YORK = "America/New_York"


def rows(h: Harness, sql: str, *args: Any) -> list[dict[str, Any]]:
    with h.warehouse() as warehouse:
        cursor = warehouse.execute(sql, list(args))
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def one(h: Harness, sql: str, *args: Any) -> dict[str, Any]:
    found = rows(h, sql, *args)
    assert len(found) == 1, f"expected one row, got {found}"
    return found[0]


def transferred_call(call_id: int = 1, with_second_segment: bool = True, updated: str = "2026-03-02 10:20:00") -> dict:
    handle = [handle_segment("call", 100, "2026-03-02 10:01:00", 300, hold=20)]
    if with_second_segment:
        handle.append(handle_segment("call", 101, "2026-03-02 10:07:30", 600, acw=60,
                                     menu_path_id=30050, menu_path="Support/Tech"))
    return contact(
        "call", call_id, "2026-03-02 10:00:00", updated=updated, duration=900, agent_id=101,
        queue=(queue_entry(100, "2026-03-02 10:00:30", 30, "in_sla"),
               queue_entry(101, "2026-03-02 10:06:00", 90, "not_in_sla", 30050, "Support/Tech")),
        handle=tuple(handle),
        transfers=(transfer(5001, "2026-03-02 10:06:00", from_agent=100, to_agent=101),))


@pytest.fixture(params=WAREHOUSES)
def scenario(harness, request) -> Harness:
    """An empty tenant, loaded into DuckDB and, for the same test again, into PostgreSQL."""
    return harness(tenant=empty_tenant(), warehouse=request.param)


def test_a_transferred_call_is_two_queue_entries_two_segments_and_one_transfer_each_way(scenario: Harness) -> None:
    h = scenario
    add(h.tenant, "calls", transferred_call())

    h.run(transform=UTC)

    call = one(h, "select * from contact_center.fct_contacts where channel = 'call' and contact_id = '1'")
    assert (call["transfer_count"], call["handle_segments"], call["is_handled"], call["is_abandoned"]) == (1, 2, True, False)
    assert call["queue_seconds"] == 120  # 30 s before the first agent, 90 s before the second
    first = one(h, "select * from contact_center.fct_agent_daily where agent_id = '100'")
    second = one(h, "select * from contact_center.fct_agent_daily where agent_id = '101'")
    # agent 100: 300 s talking (20 s of it on hold, already inside the 300), no wrap-up
    assert (first["local_date"], first["channel"], first["segments"], first["handled"]) == (date(2026, 3, 2), "call", 1, 1)
    assert (first["duration_seconds"], first["hold_seconds"], first["acw_seconds"], first["handle_seconds"]) == (300, 20, 0, 300)
    assert (first["aht_seconds"], first["transfers_out"], first["transfers_in"]) == (300.0, 1, 0)
    # agent 101: 600 s talking + 60 s wrap-up
    assert (second["duration_seconds"], second["acw_seconds"], second["handle_seconds"]) == (600, 60, 660)
    assert (second["aht_seconds"], second["transfers_out"], second["transfers_in"]) == (660.0, 0, 1)
    intervals = rows(h, "select * from contact_center.fct_queue_interval order by queue_id")
    billing, tech = intervals
    assert billing["interval_start"] == tech["interval_start"] == datetime(2026, 3, 2, 10, 0)
    assert (billing["queue_name"], billing["entries"], billing["answered"], billing["in_sla"],
            billing["service_level_pct"], billing["asa_seconds"]) == ("Support/Billing", 1, 1, 1, 100.0, 30.0)
    assert (tech["queue_name"], tech["entries"], tech["answered"], tech["not_in_sla"],
            tech["service_level_pct"], tech["asa_seconds"]) == ("Support/Tech", 1, 1, 1, 0.0, 90.0)


def test_an_agent_who_takes_a_call_back_handled_two_segments_but_one_contact(scenario: Harness) -> None:
    h = scenario
    # agent 100 answers, transfers to 101, and takes the call back; 101 also handles another
    add(h.tenant, "calls", contact(
        "call", 1, "2026-03-02 10:00:00", updated="2026-03-02 10:30:00", duration=1200,
        agent_id=100,
        queue=(queue_entry(100, "2026-03-02 10:00:10", 10, "in_sla"),),
        handle=(handle_segment("call", 100, "2026-03-02 10:00:20", 200),
                handle_segment("call", 101, "2026-03-02 10:04:00", 300),
                handle_segment("call", 100, "2026-03-02 10:10:00", 400)),
        transfers=(transfer(7001, "2026-03-02 10:03:40", from_agent=100, to_agent=101),
                   transfer(7002, "2026-03-02 10:09:40", from_agent=101, to_agent=100))))
    add(h.tenant, "calls", contact(
        "call", 2, "2026-03-02 11:00:00", updated="2026-03-02 11:20:00", duration=500,
        agent_id=101, queue=(queue_entry(101, "2026-03-02 11:00:05", 5, "in_sla"),),
        handle=(handle_segment("call", 101, "2026-03-02 11:00:10", 450),)))

    h.run(transform=UTC)

    daily = {r["agent_id"]: r for r in rows(h, "select * from contact_center.fct_agent_daily")}
    # by hand: agent 100 has segments of 200 s and 400 s on call 1; agent 101 one segment
    # on call 1 and one on call 2
    assert (daily["100"]["segments"], daily["100"]["handled"], daily["100"]["contacts_handled"]) == (2, 2, 1)
    assert (daily["101"]["segments"], daily["101"]["handled"], daily["101"]["contacts_handled"]) == (2, 2, 2)


def test_abandons_in_queue_count_but_in_menu_abandons_and_voicemails_do_not(scenario: Harness) -> None:
    h = scenario
    add(h.tenant, "calls", contact("call", 2, "2026-03-02 11:00:00", status="failed", fail_reason="eu_abandoned",
                                   queue=(queue_entry(None, "2026-03-02 11:00:20", 120, "not_in_sla"),)))
    # gave up within the abandon threshold: abandoned, but excluded from SLA
    add(h.tenant, "calls", contact("call", 3, "2026-03-02 11:05:00", status="failed", fail_reason="eu_abandoned",
                                   queue=(queue_entry(None, "2026-03-02 11:05:00", 5, "excluded"),)))
    add(h.tenant, "calls", contact("call", 4, "2026-03-02 11:06:00", status="failed",
                                   fail_reason="eu_in_menu_abandoned"))
    add(h.tenant, "calls", contact("call", 5, "2026-03-02 11:07:00", status="voicemail_received",
                                   queue=(queue_entry(None, "2026-03-02 11:07:10", 40, None),)))
    add(h.tenant, "chats", contact("chat", 1, "2026-03-02 11:10:00", status="canceled", fail_reason=None,
                                   queue=(queue_entry(None, "2026-03-02 11:10:05", 50, "not_in_sla", 31010, "Web/Chat"),)))
    add(h.tenant, "chats", contact("chat", 2, "2026-03-02 11:20:00", agent_id=102,
                                   queue=(queue_entry(102, "2026-03-02 11:20:05", 10, "in_sla", 31010, "Web/Chat"),),
                                   handle=(handle_segment("chat", 102, "2026-03-02 11:20:15", 400),)))

    h.run(transform=UTC)

    contacts = {(r["channel"], r["contact_id"]): (r["is_handled"], r["is_abandoned"])
                for r in rows(h, "select * from contact_center.fct_contacts")}
    assert contacts == {("call", "2"): (False, True), ("call", "3"): (False, True),
                        ("call", "4"): (False, False), ("call", "5"): (False, False),
                        ("chat", "1"): (False, True), ("chat", "2"): (True, False)}
    calls = one(h, "select * from contact_center.fct_queue_interval where channel = 'call'")
    # calls 2, 3 and 5 waited in the 11:00-11:15 interval: one missed target, one excluded
    # by its event, one without an event (also excluded); nobody answered
    assert (calls["interval_start"], calls["entries"], calls["answered"], calls["unanswered"]) == (datetime(2026, 3, 2, 11, 0), 3, 0, 3)
    assert (calls["in_sla"], calls["not_in_sla"], calls["sla_excluded"], calls["service_level_pct"]) == (0, 1, 2, 0.0)
    assert (calls["queue_seconds"], calls["max_queue_seconds"], calls["answered_queue_seconds"], calls["asa_seconds"]) == (165, 120, 0, None)
    chats = rows(h, "select * from contact_center.fct_queue_interval where channel = 'chat' order by interval_start")
    assert [(c["interval_start"].minute, c["entries"], c["answered"], c["service_level_pct"], c["asa_seconds"])
            for c in chats] == [(0, 1, 0, 0.0, None), (15, 1, 1, 100.0, 10.0)]


def documented_query(path: Path, first_line: str) -> str:
    """The SQL block of a document that starts with `first_line`: the test runs what users read."""
    found = [b for b in sql_blocks(path) if b.startswith(first_line)]
    assert len(found) == 1, f"{path.name} has no single SQL block starting {first_line!r}"
    return found[0]


def test_abandonment_rate_per_local_day_as_documented(scenario: Harness) -> None:
    h = scenario
    # New York: UTC-5 until 2026-03-08 07:00 UTC, UTC-4 after
    add(h.tenant, "calls", contact("call", 11, "2026-03-08 04:30:00", status="failed",
                                   fail_reason="eu_abandoned",
                                   queue=(queue_entry(None, "2026-03-08 04:30:10", 60, "not_in_sla"),)))
    add(h.tenant, "calls", contact("call", 12, "2026-03-08 05:10:00", agent_id=100,
                                   queue=(queue_entry(100, "2026-03-08 05:10:05", 5, "in_sla"),),
                                   handle=(handle_segment("call", 100, "2026-03-08 05:10:10", 60),)))
    add(h.tenant, "calls", contact("call", 13, "2026-03-08 07:20:00", status="failed",
                                   fail_reason="eu_abandoned",
                                   queue=(queue_entry(None, "2026-03-08 07:20:10", 90, "not_in_sla"),)))
    add(h.tenant, "calls", contact("call", 14, "2026-03-08 13:00:00", status="voicemail_received",
                                   queue=(queue_entry(None, "2026-03-08 13:00:05", 40, None),)))
    add(h.tenant, "chats", contact("chat", 21, "2026-03-08 12:00:00", agent_id=102,
                                   queue=(queue_entry(102, "2026-03-08 12:00:05", 10, "in_sla"),),
                                   handle=(handle_segment("chat", 102, "2026-03-08 12:00:15", 300),)))

    h.run(transform=NEW_YORK)

    placed = {r["contact_id"]: (r["local_date"], r["interval_start"]) for r in rows(
        h, "select * from contact_center.fct_contacts")}
    # by hand: 04:30 UTC is 23:30 EST the day before; 05:10 UTC is 00:10 EST; 07:20 UTC is
    # 03:20 EDT (the clocks jumped from 02:00 to 03:00); 12:00 UTC is 08:00 EDT
    assert placed["11"] == (date(2026, 3, 7), datetime(2026, 3, 7, 23, 30))
    assert placed["12"] == (date(2026, 3, 8), datetime(2026, 3, 8, 0, 0))
    assert placed["13"] == (date(2026, 3, 8), datetime(2026, 3, 8, 3, 15))
    assert placed["21"] == (date(2026, 3, 8), datetime(2026, 3, 8, 8, 0))
    query = documented_query(PROJECT_ROOT / "docs" / "metrics.md", "-- abandonment rate per day")
    with h.warehouse() as warehouse:
        rates = [tuple(float(v) if isinstance(v, Decimal) else v for v in row)
                 for row in warehouse.execute(query).fetchall()]
    # the voicemail (call 14) is neither handled nor abandoned: in neither count
    assert rates == [("ujet", date(2026, 3, 7), "call", 1, 0, 100.0),
                     ("ujet", date(2026, 3, 8), "call", 1, 1, 50.0),
                     ("ujet", date(2026, 3, 8), "chat", 0, 1, 0.0)]


def test_an_email_with_several_threads_and_segments(scenario: Harness) -> None:
    h = scenario
    add(h.tenant, "emails", contact(
        "email", 1, "2026-03-02 09:00:00", status="resolved", threads=4, agent_id=103, duration=300,
        updated="2026-03-02 13:05:00",
        queue=(queue_entry(103, "2026-03-02 09:00:00", 60, None, 33010, "Email/Support"),),
        handle=(handle_segment("email", 103, "2026-03-02 09:10:00", 100, menu_path_id=33010),
                handle_segment("email", 103, "2026-03-02 13:00:00", 200, menu_path_id=33010))))

    h.run(transform=UTC)

    email = one(h, "select * from contact_center.fct_contacts")
    assert (email["channel"], email["contact_type"], email["status"], email["duration_seconds"]) == ("email", None, "resolved", 300)
    assert (email["handle_segments"], email["is_handled"], email["is_abandoned"]) == (2, True, False)
    agent = one(h, "select * from contact_center.fct_agent_daily")
    assert (agent["agent_id"], agent["channel"], agent["segments"], agent["handled"],
            agent["handle_seconds"], agent["aht_seconds"]) == ("103", "email", 2, 2, 300, 150.0)
    queue = one(h, "select * from contact_center.fct_queue_interval")
    assert (queue["sla_excluded"], queue["service_level_pct"]) == (1, None)
    assert one(h, "select count(*) as n from ujet.emails__email_threads where email_id = 1")["n"] == 4


def status_and_dst_records(h: Harness) -> None:
    logs = [
        # 22:00 EST on 2 March until 01:30 EST on 3 March: crosses New York's midnight
        status_interval(1, 100, "Available", "2026-03-03 03:00:00", "2026-03-03 06:30:00"),
        # New York's 8 March has 23 hours (clocks jump from 02:00 to 03:00)
        status_interval(2, 101, "Break", "2026-03-08 05:00:00", "2026-03-09 04:00:00"),
        # still open: left out until it closes
        status_interval(3, 101, "Available", "2026-03-09 04:00:00", None),
        # New York's 1 November has 25 hours (clocks fall back from 02:00 to 01:00)
        status_interval(4, 102, "Meal", "2026-11-01 04:00:00", "2026-11-02 05:00:00"),
    ]
    for log in logs:
        add(h.tenant, "agent_activity_logs", log)
    add(h.tenant, "calls", contact(
        "call", 6, "2026-03-08 06:50:00", agent_id=100,
        queue=(queue_entry(100, "2026-03-08 06:55:00", 20, "in_sla"),    # 01:55 EST
               queue_entry(100, "2026-03-08 07:10:00", 20, "in_sla")),   # 03:10 EDT
        handle=(handle_segment("call", 100, "2026-03-03 04:30:00", 60),)))  # 23:30 EST on 2 March


def test_status_time_is_split_at_local_midnights_including_dst_days(scenario: Harness) -> None:
    h = scenario
    status_and_dst_records(h)

    h.run(transform=NEW_YORK)

    status = {(r["agent_id"], r["local_date"].isoformat(), r["status_name"]): (r["seconds"], r["intervals"])
              for r in rows(h, "select * from contact_center.fct_agent_status_daily")}
    assert status == {
        ("100", "2026-03-02", "Available"): (7200.0, 1),   # 22:00-24:00 EST
        ("100", "2026-03-03", "Available"): (5400.0, 1),   # 00:00-01:30 EST
        ("101", "2026-03-08", "Break"): (23 * 3600.0, 1),  # a whole 23-hour day
        ("102", "2026-11-01", "Meal"): (25 * 3600.0, 1),   # a whole 25-hour day
    }
    starts = sorted(r["interval_start"] for r in rows(h, "select interval_start from contact_center.fct_queue_interval"))
    assert starts == [datetime(2026, 3, 8, 1, 45), datetime(2026, 3, 8, 3, 0)]  # wall clock; no 02:xx that day
    assert one(h, "select local_date from contact_center.fct_agent_daily")["local_date"] == date(2026, 3, 2)


def test_the_same_records_cut_in_utc_fall_on_utc_dates(scenario: Harness) -> None:
    h = scenario
    status_and_dst_records(h)

    h.run(transform=UTC)

    status = {(r["agent_id"], r["local_date"].isoformat()): r["seconds"]
              for r in rows(h, "select * from contact_center.fct_agent_status_daily")}
    assert status == {("100", "2026-03-03"): 12600.0, ("101", "2026-03-08"): 68400.0,
                      ("101", "2026-03-09"): 14400.0, ("102", "2026-11-01"): 72000.0,
                      ("102", "2026-11-02"): 18000.0}
    starts = sorted(r["interval_start"] for r in rows(h, "select interval_start from contact_center.fct_queue_interval"))
    assert starts == [datetime(2026, 3, 8, 6, 45), datetime(2026, 3, 8, 7, 0)]
    assert one(h, "select local_date from contact_center.fct_agent_daily")["local_date"] == date(2026, 3, 3)


def test_a_late_update_rewrites_a_past_day_exactly_as_a_full_rebuild_would(scenario: Harness) -> None:
    h = scenario
    add(h.tenant, "calls", transferred_call())
    first = h.run(transform=UTC)
    assert first.transform.mode == "full"

    # days later the vendor corrects the call: agent 101's segment was double counted
    add(h.tenant, "calls", transferred_call(with_second_segment=False, updated="2026-03-05 08:00:00"))
    second = h.run(transform=UTC)

    assert second.transform.mode == "incremental"
    assert second.transform.partitions["fct_agent_daily"] == 1  # only 2 March is rebuilt
    agent = one(h, "select * from contact_center.fct_agent_daily where agent_id = '101'")
    # an agent with only a transfer that day keeps a row, with zeros elsewhere
    assert (agent["segments"], agent["handled"], agent["handle_seconds"], agent["aht_seconds"],
            agent["transfers_in"]) == (0, 0, 0, None, 1)
    assert one(h, "select handle_segments from contact_center.fct_contacts")["handle_segments"] == 1
    assert_equal_to_full_rebuild(h, UTC, non_empty=("fct_contacts", "fct_queue_interval", "fct_agent_daily"))


def test_incremental_builds_equal_a_full_rebuild_after_a_week_of_changes(harness) -> None:
    h: Harness = harness(churn_per_request=1)
    h.run(transform=NEW_YORK)
    for _ in range(2):
        h.tenant.touch("calls", 25)
        h.tenant.touch("chats", 10)
        h.tenant.touch("emails", 5)
        h.tenant.create("calls", 6)
        h.tenant.advance_activity()
        summary = h.run(transform=NEW_YORK)
        assert summary.transform.mode == "incremental"

    assert_equal_to_full_rebuild(h, NEW_YORK)


def test_nothing_new_means_no_rebuild_and_a_changed_zone_means_a_full_one(harness) -> None:
    h: Harness = harness()
    h.run(transform=UTC)

    unchanged = build(h.pipeline(), h.settings(UTC), sources=[h.raw_source()])
    rezoned = build(h.pipeline(), h.settings(NEW_YORK), sources=[h.raw_source()])

    assert unchanged.mode == "up-to-date"
    assert (rezoned.mode, rezoned.reason) == ("full", "reporting_timezone changed from UTC to America/New_York")


def test_a_broken_rule_fails_the_build_naming_the_model_and_the_keys(scenario: Harness) -> None:
    h = scenario
    broken = transferred_call(call_id=77)
    broken["handle_durations"][0]["call_duration"] = -5  # vendor dirt
    add(h.tenant, "calls", broken)

    with pytest.raises(DataTestFailed) as failed:
        h.run(transform=UTC)

    message = str(failed.value)
    assert "int_handle_segments: non_negative(duration_seconds" in message
    assert "contact_id=77" in message
    assert "fct_agent_daily: non_negative(" in message and "agent_id=100" in message


def assert_equal_to_full_rebuild(h: Harness, reporting_timezone: str,
                                 non_empty: tuple[str, ...] = SAME_DATA_MARTS) -> None:
    build(h.pipeline(), h.settings(reporting_timezone, suffix="_full"), sources=[h.raw_source()],
          full_refresh=True)
    with h.warehouse() as warehouse:
        for mart in MARTS:
            total = warehouse.execute(f"select count(*) from contact_center.{mart}").fetchone()[0]
            assert total > 0 or mart not in non_empty, f"{mart} is empty: the comparison would prove nothing"
        assert_marts_equal(warehouse)


def test_a_status_held_for_years_is_kept_warned_about_and_its_rebuild_explained(harness) -> None:
    from sources.ujet.sandbox.generate import close_activity

    h: Harness = harness()
    h.run(transform=UTC)
    # the vendor's own sample: an agent Offline since the start of 2018, still open
    stale = next(r for r in h.tenant.records("agent_activity_logs")
                 if r["ended_at"] is None and r["activity"] == "user_status_changed"
                 and r["started_at"] < "2019")
    with h.tenant.lock:
        close_activity(h.tenant.collections["agent_activity_logs"][stale["id"]], h.tenant.now())
    closed = h.tenant.record("agent_activity_logs", stale["id"])

    summary = h.run(transform=UTC)

    build = summary.transform
    assert build is not None and build.mode == "incremental"
    # by hand: one piece per UTC date from the day it started to the day it closed
    started = datetime.fromisoformat(closed["started_at"].replace("Z", "+00:00")).date()
    ended = datetime.fromisoformat(closed["ended_at"].replace("Z", "+00:00")).date()
    days = (ended - started).days + 1
    assert build.partitions["int_agent_status_daily"] >= days
    assert build.partition_causes["int_agent_status_daily"] == (
        f"{days:,} of them for one changed row of int_status_pieces"
        f" (source=ujet, activity_id={stale['id']})")
    assert len(build.warnings) == 1 and f"activity_id={stale['id']}" in build.warnings[0]
    kept = one(h, "select sum(seconds) as seconds from contact_center.fct_agent_status_daily"
                  " where agent_id = ? and local_date <= ?", str(closed["agent_id"]), ended)
    assert kept["seconds"] >= closed["duration"]   # the data is kept, not dropped
    text = format_summary(summary)
    assert (f"int_agent_status_daily: {build.partitions['int_agent_status_daily']:,} partitions"
            f" rebuilt, {days:,} of them for one changed row of int_status_pieces") in text
    assert "warning: int_status_pieces" in text


def test_the_queue_backlog_is_every_runs_menu_snapshot_summed_per_queue(harness) -> None:
    h: Harness = harness()

    def callers_wait(count: int) -> None:
        with h.tenant.lock:
            for call in [c for c in h.tenant.collections["calls"].values()
                         if c.get("selected_menu") and c.get("status") != "queued"][:count]:
                call["status"] = "queued"

    callers_wait(3)
    h.run(transform=UTC)
    callers_wait(4)
    h.run(transform=UTC)

    expected: dict[tuple[Any, ...], dict[str, Any]] = {}
    for raw in rows(h, "select * from ujet.menus_current_status"):
        key = (raw["snapshot_at"], raw["comm_type"].lower(), str(raw["menu_path_id"]))
        entry = expected.setdefault(key, {"queue_name": raw["menu_path"], "waiting": 0,
                                          "oldest": raw["oldest_in_queue"]})
        entry["waiting"] += raw["in_queue_count"]
        entry["oldest"] = min(entry["oldest"], raw["oldest_in_queue"])
    got = rows(h, "select * from contact_center.fct_queue_backlog where source = 'ujet'")

    assert len({key[0] for key in expected}) == 2, "one snapshot per run"
    assert {(r["snapshot_at"], r["channel"], r["queue_id"]) for r in got} == set(expected)
    for row in got:
        want = expected[(row["snapshot_at"], row["channel"], row["queue_id"])]
        assert (row["state"], row["queue_name"], row["waiting"], row["in_progress"]) == (
            "queued", want["queue_name"], want["waiting"], 0)
        age = (row["snapshot_at"] - want["oldest"]).total_seconds()
        if age >= 0:
            assert row["oldest_age_seconds"] == pytest.approx(age, abs=0.002)
        else:
            assert row["oldest_age_seconds"] is None
