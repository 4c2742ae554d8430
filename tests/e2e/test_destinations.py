"""The same pipeline and the same facts in DuckDB and PostgreSQL, chosen by configuration."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import POSTGRES_DSN, Harness, require_postgres
from tests.e2e.exactness import assert_exact
from tests.e2e.marts import SAME_DATA_MARTS

pytestmark = pytest.mark.postgres

MARTS = SAME_DATA_MARTS
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def comparable(value: Any) -> Any:
    """One representation per value, whichever driver returned it."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat() + "Z"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def table(h: Harness, name: str) -> list[tuple]:
    with h.warehouse() as warehouse:
        cursor = warehouse.execute(f"select * from contact_center.{name}")
        columns = [d[0] for d in cursor.description]
        rows = sorted((tuple(comparable(v) for v in row) for row in cursor.fetchall()), key=repr)
    return [tuple(columns)] + rows


def test_facts_are_identical_in_duckdb_and_postgres_for_the_same_data(harness) -> None:
    # one tenant, read by two pipelines: one loads DuckDB, the other PostgreSQL
    duck: Harness = harness()
    postgres: Harness = harness(sandbox=duck.sandbox, warehouse="postgres")
    duck.tenant.tie("calls", 40)

    duck.run(transform="America/New_York")
    postgres.run(transform="America/New_York")
    duck.tenant.touch("calls", 20)
    duck.tenant.create("chats", 5)
    duck.tenant.advance_activity()
    duck.run(transform="America/New_York")
    postgres.run(transform="America/New_York")

    assert_marts_equal(duck, postgres)


def assert_marts_equal(left: Harness, right: Harness) -> None:
    """Every fact and dimension table holds the same rows in both warehouses, cell by cell."""
    for mart in MARTS:
        in_left, in_right = table(left, mart), table(right, mart)
        assert len(in_left) > 1, f"{mart} is empty: the comparison would prove nothing"
        assert in_left[0] == in_right[0], f"{mart}: columns differ"
        differing = [(a, b) for a, b in zip(in_left, in_right, strict=True) if a != b]
        assert differing == [], f"{mart}: first differing rows {differing[:2]}"


def test_raw_types_behave_alike_variants_booleans_and_timestamps(harness) -> None:
    duck: Harness = harness()
    postgres: Harness = harness(sandbox=duck.sandbox, warehouse="postgres")
    odd = duck.tenant.records("chats")[3]
    with duck.tenant.lock:
        odd["selected_menu"]["hidden"] = "string"

    for h in (duck, postgres):
        h.run()

    query = ("select selected_menu__hidden, selected_menu__hidden__v_text, verified, updated_at"
             " from ujet.chats where id = ?")
    results = []
    for h in (duck, postgres):
        with h.warehouse() as warehouse:
            results.append([tuple(comparable(v) for v in row)
                            for row in warehouse.execute(query, [odd["id"]]).fetchall()])
    assert results[0] == results[1]
    assert results[0][0][:2] == (None, "string")


def test_hostile_tenant_is_loaded_exactly_into_postgres(harness) -> None:
    h: Harness = harness(warehouse="postgres", max_per=37, shuffle_ties=True,
                         churn_per_request=2, fault_every=7)
    h.tenant.tie("calls", 90)

    h.run()
    with h.warehouse() as warehouse:
        assert_exact(warehouse, h.tenant, as_of=h.run_began())
    h.tenant.touch("calls", 30)
    h.tenant.create("emails", 3)
    h.sandbox.options.churn_per_request = 0
    h.sandbox.options.fault_every = 0
    h.run()
    with h.warehouse() as warehouse:
        assert_exact(warehouse, h.tenant, as_of=None)


def test_switching_warehouses_back_and_forth_loses_nothing_in_either(harness) -> None:
    # no lookback: only the cursors decide what a run reads
    duck: Harness = harness(lookback=0)
    postgres: Harness = harness(sandbox=duck.sandbox, warehouse="postgres", lookback=0)
    # the same pipeline name and working directory for both, as after editing config.toml
    postgres.pipeline_name = duck.pipeline_name
    postgres.raw_dataset = duck.raw_dataset
    tenant = duck.tenant

    duck.run()
    for _ in range(3):      # the team moves to Postgres: a backfill, then scheduled runs
        tenant.touch("calls", 10)
        tenant.touch("chats", 3)
        postgres.run()
    tenant.touch("emails", 5)
    duck.run()              # and back: DuckDB must catch up on everything since it was left
    postgres.run()

    for h in (duck, postgres):
        with h.warehouse() as warehouse:
            assert_exact(warehouse, tenant, as_of=None)


def ccelt(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    full_env.update(env, PYTHONPATH=str(PROJECT_ROOT))
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], env=full_env, cwd=cwd,
                          capture_output=True, text=True, timeout=240)


def test_an_unreachable_postgres_is_one_clear_line_and_the_next_run_resumes(harness, tmp_path: Path) -> None:
    require_postgres()
    h: Harness = harness()
    env = {
        "DLT_DATA_DIR": str(tmp_path / "dlt"),
        "SOURCES__UJET__SUBDOMAIN": h.sandbox.options.subdomain,
        "SOURCES__UJET__API_TOKEN": h.sandbox.options.api_token,
        "SOURCES__UJET__BASE_URL": h.sandbox.base_url,
        "SOURCES__UJET__REQUESTS_PER_SECOND": "200",
        "DESTINATION__WAREHOUSE__DESTINATION_TYPE": "postgres",
        "DESTINATION__WAREHOUSE__CREDENTIALS": "postgresql://postgres:secret-pw-1@127.0.0.1:1/test",
        "SOURCES__UJET__RETRY_BACKOFF": "0.01",
    }

    down = ccelt("run", "ujet", "--no-transform", env=env, cwd=tmp_path)

    assert down.returncode == 5
    assert "cannot use the warehouse postgres (127.0.0.1:1/test)" in down.stderr
    assert "Traceback" not in down.stderr and "secret-pw-1" not in down.stderr
    assert "Nothing was lost" in down.stderr

    env["DESTINATION__WAREHOUSE__CREDENTIALS"] = POSTGRES_DSN
    try:
        up = ccelt("run", "ujet", "--no-transform", env=env, cwd=tmp_path)
        assert up.returncode == 0, up.stderr
        calls = len(h.tenant.records("calls"))
        assert any(line.split()[:2] == ["calls", f"{calls:,}"] for line in up.stdout.splitlines())
    finally:
        import psycopg2
        with psycopg2.connect(POSTGRES_DSN) as connection, connection.cursor() as cursor:
            cursor.execute("drop schema if exists ujet cascade")
            cursor.execute("drop schema if exists ujet_staging cascade")


def test_a_one_off_run_into_another_engine_takes_its_credentials_from_dlts_usual_place(
        harness, tmp_path: Path) -> None:
    require_postgres()
    h: Harness = harness()
    env = {
        "DLT_DATA_DIR": str(tmp_path / "dlt"),
        "SOURCES__UJET__SUBDOMAIN": h.sandbox.options.subdomain,
        "SOURCES__UJET__API_TOKEN": h.sandbox.options.api_token,
        "SOURCES__UJET__BASE_URL": h.sandbox.base_url,
        "SOURCES__UJET__REQUESTS_PER_SECOND": "200",
        "DESTINATION__WAREHOUSE__CREDENTIALS": str(h.database),   # the usual DuckDB file
        "DESTINATION__POSTGRES__CREDENTIALS": POSTGRES_DSN,
    }
    try:
        one_off = ccelt("run", "ujet", "--resources", "agents,user_statuses", "--no-transform",
                        "--destination", "postgres", env=env, cwd=tmp_path)
        usual = ccelt("run", "ujet", "--resources", "agents", "--no-transform", env=env, cwd=tmp_path)
    finally:
        import psycopg2
        with psycopg2.connect(POSTGRES_DSN) as connection, connection.cursor() as cursor:
            cursor.execute("select count(*) from ujet.agents")
            in_postgres = cursor.fetchone()[0]
            cursor.execute("drop schema if exists ujet cascade")
            cursor.execute("drop schema if exists ujet_staging cascade")

    assert one_off.returncode == 0, one_off.stderr
    assert "loaded into postgres (127.0.0.1:5432/test)" in one_off.stdout
    assert in_postgres == len(h.tenant.records("agents"))
    assert usual.returncode == 0, usual.stderr
    assert f"loaded into duckdb ({h.database})" in usual.stdout


def test_duckdb_loads_with_a_small_memory_limit_and_builds_with_the_configured_one(harness) -> None:
    """DuckDB's default limit (80 % of the machine) lets its memory grow with the warehouse
    while loading; the build may take more, on every core, and hands the small limit and
    the single thread back."""
    from transforms.runner import _build_memory, _target
    from transforms.settings import TransformSettings

    h: Harness = harness()
    h.run(transform="UTC")
    configured = TransformSettings("UTC", memory_limit="300MB")

    def setting(client: Any, name: str) -> str:
        return str(client.execute_sql(f"select current_setting('{name}')")[0][0])

    with h.pipeline().sql_client() as client:
        loading = setting(client, "memory_limit"), setting(client, "threads")
        with _build_memory(client, _target(client, configured, ()), configured):
            building = setting(client, "memory_limit"), setting(client, "threads")
        with _build_memory(client, _target(client, TransformSettings(), ()), TransformSettings()):
            by_default = setting(client, "memory_limit")
        after = setting(client, "memory_limit"), setting(client, "threads")

    assert loading == after == ("128.0 MiB", "1")   # in MiB, which DuckDB hands back unrounded
    assert building == ("286.1 MiB", str(os.cpu_count()))   # 300 MB, on every core
    assert by_default not in (loading[0], building[0]), "DuckDB's own default, a share of the machine"
