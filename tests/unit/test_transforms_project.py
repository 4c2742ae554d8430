"""The transforms' model files, dependency order and rendering for each warehouse."""

from __future__ import annotations

from pathlib import Path

from datetime import date, datetime

import duckdb
import psycopg2
import pytest

from tests.e2e.conftest import POSTGRES_DSN, require_postgres
from transforms.dialect import RawSource, Target, render
from transforms.project import Model, ProjectError, build_order, load_project
from transforms.settings import SettingsError, TransformSettings


def write(root: Path, layer: str, name: str, text: str) -> None:
    (root / layer).mkdir(parents=True, exist_ok=True)
    (root / layer / f"{name}.sql").write_text(text)


def target(dialect: str, tz: str = "America/New_York") -> Target:
    return Target(dialect=dialect, reporting_timezone=tz,
                  raw_table=lambda d, t: f'"{d}"."{t}"',
                  model_table=lambda t: f'"cc"."{t}"')


def test_dependencies_come_from_table_references_not_from_lists(tmp_path: Path) -> None:
    write(tmp_path, "staging/ujet", "stg_a",
          "-- materialized: view\n-- source: ujet.a\n-- columns: x bigint\nselect x from ujet.a")
    write(tmp_path, "intermediate", "int_b",
          "with a as (select * from contact_center.stg_a) select * from a")
    write(tmp_path, "marts", "fct_c",
          "-- tests: unique(x)\nselect * from contact_center.int_b join contact_center.stg_a using (x)")

    models = load_project(tmp_path)

    assert models["int_b"].depends_on == {"stg_a"}
    assert models["fct_c"].depends_on == {"int_b", "stg_a"}
    assert build_order(models) == ["stg_a", "int_b", "fct_c"]


def test_a_reference_to_a_missing_model_names_the_file(tmp_path: Path) -> None:
    write(tmp_path, "marts", "fct_c", "select * from contact_center.int_nope")

    with pytest.raises(ProjectError, match="fct_c.sql references contact_center.int_nope"):
        load_project(tmp_path)


def test_cycles_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "marts", "fct_a", "select * from contact_center.fct_b")
    write(tmp_path, "marts", "fct_b", "select * from contact_center.fct_a")

    with pytest.raises(ProjectError, match="cycle"):
        load_project(tmp_path)


@pytest.mark.parametrize("header, message", [
    ("-- materialized: snapshot", "materialized must be"),
    ("-- materialized: incremental", "needs unique_key"),
    ("-- materialized: incremental\n-- unique_key: id", "needs a `changes` feed"),
    ("-- colour: blue", "unknown header"),
    ("-- tests: sometimes(x)", "cannot read test"),
])
def test_bad_headers_are_reported_with_the_file(tmp_path: Path, header: str, message: str) -> None:
    write(tmp_path, "marts", "fct_x", f"{header}\nselect 1 as id")

    with pytest.raises(ProjectError, match=message):
        load_project(tmp_path)


def test_the_shipped_project_loads_and_every_mart_of_the_spec_exists() -> None:
    models = load_project()

    assert {"fct_contacts", "fct_queue_interval", "fct_agent_daily", "fct_agent_status_daily",
            "dim_agents", "dim_queues"} <= set(models)
    staging = [m for m in models.values() if m.layer == "staging"]
    assert staging and all(m.source and m.name.startswith(f"stg_{m.vendor}__") for m in staging)
    assert all(m.path.parent.name == m.vendor for m in staging)


def test_a_staging_model_may_feed_several_change_feeds(tmp_path: Path) -> None:
    write(tmp_path, "staging/acme", "stg_acme__x",
          "-- source: acme.x\n-- feeds: events, contacts\nselect 1 as y from acme.x")
    write(tmp_path, "staging/acme", "stg_acme__y",
          "-- source: acme.y\n-- feeds: contacts\nselect 1 as y from acme.y")

    models = load_project(tmp_path)

    assert models["stg_acme__x"].feeds == ("events", "contacts")
    assert models["stg_acme__y"].feeds == ("contacts",)


def test_a_staging_model_outside_its_vendors_folder_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "staging/acme", "stg_ujet__x", "-- source: ujet.x\nselect 1 as y from ujet.x")

    with pytest.raises(ProjectError, match="belongs in staging/ujet/"):
        load_project(tmp_path)


def run_on(dialect: str, sql: str) -> list[tuple]:
    """Executes rendered SQL on a real engine: DuckDB in memory, or the test PostgreSQL."""
    if dialect == "duckdb":
        with duckdb.connect() as connection:
            return connection.execute(sql).fetchall()
    require_postgres()
    with psycopg2.connect(POSTGRES_DSN) as connection, connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


ENGINES = ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.mark.parametrize("dialect", ENGINES)
def test_local_time_and_its_15_minute_interval_are_cut_in_the_reporting_zone(dialect: str) -> None:
    # worked by hand: 2026-03-08 is the day New York springs forward at 02:00 local (07:00 UTC),
    # so 06:59:59 UTC is 01:59:59 EST and 07:00:00 UTC is 03:00:00 EDT; their intervals start
    # at 01:45 and 03:00; 5,000 ms lie between 06:59:58 and 07:00:03 whatever the zone
    model = Model(name="m", layer="marts", path=Path("m.sql"), sql="""
        select cast(ccelt_local(t) as timestamp) as local_time,
               cast(ccelt_floor15(ccelt_local(t)) as timestamp) as interval_start,
               cast(ccelt_local(t) as date) as local_date
        from (select cast('2026-03-08 06:59:59+00' as timestamptz) as t
              union all select cast('2026-03-08 07:00:00+00' as timestamptz)) as times
        order by t""")
    span = Model(name="n", layer="marts", path=Path("n.sql"), sql="""
        select ccelt_milliseconds(cast('2026-03-08 06:59:58+00' as timestamptz),
                                  cast('2026-03-08 07:00:03+00' as timestamptz)),
               ccelt_add_days(cast('2026-02-28' as date), 1)""")

    rows = run_on(dialect, render(model, target(dialect)))
    (milliseconds, next_day), = run_on(dialect, render(span, target(dialect)))

    assert rows == [(datetime(2026, 3, 8, 1, 59, 59), datetime(2026, 3, 8, 1, 45), date(2026, 3, 8)),
                    (datetime(2026, 3, 8, 3, 0, 0), datetime(2026, 3, 8, 3, 0), date(2026, 3, 8))]
    assert (milliseconds, next_day) == (5000, date(2026, 3, 1))


def test_a_staging_model_reads_every_instance_of_its_vendor_each_row_tagged_with_its_source() -> None:
    model = Model(name="stg_ujet__calls", layer="staging", path=Path("s.sql"),
                  sql="select id as contact_id, rating from ujet.calls", source="ujet.calls",
                  columns={"id": "bigint", "rating": "bigint"})
    two = Target(dialect="duckdb", reporting_timezone="UTC",
                 raw_table=lambda dataset, table: f'"{dataset}"."{table}"',
                 model_table=lambda table: f'"cc"."{table}"',
                 sources=(RawSource("ujet", "ujet", "ujet"),
                          RawSource("ujet_acme", "ujet", "ujet_acme"),
                          RawSource("ujet_new", "ujet", "ujet_new"),
                          RawSource("other", "othervendor", "other")))
    columns = {("ujet", "calls"): {"id", "rating"}, ("ujet_acme", "calls"): {"id", "lang"}}

    with duckdb.connect() as connection:
        connection.execute("create schema ujet; create schema ujet_acme")
        connection.execute("create table ujet.calls as select * from (values (17, 5), (18, null))"
                           " as t(id, rating)")
        # acme's tenant has never sent a rating: dlt has not created the column
        connection.execute("create table ujet_acme.calls as select * from (values (17, 'en'))"
                           " as t(id, lang)")
        rows = connection.execute(render(model, two, raw_columns=columns)
                                  + " order by source, contact_id").fetchall()

    # ujet_new registered but never loaded: no rows; `other` is another vendor's
    assert rows == [("ujet", 17, 5), ("ujet", 18, None), ("ujet_acme", 17, None)]


def test_a_staging_model_with_no_instance_is_an_empty_relation_of_its_columns() -> None:
    model = Model(name="stg_ujet__calls", layer="staging", path=Path("s.sql"),
                  sql="select id as contact_id, rating from ujet.calls", source="ujet.calls",
                  columns={"id": "bigint", "rating": "bigint"})

    with duckdb.connect() as connection:
        result = connection.execute(render(model, target("duckdb"), raw_columns={}))
        names = [d[0] for d in result.description]
        assert (names, result.fetchall()) == (["source", "contact_id", "rating"], [])


@pytest.mark.parametrize("value", ["4GB", "512MB", "1.5 GiB", "900kb"])
def test_a_memory_limit_is_an_amount(value: str) -> None:
    assert TransformSettings(memory_limit=value).memory_limit == value


@pytest.mark.parametrize("value", ["lots", "80%", "4 G", "'; drop table x; --"])
def test_anything_else_as_memory_limit_names_the_key(value: str) -> None:
    with pytest.raises(SettingsError, match="transforms.memory_limit must be an amount"):
        TransformSettings(memory_limit=value)
