"""Rows new, updated and replaced per table, from counts before and after a run."""

from __future__ import annotations

import duckdb

from pipelines.changes import RunLoads, TableChange, describe_changes

TABLES = {
    "calls": {"write_disposition": "merge"},
    "calls__handle_durations": {"parent": "calls"},
    "agents_current_status": {"write_disposition": "append"},
    "menus_tree": {"write_disposition": "replace"},
}


def test_merged_roots_split_into_new_and_updated_and_children_count_what_they_replaced() -> None:
    # by hand: 100 calls before; the run loaded 30 versions, of which 10 new keys, so 110
    # after and 20 updated; their 40 child rows replaced 25 of the earlier versions' rows
    written = {"calls": 30, "calls__handle_durations": 40, "agents_current_status": 8,
               "menus_tree": 12}
    before = {"calls": 100, "calls__handle_durations": 300, "agents_current_status": 16,
              "menus_tree": 11}
    after = {"calls": 110, "calls__handle_durations": 315, "agents_current_status": 24,
             "menus_tree": 12}

    changes = describe_changes(TABLES, written, before, after, loaded={"calls": 30})

    assert changes == {
        "calls": TableChange(new=10, updated=20),
        "calls__handle_durations": TableChange(new=40, replaced=25),
        "agents_current_status": TableChange(new=8),
        "menus_tree": TableChange(new=12, replaced=11),
    }


def test_a_first_load_is_all_new() -> None:
    changes = describe_changes(TABLES, {"calls": 5, "calls__handle_durations": 9}, {},
                               {"calls": 5, "calls__handle_durations": 9}, loaded={"calls": 5})

    assert changes == {"calls": TableChange(new=5),
                       "calls__handle_durations": TableChange(new=9)}


def test_a_runs_loads_select_its_rows_by_list_while_few_and_by_range_when_many() -> None:
    # load ids as dlt makes them: epoch seconds with a varying number of decimals
    ids = [f"{1796372800 + n * 5}.{(n * 7919) % 100000}" for n in range(1, 1200)]
    connection = duckdb.connect()
    connection.execute("create table t (_dlt_load_id text)")
    connection.executemany("insert into t values (?)", [[i] for i in ["1796372000.5", *ids,
                                                                       "1796399999.25"]])
    few, many = RunLoads(), RunLoads()
    few.add(ids[:3])
    many.add(list(reversed(ids)))

    def count(loads: RunLoads) -> int:
        return connection.execute(f"select count(*) from t where {loads.condition()}").fetchone()[0]

    assert "in (" in few.condition() and count(few) == 3
    assert "between" in many.condition() and len(many.ids) <= RunLoads.KEEP + 1
    assert count(many) == len(ids)
    assert not RunLoads() and many.count == len(ids)
