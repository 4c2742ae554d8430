"""The transforms' model files, dependency order and rendering for each warehouse."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot

from transforms.dialect import Target, render
from transforms.project import Model, ProjectError, build_order, load_project
from transforms.settings import SettingsError, TransformSettings


def write(root: Path, layer: str, name: str, text: str) -> None:
    (root / layer).mkdir(parents=True, exist_ok=True)
    (root / layer / f"{name}.sql").write_text(text)


def target(dialect: str, tz: str = "America/New_York") -> Target:
    return Target(dialect=dialect, reporting_timezone=tz,
                  raw_table=lambda t: f'"raw_ds"."{t}"' if dialect != "bigquery" else f"`p`.`raw_ds`.`{t}`",
                  model_table=lambda t: f'"cc"."{t}"' if dialect != "bigquery" else f"`p`.`cc`.`{t}`")


def test_dependencies_come_from_table_references_not_from_lists(tmp_path: Path) -> None:
    write(tmp_path, "staging", "stg_a", "-- materialized: view\nselect 1 as x from ujet.a")
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
    assert all(m.name.startswith("stg_ujet__") for m in models.values() if m.layer == "staging")
    assert all(m.source for m in models.values() if m.layer == "staging")


@pytest.mark.parametrize("dialect", ["duckdb", "postgres", "bigquery"])
def test_every_shipped_model_renders_to_sql_its_warehouse_parses(dialect: str) -> None:
    for model in load_project().values():
        sql = render(model, target(dialect), raw_columns={})
        sqlglot.parse_one(sql, read=dialect)  # raises on SQL the dialect cannot read
        assert "ccelt_" not in sql.lower(), f"{model.name}: a macro was left unexpanded"


@pytest.mark.parametrize("dialect, expected", [
    ("duckdb", "TIMEZONE('America/New_York', started_at)"),
    ("postgres", "started_at AT TIME ZONE 'America/New_York'"),
    ("bigquery", "DATETIME(started_at, 'America/New_York')"),
])
def test_local_time_uses_each_warehouses_own_time_zone_conversion(dialect: str, expected: str) -> None:
    model = Model(name="m", layer="marts", path=Path("m.sql"),
                  sql="select ccelt_floor15(ccelt_local(started_at)) as i from ujet.t")

    assert expected in render(model, target(dialect))


def test_staging_gets_typed_nulls_for_columns_and_tables_dlt_has_not_created_yet() -> None:
    model = Model(name="stg_ujet__calls", layer="staging", path=Path("s.sql"),
                  sql="select id, rating from ujet.calls", source="ujet.calls",
                  columns={"id": "bigint", "rating": "bigint"})

    partial = render(model, target("postgres"), raw_columns={"calls": {"id", "lang"}})
    missing = render(model, target("postgres"), raw_columns={})
    complete = render(model, target("postgres"), raw_columns={"calls": {"id", "rating"}})

    assert 'CAST(NULL AS BIGINT) AS rating FROM "raw_ds"."calls"' in partial
    assert "WHERE FALSE" in missing
    assert complete == 'SELECT id, rating FROM "raw_ds"."calls"'


@pytest.mark.parametrize("value", ["4GB", "512MB", "1.5 GiB", "900kb"])
def test_a_memory_limit_is_an_amount(value: str) -> None:
    assert TransformSettings(memory_limit=value).memory_limit == value


@pytest.mark.parametrize("value", ["lots", "80%", "4 G", "'; drop table x; --"])
def test_anything_else_as_memory_limit_names_the_key(value: str) -> None:
    with pytest.raises(SettingsError, match="transforms.memory_limit must be an amount"):
        TransformSettings(memory_limit=value)
