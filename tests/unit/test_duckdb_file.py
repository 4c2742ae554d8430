"""The DuckDB warehouse file, opened attached with small row groups (pipelines/duckdb_file.py).

Truth comes from DuckDB itself, read with a plain connection after dlt is done: the rows,
the row groups (`pragma_storage_info`), and that the file is free again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import dlt
import duckdb
import pytest

from pipelines.duckdb_file import prune_state_history
from pipelines.warehouse import warehouse_destination

ROWS_PER_LOAD = 20_000


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))
    monkeypatch.delenv("DESTINATION__WAREHOUSE__DESTINATION_TYPE", raising=False)


def _rows(first: int) -> list[dict[str, Any]]:
    return [{"id": n, "text": f"row {n}", "tags": [{"tag": f"t{n % 3}"}]}
            for n in range(first, first + ROWS_PER_LOAD)]


@dlt.resource(name="events", write_disposition="append")
def _events(first: int) -> Iterator[list[dict[str, Any]]]:
    yield _rows(first)


def _pipeline(tmp_path: Path, destination: Any) -> dlt.Pipeline:
    return dlt.pipeline("duckdb_file_test", destination=destination, dataset_name="raw",
                        pipelines_dir=str(tmp_path / "pipelines"))


def _row_groups(database: Path, table: str) -> list[int]:
    with duckdb.connect(str(database)) as connection:
        return [count for (count,) in connection.execute(
            "select max(count) from pragma_storage_info(?) where column_name = 'id'"
            " group by row_group_id order by row_group_id", [table]).fetchall()]


def _loaded(database: Path) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.execute(
            "select e.id, e.text, t.tag from raw.events e"
            " join raw.events__tags t on t._dlt_parent_id = e._dlt_id order by e.id").fetchall()


def _expected(*firsts: int) -> list[tuple[Any, ...]]:
    return [(row["id"], row["text"], row["tags"][0]["tag"])
            for first in firsts for row in _rows(first)]


def test_loads_land_in_the_file_in_row_groups_of_at_most_16384_rows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESTINATION__WAREHOUSE__CREDENTIALS", "warehouse.duckdb")
    pipeline = _pipeline(tmp_path, warehouse_destination())

    for first in (0, ROWS_PER_LOAD, 2 * ROWS_PER_LOAD):
        pipeline.run(_events(first), loader_file_format="jsonl")

    database = tmp_path / "warehouse.duckdb"  # a relative path is the working directory's
    # each load fills the last group up to 16,384 rows, then starts another: 3 × 20,000 rows
    assert _row_groups(database, "raw.events") == [16384, 16384, 7232, 16384, 3616]
    assert _loaded(database) == _expected(0, ROWS_PER_LOAD, 2 * ROWS_PER_LOAD)


def test_clients_open_at_once_share_the_file_and_release_it_when_the_last_closes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    database = tmp_path / "it's here.duckdb"  # a quote in the path is part of the name
    monkeypatch.setenv("DESTINATION__WAREHOUSE__CREDENTIALS", str(database))
    pipeline = _pipeline(tmp_path, warehouse_destination())
    pipeline.run(_events(0), loader_file_format="jsonl")
    other = dlt.pipeline("duckdb_file_other", destination=warehouse_destination(),
                         dataset_name="raw", pipelines_dir=str(tmp_path / "pipelines"))

    # a run's counts, its load and its build each open a client while another is open: one
    # file attached twice in a process is an error, so they must share one attachment
    with pipeline.sql_client() as first, other.sql_client() as second:
        first.execute_sql("create table probe as select 7 as seven")
        seen = second.execute_sql("select seven from probe")

    assert seen == [(7,)]
    # closed: a plain connection of this process can write the file again
    with duckdb.connect(str(database)) as connection:
        connection.execute("drop table raw.probe")
    assert _loaded(database) == _expected(0)


def test_a_file_written_by_dlt_s_own_duckdb_loads_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    database = tmp_path / "older.duckdb"
    monkeypatch.setenv("DESTINATION__WAREHOUSE__CREDENTIALS", str(database))
    _pipeline(tmp_path, dlt.destination("warehouse", destination_type="duckdb")).run(
        _events(0), loader_file_format="jsonl")

    _pipeline(tmp_path, warehouse_destination()).run(
        _events(ROWS_PER_LOAD), loader_file_format="jsonl")

    assert _loaded(database) == _expected(0, ROWS_PER_LOAD)
    # the old group keeps its 20,000 rows; what came after is in small groups
    assert _row_groups(database, "raw.events") == [20000, 16384, 3616]


@dlt.resource(name="counter", write_disposition="append")
def _counter(position: Any = dlt.sources.incremental("n", initial_value=0)) -> Iterator[dict[str, int]]:
    yield {"n": position.last_value + 1}


def test_the_state_table_keeps_the_newest_ten_versions_and_the_newest_still_restores(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    database = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("DESTINATION__WAREHOUSE__CREDENTIALS", str(database))
    pipeline = _pipeline(tmp_path, warehouse_destination())
    for _ in range(15):
        pipeline.run(_counter())  # each run moves the cursor: a new state version each

    removed = prune_state_history(pipeline)

    with duckdb.connect(str(database), read_only=True) as connection:
        versions = [v for (v,) in connection.execute(
            "select version from raw._dlt_pipeline_state order by version").fetchall()]
        loaded = connection.execute("select max(n), count(*) from raw.counter").fetchall()
    assert removed == 5 and versions == list(range(6, 16))
    assert loaded == [(15, 15)]
    # a machine without the local state restores the newest from the warehouse and goes on
    fresh = dlt.pipeline("duckdb_file_test", destination=warehouse_destination(),
                         dataset_name="raw", pipelines_dir=str(tmp_path / "elsewhere"))
    fresh.run(_counter())
    with duckdb.connect(str(database), read_only=True) as connection:
        assert connection.execute("select max(n), count(*) from raw.counter").fetchall() == [(16, 16)]


def test_pruning_a_dataset_without_a_state_table_removes_nothing_and_does_not_fail(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    database = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("DESTINATION__WAREHOUSE__CREDENTIALS", str(database))
    with duckdb.connect(str(database)) as connection:
        connection.execute("create schema raw; create table raw.other as select 1 as one")
    pipeline = _pipeline(tmp_path, warehouse_destination())
    pipeline.extract(_counter())  # a schema, nothing loaded

    assert prune_state_history(pipeline) == 0
    with duckdb.connect(str(database), read_only=True) as connection:
        assert connection.execute("select * from raw.other").fetchall() == [(1,)]
