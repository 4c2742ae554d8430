"""The whole BigQuery path — dlt's BigQuery destination, then the fact build — run for real
against a local emulator (bqemulator; tests/e2e/bigquery_emulator), compared cell by cell
with DuckDB for the same tenant. What the emulator cannot show is in docs/destinations.md."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Harness
from tests.e2e.exactness import assert_exact
from tests.e2e.test_destinations import assert_marts_equal

pytestmark = pytest.mark.bigquery


def test_raw_data_and_facts_in_bigquery_equal_duckdb_after_a_backfill_and_an_incremental_run(
        harness) -> None:
    duck: Harness = harness()
    bigquery: Harness = harness(sandbox=duck.sandbox, warehouse="bigquery")
    duck.tenant.tie("calls", 20)

    for h in (duck, bigquery):
        h.run(transform="America/New_York")
    duck.tenant.touch("calls", 15)
    duck.tenant.create("chats", 4)
    duck.tenant.advance_activity()
    summaries = [h.run(transform="America/New_York") for h in (duck, bigquery)]

    assert summaries[1].transform is not None and summaries[1].transform.mode == "incremental"
    with bigquery.warehouse() as warehouse:
        assert_exact(warehouse, bigquery.tenant, as_of=None)
    assert_marts_equal(duck, bigquery)
