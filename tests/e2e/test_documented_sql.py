"""Every SQL example in the README and docs runs, on DuckDB and on Postgres, with equal answers."""

from __future__ import annotations

import re
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from decimal import Decimal
from typing import Any

import pytest

from pipelines.registry import instance
from pipelines.runner import run_source
from sources.alvaria.sandbox.organisation import Organisation
from sources.alvaria.sandbox.server import SandboxServer as AlvariaSandbox
from sources.chatwoot.sandbox.account import Account
from sources.chatwoot.sandbox.server import SandboxOptions, SandboxServer
from sources.genesys.sandbox.server import SandboxOptions as GenesysOptions
from sources.genesys.sandbox.server import SandboxServer as GenesysSandbox
from sources.genesys.sandbox.world import World
from tests.e2e.conftest import Harness, require_postgres
from tests.e2e.documents import DOCUMENTS, sql_blocks
from tests.e2e.test_genesys_facts import assert_contacts_match, assert_events_match
from tests.e2e.marts import MARTS, SAME_DATA_MARTS, assert_marts_equal
from transforms.dialect import RawSource
from transforms.runner import build

def examples() -> list[tuple[str, str]]:
    return [(f"{document.name}#{number}", block) for document in DOCUMENTS
            for number, block in enumerate(sql_blocks(document), start=1)]


def comparable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return round(float(value), 6)
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def answer(h: Harness, sql: str) -> list[tuple]:
    with h.warehouse() as warehouse:
        rows = warehouse.execute(sql).fetchall()
    return sorted((tuple(comparable(v) for v in row) for row in rows), key=repr)


def test_the_documents_hold_sql_examples() -> None:
    names = [name for name, _ in examples()]
    assert "README.md#1" in names and len(names) >= 4


def load_chatwoot(h: Harness, server: SandboxServer) -> None:
    """The same Chatwoot account into the harness's warehouse, facts built beside UJET's."""
    dataset = "chatwoot" if h.kind == "duckdb" else f"chatwoot_{h.raw_dataset.split('_')[-1]}"
    h.others["chatwoot"] = dataset
    run_source(instance("chatwoot"), pipeline_name=f"{dataset}_{h.kind}", dataset_name=dataset,
               destination=h.destination(),
               source_args=dict(base_url=server.base_url, account_id=server.account.account_id,
                                api_access_token=server.options.api_access_token,
                                requests_per_second=1000),
               transform=h.settings("UTC"))


def load_alvaria(h: Harness, server: AlvariaSandbox) -> None:
    """A snapshot of the same Alvaria organisation into the harness's warehouse."""
    dataset = "alvaria" if h.kind == "duckdb" else f"alvaria_{h.raw_dataset.split('_')[-1]}"
    h.others["alvaria"] = dataset
    run_source(instance("alvaria"), pipeline_name=f"{dataset}_{h.kind}", dataset_name=dataset,
               destination=h.destination(),
               source_args=dict(server.source_args(), requests_per_second=1000),
               transform=h.settings("UTC"))


def load_genesys(h: Harness, spool: Path) -> None:
    """A listen to a Genesys site whose world does the same things for each warehouse: two
    sites from one seed, the same changes made once the listener has subscribed and listed
    (a push API cannot be read twice; a change before the first list would make the two
    lists differ)."""
    dataset = "genesys" if h.kind == "duckdb" else f"genesys_{h.raw_dataset.split('_')[-1]}"
    h.others["genesys"] = dataset
    world = World(seed=5)
    world.steps(20)
    with GenesysSandbox(world, GenesysOptions(poll_timeout=0.3)) as server:
        server.arrive(8)

        def work() -> None:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not any(
                    r.path == "/me/interactions" for r in list(server.requests)):
                time.sleep(0.05)
            server.emit(30)

        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        run_source(instance("genesys"), pipeline_name=f"{dataset}_{h.kind}", dataset_name=dataset,
                   destination=h.destination(),
                   source_args={"base_url": server.base_url,
                                "username": server.options.username,
                                "password": server.options.password,
                                "allow_insecure_http": True, "spool_dir": str(spool),
                                "listen_seconds": 3.0},
                   transform=h.settings("UTC"))
        worker.join()


def test_every_documented_query_gives_the_same_answer_on_duckdb_and_postgres(harness, tmp_path) -> None:
    require_postgres()
    duck: Harness = harness()
    postgres: Harness = harness(sandbox=duck.sandbox, warehouse="postgres")
    with duck.tenant.lock:   # callers waiting in menus: UJET's backlog snapshot has rows
        for call in [c for c in duck.tenant.collections["calls"].values()
                     if c.get("selected_menu")][:3]:
            call["status"] = "queued"
    duck.run(transform="UTC")
    postgres.run(transform="UTC")
    with SandboxServer(Account(seed=5), SandboxOptions()) as chatwoot:
        for h in (duck, postgres):
            load_chatwoot(h, chatwoot)
    with AlvariaSandbox(Organisation(seed=5)) as alvaria:
        # the same two snapshots, with the same work done between them, into each warehouse
        for h in (duck, postgres):
            load_alvaria(h, alvaria)
        alvaria.organisation.churn(40)
        for h in (duck, postgres):
            load_alvaria(h, alvaria)
    for h in (duck, postgres):
        load_genesys(h, tmp_path / f"spool-{h.kind}")

    answered = 0
    for name, sql in examples():
        on_duckdb = answer(duck, sql)
        on_postgres = answer(postgres, sql)
        assert on_duckdb == on_postgres, f"{name} answers differently:\n{sql}"
        answered += bool(on_duckdb)
    # a query that returns nothing on both would prove little: most must return rows
    assert answered >= len(examples()) - 1, "the documented queries found almost no data"

    # the same Chatwoot account in both warehouses: its facts alike, cell by cell (UJET's are
    # compared in test_destinations.py; Alvaria's and Genesys' carry each run's own clock)
    for mart in SAME_DATA_MARTS:
        sql = f"select * from contact_center.{mart} where source = 'chatwoot'"
        on_duckdb, on_postgres = answer(duck, sql), answer(postgres, sql)
        assert on_duckdb == on_postgres, f"{mart}: Chatwoot's rows differ"
        assert on_duckdb or mart in ("fct_agent_status_daily",), f"{mart}: no Chatwoot rows"

    # Alvaria's and Genesys' facts alike too, but for the columns that carry ccelt's own
    # clock (when a snapshot was taken, a notification received): the two warehouses' runs
    # saw the same data seconds apart, and differ there and nowhere else
    for mart in MARTS:
        with duck.warehouse() as warehouse:
            names = [d[0] for d in warehouse.execute(
                f"select * from contact_center.{mart} where 1 = 0").description]
        for source, clocked in CLOCK_COLUMNS.items():
            columns = ", ".join(n for n in names if n not in clocked.get(mart, ()))
            sql = f"select {columns} from contact_center.{mart} where source = '{source}'"
            on_duckdb, on_postgres = answer(duck, sql), answer(postgres, sql)
            assert on_duckdb == on_postgres, f"{mart}: {source}'s rows differ"

    # the incremental builds of all four sources equal a full rebuild, on both engines
    for h in (duck, postgres):
        raw = [h.raw_source()] + [RawSource(name, name, dataset) for name, dataset in h.others.items()]
        build(h.pipeline(), h.settings("UTC", suffix="_full"), sources=raw, full_refresh=True)
        with h.warehouse() as warehouse:
            assert_marts_equal(warehouse)

    # and the clocked columns are right in Postgres too: Genesys' facts there equal what its
    # own raw tables there say (tests/e2e/test_genesys_facts.py's expectations)
    in_postgres = RowsOf(postgres)
    assert_contacts_match(in_postgres)
    assert_events_match(in_postgres)

    # one model across vendors: every fact table holds rows of every source that has such data
    for h in (duck, postgres):
        for mart in MARTS:
            sources = {row[0] for row in answer(h, f"select distinct source from contact_center.{mart}")}
            assert sources == {"ujet", "chatwoot", "alvaria", "genesys"} - NO_SUCH_DATA.get(mart, set()), (
                h.kind, mart, sources)


class RowsOf:
    """A harness's warehouse read as the Genesys facts test reads DuckDB: rows as dicts,
    times in UTC."""

    def __init__(self, h: Harness) -> None:
        self.h = h

    def rows(self, sql: str) -> list[dict[str, Any]]:
        with self.h.warehouse() as warehouse:
            cursor = warehouse.execute(sql)
            names = [d[0] for d in cursor.description]
            return [{k: v.astimezone(timezone.utc) if isinstance(v, datetime) and v.tzinfo else v
                     for k, v in zip(names, row)} for row in cursor.fetchall()]


CLOCK_COLUMNS: dict[str, dict[str, tuple[str, ...]]] = {
    "alvaria": {
        "fct_contacts": ("ended_at", "updated_at"),   # the snapshot that saw it gone / last saw it
        "fct_agent_daily": ("local_date",),           # the date of that snapshot
        "fct_contact_events": ("event_at",),          # changes are dated by the snapshot that saw them
        "fct_queue_backlog": ("snapshot_at", "oldest_age_seconds"),
    },
    "genesys": {
        # accepted, completed, last notified: when ccelt received those notifications
        "fct_contacts": ("assigned_at", "ended_at", "updated_at", "queue_seconds"),
        "fct_queue_interval": ("queue_seconds", "max_queue_seconds", "answered_queue_seconds",
                               "asa_seconds"),
        "fct_agent_daily": ("local_date",),
        "fct_contact_events": ("event_at",),
        "fct_queue_backlog": ("snapshot_at", "oldest_age_seconds"),
    },
}
"""Per source and mart, the columns computed from ccelt's clock rather than the vendor's."""

NO_SUCH_DATA: dict[str, set[str]] = {
    # docs/metrics.md: only UJET's API gives agent status history; UJET reports durations,
    # not lifecycle events; agents are listed by UJET and mentioned by the others
    "fct_agent_status_daily": {"chatwoot", "alvaria", "genesys"},
    "fct_contact_events": {"ujet"},
}
"""The facts a vendor's API has no data for (docs/metrics.md, "Across sources")."""


@pytest.mark.parametrize("name, sql", examples(), ids=[name for name, _ in examples()])
def test_a_documented_query_has_no_engine_specific_shortcut(name: str, sql: str) -> None:
    # DuckDB-only conveniences that Postgres rejects
    assert not re.search(r"group by all|order by all|\bqualify\b|::\w+\[\]", sql, flags=re.I), name
