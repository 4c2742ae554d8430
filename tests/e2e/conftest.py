"""Real pipelines against sandbox tenants on 127.0.0.1, into DuckDB files or PostgreSQL.

Fixtures build tenants and sandboxes; expected answers are worked out in the tests from
the sandbox's own records. A PostgreSQL harness gets its own schemas, dropped afterwards.
PostgreSQL is expected on 127.0.0.1:5432 (CCELT_TEST_POSTGRES_DSN overrides); without it the
Postgres variants skip, except when CCELT_REQUIRE_POSTGRES=1 (CI), where they fail.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

import dlt
import duckdb
import psycopg2
import pytest

from pipelines.registry import instance
from pipelines.runner import RunSummary, run_source
from transforms.dialect import RawSource
from sources.ujet.sandbox.server import SandboxOptions, SandboxServer
from sources.ujet.sandbox.tenant import Tenant, TenantSize
from tests.e2e import bigquery_emulator
from transforms.settings import TransformSettings

pytestmark = pytest.mark.e2e

SMALL = TenantSize(days=3, agents=12, calls=220, chats=110, emails=50)
# dlt wants a password in the DSN even where the server trusts local connections
POSTGRES_DSN = os.environ.get("CCELT_TEST_POSTGRES_DSN", "postgresql://postgres:unused@127.0.0.1:5432/test")
WAREHOUSES = ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]


def require_postgres() -> None:
    """Skips the test without a PostgreSQL server, or fails it where one is required."""
    try:
        psycopg2.connect(POSTGRES_DSN, connect_timeout=3).close()
    except psycopg2.OperationalError as exc:
        reason = f"PostgreSQL is not reachable at {POSTGRES_DSN.split('@')[-1]} ({' '.join(str(exc).split())})"
        if os.environ.get("CCELT_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason}, and CCELT_REQUIRE_POSTGRES=1 says it must be")
        pytest.skip(f"{reason}; start one or set CCELT_TEST_POSTGRES_DSN (CI always runs this)")


@pytest.fixture(autouse=True)
def isolated_dlt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own dlt data dir (pipelines, state) and working directory."""
    data_dir = tmp_path / "dlt"
    monkeypatch.setenv("DLT_DATA_DIR", str(data_dir))
    monkeypatch.chdir(tmp_path)
    return data_dir


class Warehouse:
    """One connection to the test's warehouse. Tests write SQL against `ujet.` and
    `contact_center.` with `?` parameters; this maps both to the harness's real names."""

    def __init__(self, kind: str, connection: Any, raw: str, facts: str,
                 others: Optional[dict[str, str]] = None) -> None:
        self.kind, self.connection, self.raw, self.facts = kind, connection, raw, facts
        self.others = others or {}
        """Other vendors' raw datasets by the name tests write (`chatwoot`)."""

    def execute(self, sql: str, params: Any = ()) -> Any:
        sql = re.sub(r"\bcontact_center_full\.", f"{self.facts}_full.", sql)
        sql = re.sub(r"\bcontact_center\.", f"{self.facts}.", sql)
        sql = re.sub(r"\bujet\.", f"{self.raw}.", sql)
        for written, real in self.others.items():
            sql = re.sub(rf"\b{written}\.", f"{real}.", sql)
        if self.kind == "duckdb":
            return self.connection.execute(sql, list(params))
        cursor = self.connection.cursor()
        if params:
            cursor.execute(sql.replace("%", "%%").replace("?", "%s"), tuple(params))
        else:
            cursor.execute(sql)  # psycopg2 reads % as a placeholder only when given parameters
        return cursor


    def raw_tables(self, prefix: str) -> list[str]:
        """Names of the raw dataset's tables that start with `prefix`."""
        # BigQuery keeps INFORMATION_SCHEMA per dataset; `like` would need escaping for `_`
        where = "information_schema.tables where table_schema = ? and"
        params: tuple[str, ...] = (self.raw,)
        if self.kind == "bigquery":
            where, params = f"{self.raw}.INFORMATION_SCHEMA.TABLES where", ()
        return sorted(name for (name,) in self.execute(
            f"select table_name from {where} starts_with(table_name, ?)",
            params + (prefix,)).fetchall())


@dataclass
class Harness:
    """A sandbox tenant plus a pipeline pointed at it, loading one warehouse."""

    tenant: Tenant
    sandbox: SandboxServer
    database: Path
    kind: str = "duckdb"
    raw_dataset: str = "ujet"
    facts_dataset: str = "contact_center"
    pipeline_name: str = "ujet"
    page_size: int = 100
    lookback: int = 600
    tenant_name: Optional[str] = None
    others: dict[str, str] = field(default_factory=dict)
    """Raw datasets of other vendors loaded into the same warehouse, by their usual name."""

    def source_args(self, **overrides: Any) -> dict[str, Any]:
        """`ujet_source` arguments that point at the sandbox, fast retries included."""
        args = dict(subdomain=self.sandbox.options.subdomain,
                    api_token=self.sandbox.options.api_token,
                    base_url=self.sandbox.base_url, requests_per_second=500,
                    page_size=self.page_size, lookback=self.lookback, retry_backoff=0.01,
                    start_date="2015-01-01")
        args.update(overrides)
        return args

    def settings(self, reporting_timezone: str = "UTC", suffix: str = "") -> TransformSettings:
        return TransformSettings(reporting_timezone, dataset=self.facts_dataset + suffix)

    def run(self, transform: Optional[str] = None, **source_args: Any) -> RunSummary:
        """Loads the sandbox; `transform` (a reporting zone) also builds the facts."""
        self.mark()
        return run_source(instance("ujet", self.tenant_name), pipeline_name=self.pipeline_name,
                          destination=self.destination(), dataset_name=self.raw_dataset,
                          source_args=self.source_args(**source_args),
                          transform=self.settings(transform) if transform else None)

    @property
    def source_name(self) -> str:
        """What the facts' `source` column says for this harness's rows."""
        return instance("ujet", self.tenant_name).name

    def raw_source(self) -> RawSource:
        return RawSource(self.source_name, "ujet", self.raw_dataset)

    def destination(self) -> Any:
        if self.kind == "postgres":
            return dlt.destinations.postgres(POSTGRES_DSN, destination_name="warehouse")
        if self.kind == "bigquery":
            return dlt.destinations.bigquery(credentials=bigquery_emulator.credentials(),
                                             location="US", destination_name="warehouse")
        return dlt.destinations.duckdb(str(self.database), destination_name="warehouse")

    def pipeline(self) -> dlt.Pipeline:
        return dlt.pipeline(self.pipeline_name, destination=self.destination(),
                            dataset_name=self.raw_dataset)

    @contextmanager
    def warehouse(self) -> Iterator[Warehouse]:
        if self.kind == "postgres":
            connection = psycopg2.connect(POSTGRES_DSN)
            connection.autocommit = True
        elif self.kind == "bigquery":
            from google.cloud.bigquery import dbapi

            connection = dbapi.connect(bigquery_emulator.client())
        else:
            connection = duckdb.connect(str(self.database))
        try:
            yield Warehouse(self.kind, connection, self.raw_dataset, self.facts_dataset, self.others)
        finally:
            connection.close()

    def mark(self) -> None:
        """A run starts now: `run_began` measures from the next request the sandbox gets."""
        self._mark = len(self.sandbox.requests)

    def run_began(self) -> datetime:
        """The sandbox's clock when the last run's first request arrived.

        A record the tenant last changed before then must be loaded exactly; one changed
        later may be missing or older (the next run reads it). Taken from the sandbox, not
        from the bound the client sent: a client that froze its bound too early would
        otherwise excuse itself for the records it missed.
        """
        requests = self.sandbox.requests[getattr(self, "_mark", 0):]
        assert requests, "no request reached the sandbox since the run began"
        assert requests[0].arrived_at is not None
        return requests[0].arrived_at

    def drop_datasets(self) -> None:
        if self.kind != "postgres":
            return
        with psycopg2.connect(POSTGRES_DSN) as connection, connection.cursor() as cursor:
            others = [name for dataset in self.others.values()
                      for name in (dataset, f"{dataset}_staging")]
            for schema in (self.raw_dataset, f"{self.raw_dataset}_staging", self.facts_dataset,
                           f"{self.facts_dataset}_full", *others):
                cursor.execute(f"drop schema if exists {schema} cascade")


@pytest.fixture(scope="module")
def bigquery_address() -> Iterator[str]:
    """A BigQuery emulator for the tests of one module (it takes a core's tenth while idle,
    so it does not outlive them); google's client goes there, not to Google."""
    with bigquery_emulator.running_emulator() as address:
        before = os.environ.get("BIGQUERY_EMULATOR_HOST")
        os.environ["BIGQUERY_EMULATOR_HOST"] = f"http://{address}"
        try:
            yield address
        finally:
            if before is None:
                os.environ.pop("BIGQUERY_EMULATOR_HOST", None)
            else:
                os.environ["BIGQUERY_EMULATOR_HOST"] = before


@pytest.fixture
def harness(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., Harness]]:
    servers: list[SandboxServer] = []
    harnesses: list[Harness] = []

    def make(size: TenantSize = SMALL, seed: int = 7, page_size: int = 100,
             lookback: int = 600, tenant: Optional[Tenant] = None, warehouse: str = "duckdb",
             sandbox: Optional[SandboxServer] = None, **options: Any) -> Harness:
        if sandbox is None:
            sandbox = SandboxServer(tenant or Tenant(seed=seed, size=size),
                                    SandboxOptions(**options)).start()
            servers.append(sandbox)
        if warehouse == "bigquery":
            request.getfixturevalue("bigquery_address")
            suffix = uuid.uuid4().hex[:8]
            h = Harness(sandbox.tenant, sandbox, tmp_path / "unused.duckdb", kind="bigquery",
                        raw_dataset=f"ujet_{suffix}", facts_dataset=f"cc_{suffix}",
                        pipeline_name=f"ujet_bq_{suffix}", page_size=page_size, lookback=lookback)
        elif warehouse == "postgres":
            require_postgres()
            suffix = uuid.uuid4().hex[:8]
            h = Harness(sandbox.tenant, sandbox, tmp_path / "unused.duckdb", kind="postgres",
                        raw_dataset=f"ujet_{suffix}", facts_dataset=f"cc_{suffix}",
                        pipeline_name=f"ujet_pg_{suffix}", page_size=page_size, lookback=lookback)
        else:
            h = Harness(sandbox.tenant, sandbox, tmp_path / f"warehouse{len(harnesses)}.duckdb",
                        pipeline_name=f"ujet{len(harnesses) or ''}", page_size=page_size,
                        lookback=lookback)
        harnesses.append(h)
        return h

    yield make
    for server in servers:
        server.stop()
    for h in harnesses:
        h.drop_datasets()
