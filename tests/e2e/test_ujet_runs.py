"""Scheduled runs against a sandbox tenant: cost, recovery, schema drift, table shapes."""

from __future__ import annotations

import json

import math
import subprocess
import sys
from pathlib import Path

import dlt
import pytest

from pipelines import runner
from pipelines.warehouse import WarehouseUnreachable, loader_file_format
from sources.ujet import ujet_source
from sources.kit.errors import ConfigurationError
from sources.ujet.sandbox.generate import parse_ts, ts
from tests.e2e.conftest import Harness
from tests.e2e.exactness import assert_exact


def extract_without_loading(h: Harness) -> dlt.Pipeline:
    """What a run leaves behind when it dies between normalizing and loading."""
    pipeline = dlt.pipeline(h.pipeline_name, destination=h.destination(), dataset_name="ujet")
    pipeline.extract(ujet_source(**h.source_args()),
                     loader_file_format=loader_file_format(h.destination()))
    pipeline.normalize()
    return pipeline


def test_second_run_without_changes_makes_the_minimum_number_of_requests(harness) -> None:
    h: Harness = harness(page_size=10, lookback=0)
    h.run()
    h.sandbox.reset_log()

    summary = h.run()

    tenant, per = h.tenant, 10
    pages = {name: math.ceil(len(tenant.records(name)) / per)
             for name in ("agents", "menus", "teams")}
    # one page of each contact window (nothing changed since the cursor), the two activity
    # windows, every page of the paged reference lists, one request per unpaged endpoint,
    # and the SLA snapshots once per channel
    expected = 3 + 2 + sum(pages.values()) + 1 + 2 + 2 + 2 * 2
    assert summary.requests == len(h.sandbox.requests) == expected
    assert not any(summary.rows.get(kind) for kind in ("calls", "chats", "emails"))


def reads_without_headers(records: int, per: int) -> int:
    """Requests one pass over a list takes when the server sends no paging headers and the
    page size is known: its pages, and an empty one when the last page is full."""
    return records // per + 1


def test_without_paging_headers_runs_cost_their_pages_and_no_confirmations(harness) -> None:
    h: Harness = harness(page_size=10, lookback=0, pagination_headers=False)

    backfill = h.run()
    with h.warehouse() as warehouse:
        assert_exact(warehouse, h.tenant, as_of=h.run_began())
    tenant, per = h.tenant, 10
    counts = {name: len(tenant.records(name)) for name in ("calls", "chats", "emails", "agents",
                                                            "menus", "teams")}
    counts["agent_activity_logs"] = len(tenant.records("agent_activity_logs"))
    one_shots = 1 + 2 + 2 + 2 * 2   # user_statuses, trees, current statuses, SLA per channel
    floor = sum(math.ceil(n / per) + 1 for n in counts.values()) + one_shots
    assert backfill.requests <= 1.2 * floor, (backfill.requests, floor)
    h.sandbox.reset_log()

    summary = h.run()

    # the page size is known from the backfill: each empty contact window and activity
    # window is one request; menus and teams (sorted by id, deleted ones kept) are read once,
    # agents (unsorted, so records can slide) twice when they take more than one request
    agents = reads_without_headers(counts["agents"], per)
    expected = (3 + 2 + reads_without_headers(counts["menus"], per)
                + reads_without_headers(counts["teams"], per)
                + (agents if agents == 1 else 2 * agents) + one_shots)
    assert summary.requests == len(h.sandbox.requests) == expected
    assert not any(summary.rows.get(kind) for kind in ("calls", "chats", "emails"))


def test_what_the_lookback_reads_again_unchanged_is_not_loaded_again(harness) -> None:
    from datetime import timedelta

    h: Harness = harness()   # the default 10-minute lookback
    for kind, count in (("calls", 6), ("chats", 3), ("emails", 2)):
        h.tenant.create(kind, count)   # busy minutes before the run: the lookback reads them again
    h.tenant.advance_activity()
    h.run(transform="UTC")
    # a late commit: the vendor changes a call but stamps it 3 minutes ago, inside the
    # lookback and before the cursor, exactly what the lookback is there to catch
    [late] = h.tenant.late_commit("calls", 1, age=timedelta(minutes=3))
    h.sandbox.reset_log()

    again = h.run(transform="UTC")

    now = h.tenant.now()
    reread = [r for r in h.tenant.records("calls")
              if now - timedelta(minutes=11) <= parse_ts(r["updated_at"]) <= now]
    assert len(reread) >= 7, "the lookback should have read more than the one late commit"
    assert again.rows.get("calls") == 1, "only the late commit is new"
    for kind in ("chats", "emails", "agent_activity_logs"):
        assert not again.rows.get(kind), f"{kind} were loaded again unchanged"
    # one late contact; the run's own queue snapshot is the one new snapshot; no events (UJET)
    assert again.transform is not None and again.transform.changed == {
        "contacts": 1, "activity": 0, "snapshots": 1, "events": 0}
    with h.warehouse() as warehouse:
        assert_exact(warehouse, h.tenant, as_of=h.run_began())
        loaded = warehouse.execute(f"select count(*) from ujet.calls where id = {late}").fetchone()
    assert loaded == (1,)

    third = h.run(transform="UTC")   # and the run after loads nothing at all
    assert not any(third.rows.get(k) for k in ("calls", "chats", "emails", "agent_activity_logs"))
    assert third.transform is not None and sum(third.transform.partitions.values()) == 0


def test_a_run_that_died_before_loading_is_finished_by_the_next_one(harness) -> None:
    h: Harness = harness()
    h.run()
    h.tenant.touch("calls", 10)
    h.tenant.create("chats", 3)
    # a run that extracted and normalized, then died (killed, out of memory) before loading
    pipeline = extract_without_loading(h)
    assert pipeline.has_pending_data
    h.tenant.touch("calls", 5)
    h.tenant.create("emails", 2)

    summary = h.run()

    assert summary.pending_packages == 1
    with h.warehouse() as warehouse:
        assert_exact(warehouse, h.tenant, as_of=None)


def test_a_locked_warehouse_fails_the_run_and_loses_nothing(harness) -> None:
    h: Harness = harness()
    h.run()
    h.tenant.touch("calls", 10)
    pipeline = extract_without_loading(h)
    # an analyst's tool holds the DuckDB file open for writing in another process
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('locked', flush=True);"
         " sys.stdin.read()", str(h.database)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        h.tenant.touch("chats", 4)
        with pytest.raises(WarehouseUnreachable) as locked:
            h.run()
        # the file, who holds it and what to do, whole: not cut, no generic advice
        message = str(locked.value)
        assert f"the DuckDB file {h.database} is locked: process {holder.pid} (" in message
        assert "read_only=True" in message and "Nothing was lost" in message
        assert "credentials" not in message
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert pipeline.has_pending_data, "the extracted package was lost"

    summary = h.run()

    assert summary.pending_packages == 1
    with h.warehouse() as warehouse:
        assert_exact(warehouse, h.tenant, as_of=None)


def test_new_fields_and_type_variants_load_without_loss_and_are_reported(harness) -> None:
    h: Harness = harness()
    h.run()
    scored = h.tenant.add_field("calls", "sentiment_score", 0.82, count=3)
    odd = h.tenant.records("chats")[3]
    with h.tenant.lock:
        odd["selected_menu"]["hidden"] = "string"  # the documented model's placeholder type
        odd["updated_at"] = ts(h.tenant.now())

    summary = h.run()

    assert ("calls", "sentiment_score", "double") in summary.new_columns
    assert ("chats", "selected_menu__hidden__v_text", "text") in summary.variants
    with h.warehouse() as warehouse:
        scores = warehouse.execute(
            "select sentiment_score from ujet.calls where id in (select unnest(?))", [scored]).fetchall()
        hidden = warehouse.execute(
            "select selected_menu__hidden, selected_menu__hidden__v_text from ujet.chats where id = ?",
            [odd["id"]]).fetchall()
    assert scores == [(0.82,)] * 3
    assert hidden == [(None, "string")]


def test_child_tables_at_every_depth_carry_the_natural_root_id(harness) -> None:
    h: Harness = harness()
    h.run()

    with h.warehouse() as warehouse:
        def mismatches(child: str, root: str, root_id: str) -> tuple[int, int]:
            return warehouse.execute(
                f"select count(*), count(*) filter (where c.{root_id} is distinct from r.id)"
                f" from ujet.{child} c join ujet.{root} r on r._dlt_id = c._dlt_root_id").fetchone()

        for child, root, root_id in [
            ("calls__handle_durations", "calls", "call_id"),
            ("calls__recordings__redaction_times", "calls", "call_id"),
            ("chats__queue_durations", "chats", "chat_id"),
            ("emails__email_threads", "emails", "email_id"),
            ("agents__roles", "agents", "agent_id"),
            ("menus__team_assignments__team__assignees", "menus", "menu_id"),
            ("teams__assignees", "teams", "team_id"),
        ]:
            rows, wrong = mismatches(child, root, root_id)
            assert rows > 0 and wrong == 0, f"{child}: {wrong} of {rows} rows carry the wrong {root_id}"
        # the vendor's sample call 1 lists participants of call 3: kept, not overwritten
        participants = warehouse.execute(
            "select call_id, reported_call_id from ujet.calls__participants where call_id = 1").fetchall()
    assert participants == [(1, 3)] * 3


def test_trees_snapshots_and_deleted_reference_records(harness) -> None:
    h: Harness = harness()
    h.run()
    h.run()

    tenant = h.tenant
    # every live menu is one node of the tree, whatever its depth (worked from the records,
    # not from the product's flattening)
    live_menus = [m for m in tenant.records("menus") if not m.get("deleted")]
    with h.warehouse() as warehouse:
        refunds = warehouse.execute(
            "select depth, path, name_path, is_leaf, parent_id from ujet.menus_tree where id = 3002").fetchall()
        tree_rows = warehouse.execute("select count(*) from ujet.menus_tree").fetchone()[0]
        deleted_menu = warehouse.execute("select deleted from ujet.menus where id = 3008").fetchall()
        deleted_team = warehouse.execute("select deleted from ujet.teams where id = 404").fetchall()
        snapshots = warehouse.execute(
            "select count(distinct snapshot_at) from ujet.agents_current_status").fetchone()[0]
        sla = warehouse.execute(
            "select channel, minutes, count(*) from ujet.menus_sla group by all order by 1").fetchall()
    assert refunds == [(2, "3000/3001/3002", "Acme Support/Billing/Refunds", True, 3001)]
    assert tree_rows == len(live_menus)
    assert deleted_menu == [(True,)] and deleted_team == [(True,)]
    assert snapshots == 2, "each run appends its own snapshot"
    per_run = {ch: len(tenant.sla(ch, 15, by_group=False)) for ch in ("call", "chat")}
    assert sla == [("call", 15, 2 * per_run["call"]), ("chat", 15, 2 * per_run["chat"])]


def test_the_quarantine_table_exists_empty_after_a_clean_first_run(harness) -> None:
    h: Harness = harness()

    summary = h.run()

    with h.warehouse() as warehouse:
        columns = warehouse.execute(
            "select column_name, data_type from information_schema.columns"
            " where table_schema = 'ujet' and table_name = 'quarantine'"
            " and column_name not like '\\_dlt%' escape '\\' order by column_name").fetchall()
        rows = warehouse.execute("select count(*) from ujet.quarantine").fetchone()[0]
    # the columns docs/operations.md promises, so dashboards over it work from day one
    assert columns == [("payload", "VARCHAR"), ("quarantined_at", "TIMESTAMP WITH TIME ZONE"),
                       ("reason", "VARCHAR"), ("record_id", "VARCHAR"), ("request", "VARCHAR"),
                       ("resource", "VARCHAR")]
    assert rows == 0
    assert "quarantine" not in summary.rows
    # later runs neither load it again nor add rows to it
    again = h.run()
    assert again.new_tables == [] and "quarantine" not in again.rows


def test_pipeline_state_lives_under_dlt_data_dir(harness, isolated_dlt: Path) -> None:
    h: Harness = harness()

    h.run()

    state = json.loads((isolated_dlt / "pipelines" / h.pipeline_name / "state.json").read_text())
    cursor = state["sources"]["ujet"]["resources"]["calls"]["incremental"]["updated_at"]
    newest = max(parse_ts(r["updated_at"]) for r in h.tenant.records("calls"))
    # the cursor kept there is the newest `updated_at` the tenant has: the state is this run's
    # dlt tags typed values in its JSON with a private-use character before the text
    assert parse_ts(str(cursor["last_value"]).lstrip("\uf027")) == newest


def test_empty_strings_and_nulls_stay_apart_in_duckdb(harness) -> None:
    h: Harness = harness()
    blank = h.tenant.records("calls")[7]
    with h.tenant.lock:
        blank.update(out_ticket_id="", out_ticket_url=None, updated_at=ts(h.tenant.now()))

    h.run()

    with h.warehouse() as warehouse:
        row = warehouse.execute("select out_ticket_id, out_ticket_url from ujet.calls where id = ?",
                                [blank["id"]]).fetchall()
    assert row == [("", None)]


def test_a_long_backfill_loads_in_slices_while_fetching_goes_on(harness, monkeypatch) -> None:
    monkeypatch.setenv("SOURCES__UJET__LOAD_EVERY", "0.5")
    h: Harness = harness(latency=0.05, page_size=10)

    summary = h.run()

    assert summary.slices >= 3, "the backfill should have been loaded in several slices"
    with h.warehouse() as warehouse:
        loads = warehouse.execute("select count(*) from ujet._dlt_loads").fetchone()[0]
        assert_exact(warehouse, h.tenant, as_of=h.run_began())
    # one load per slice, and the first run's one more that creates the empty quarantine table
    assert loads == summary.slices + 1


@pytest.mark.parametrize("prune_every", [4, runner.PRUNE_STATE_EVERY_SLICES])
def test_slices_bounded_by_rows_lose_nothing_and_replace_trees_whole(harness, monkeypatch,
                                                                     prune_every) -> None:
    monkeypatch.setenv("SOURCES__UJET__LOAD_EVERY_ROWS", "20")
    # the state table is pruned every `prune_every` slices and at the end: count the prunings
    monkeypatch.setattr(runner, "PRUNE_STATE_EVERY_SLICES", prune_every)
    prunings: list[int] = []

    prune = runner._prune_state_history

    def counted(pipeline, destination):  # type: ignore[no-untyped-def]
        prunings.append(1)
        prune(pipeline, destination)

    monkeypatch.setattr(runner, "_prune_state_history", counted)
    h: Harness = harness(page_size=10)

    summary = h.run()

    assert summary.slices > 10, "a 20-row bound should have cut the backfill into many slices"
    # after every `prune_every`-th slice, and at the end unless the last slice was one
    assert len(prunings) == (summary.slices // prune_every
                             + (1 if summary.slices % prune_every else 0)), summary.slices
    with h.warehouse() as warehouse:
        assert_exact(warehouse, h.tenant, as_of=h.run_began())
        first_load = warehouse.execute("select min(load_id) from ujet._dlt_loads").fetchone()[0]
        for tree in ("menus_tree", "teams_tree"):
            loads = warehouse.execute(f"select distinct _dlt_load_id from ujet.{tree}").fetchall()
            # a slice in which a replaced table got no rows would have emptied it
            assert loads == [(first_load,)], tree
        versions = [v for (v,) in warehouse.execute(
            "select version from ujet._dlt_pipeline_state order by version").fetchall()]
    # dlt stored a state version with each slice; a DuckDB warehouse keeps the newest ten
    assert len(versions) == 10 and versions[-1] == h.pipeline().state["_state_version"]


def test_bad_slice_bounds_are_refused_before_anything_is_fetched(harness, monkeypatch) -> None:
    monkeypatch.setenv("SOURCES__UJET__LOAD_EVERY_ROWS", "0")
    h: Harness = harness()

    with pytest.raises(ConfigurationError, match="load_every_rows must be a positive number"):
        h.run()
    assert h.sandbox.requests == []


def test_an_outage_half_way_through_a_backfill_keeps_the_slices_already_loaded(harness, monkeypatch) -> None:
    monkeypatch.setenv("SOURCES__UJET__LOAD_EVERY", "0.5")
    h: Harness = harness(latency=0.02, page_size=20, fail_after=60, fault_kinds=("503",))

    with pytest.raises(Exception, match="503"):
        h.run(max_attempts=1)

    with h.warehouse() as warehouse:
        kept = warehouse.execute("select count(*) from ujet.calls").fetchone()[0]
    assert kept > 0, "what was loaded before the outage must stay loaded"
    h.sandbox.options.fail_after = None
    h.sandbox.reset_log()
    h.run()
    resumed = len([r for r in h.sandbox.requests if r.path == "calls"])
    with h.warehouse() as warehouse:
        assert_exact(warehouse, h.tenant, as_of=h.run_began())
    assert resumed < len(h.tenant.records("calls")) / 20, "the next run started over instead of resuming"


def test_a_tree_that_becomes_empty_empties_its_table(harness) -> None:
    h: Harness = harness()
    h.run()
    with h.tenant.lock:
        for menu in h.tenant.records("menus"):
            menu["deleted"] = True

    h.run()

    with h.warehouse() as warehouse:
        assert warehouse.execute("select count(*) from ujet.menus_tree").fetchone()[0] == 0
        assert warehouse.execute("select count(*) from ujet.teams_tree").fetchone()[0] > 0


def test_the_summary_tells_new_from_updated_rows_and_replaced_child_rows(harness) -> None:
    from pipelines.changes import TableChange

    h: Harness = harness()
    first = h.run()
    ended = [r["id"] for r in h.tenant.records("calls") if r.get("ends_at")][:5]

    def segments_of(ids: list) -> int:
        with h.warehouse() as warehouse:
            return warehouse.execute(
                "select count(*) from ujet.calls__handle_durations where call_id in"
                " (select unnest(?))", [list(ids)]).fetchone()[0]

    earlier = segments_of(ended)          # as the first run loaded them
    touched = h.tenant.touch("calls", ids=ended)
    created = h.tenant.create("calls", 3)

    second = h.run()

    assert first.changes["calls"] == TableChange(new=len(h.tenant.records("calls")) - 3)
    # by hand: 3 calls are new, the 5 touched ones replace their earlier versions, and their
    # earlier segments are replaced by the segments they have now
    assert second.changes["calls"] == TableChange(new=len(created), updated=len(touched))
    change = second.changes["calls__handle_durations"]
    assert change.new == segments_of(touched + created) == second.rows["calls__handle_durations"]
    assert change.replaced == earlier
