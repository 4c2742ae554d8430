"""The same pipeline into PostgreSQL, chosen by configuration alone.

Needs PostgreSQL on 127.0.0.1:5432 (override with CCELT_TEST_POSTGRES_DSN). CI sets
CCELT_REQUIRE_POSTGRES=1, which turns a missing server into a failure instead of a skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg2
import pytest

from pipelines.registry import instance
from pipelines.runner import run_source
from sources.ujet.sandbox.generate import ts
from tests.e2e.conftest import Harness

pytestmark = pytest.mark.postgres

# dlt wants a password in the DSN even where the server trusts local connections
DSN = os.environ.get("CCELT_TEST_POSTGRES_DSN", "postgresql://postgres:unused@127.0.0.1:5432/test")


@pytest.fixture
def postgres_dataset() -> Iterator[str]:
    try:
        psycopg2.connect(DSN, connect_timeout=3).close()
    except psycopg2.OperationalError as exc:
        reason = f"PostgreSQL is not reachable at {DSN.split('@')[-1]} ({str(exc).strip()})"
        if os.environ.get("CCELT_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason}, and CCELT_REQUIRE_POSTGRES=1 says it must be")
        pytest.skip(f"{reason}; CI runs this test (CCELT_REQUIRE_POSTGRES=1)")
    dataset = f"ujet_test_{uuid.uuid4().hex[:8]}"
    yield dataset
    with psycopg2.connect(DSN) as connection, connection.cursor() as cursor:
        for schema in (dataset, f"{dataset}_staging"):
            cursor.execute(f"drop schema if exists {schema} cascade")


def test_the_same_pipeline_loads_postgres_when_configuration_says_so(
        harness, postgres_dataset: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESTINATION__WAREHOUSE__DESTINATION_TYPE", "postgres")
    monkeypatch.setenv("DESTINATION__WAREHOUSE__CREDENTIALS", DSN)
    h: Harness = harness()
    tenant = h.tenant
    blank = tenant.records("calls")[7]
    with tenant.lock:
        blank.update(out_ticket_id="", out_ticket_url=None, updated_at=ts(tenant.now()))

    run_source(instance("ujet"), dataset_name=postgres_dataset, source_args=h.source_args())
    corrected = next(r["id"] for r in tenant.records("calls") if len(r["handle_durations"]) >= 2)
    removed = tenant.remove_segment("calls", corrected)
    tenant.touch("chats", 6)
    second = run_source(instance("ujet"), dataset_name=postgres_dataset,
                        source_args=h.source_args())

    assert second.destination.startswith("postgres")
    with psycopg2.connect(DSN) as connection, connection.cursor() as cursor:
        def one(sql: str, *args: object) -> tuple:
            cursor.execute(sql.replace("{d}", postgres_dataset), args)
            return cursor.fetchone()

        assert one("select count(*), count(distinct id) from {d}.calls") == \
            (len(tenant.records("calls")),) * 2
        assert one("select count(*) from {d}.chats") == (len(tenant.records("chats")),)
        assert one("select count(*) from {d}.calls__handle_durations h join {d}.calls c"
                   " on c._dlt_id = h._dlt_root_id where h.call_id <> c.id") == (0,)
        assert one("select count(*) from {d}.calls__handle_durations where id = %s",
                   removed["id"]) == (0,)
        # an empty string stays an empty string, and null stays null, through the loader files
        assert one("select out_ticket_id, out_ticket_url from {d}.calls where id = %s",
                   blank["id"]) == ("", None)
