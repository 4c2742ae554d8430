"""Real pipelines against sandbox tenants on 127.0.0.1, into a throwaway DuckDB file.

Fixtures build tenants and sandboxes; expected answers are worked out in the tests from
the sandbox's own records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

import dlt
import duckdb
import pytest

from pipelines.ujet import RunSummary, run_ujet
from sources.ujet.sandbox.server import SandboxOptions, SandboxServer
from sources.ujet.sandbox.tenant import Tenant, TenantSize
from transforms.settings import TransformSettings

pytestmark = pytest.mark.e2e

SMALL = TenantSize(days=3, agents=12, calls=220, chats=110, emails=50)


@pytest.fixture(autouse=True)
def isolated_dlt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own dlt data dir (pipelines, state) and working directory."""
    data_dir = tmp_path / "dlt"
    monkeypatch.setenv("DLT_DATA_DIR", str(data_dir))
    monkeypatch.chdir(tmp_path)
    return data_dir


@dataclass
class Harness:
    """A sandbox tenant plus a pipeline pointed at it."""

    tenant: Tenant
    sandbox: SandboxServer
    database: Path
    pipeline_name: str = "ujet"
    page_size: int = 100
    lookback: int = 600

    def source_args(self, **overrides: Any) -> dict[str, Any]:
        """`ujet_source` arguments that point at the sandbox, fast retries included."""
        args = dict(subdomain=self.sandbox.options.subdomain,
                    api_token=self.sandbox.options.api_token,
                    base_url=self.sandbox.base_url, requests_per_second=500,
                    page_size=self.page_size, lookback=self.lookback, retry_backoff=0.01,
                    start_date="2015-01-01")
        args.update(overrides)
        return args

    def run(self, transform: Optional[TransformSettings] = None, **source_args: Any) -> RunSummary:
        return run_ujet(pipeline_name=self.pipeline_name, destination=self.destination(),
                        source_args=self.source_args(**source_args), transform=transform)

    def pipeline(self) -> dlt.Pipeline:
        return dlt.pipeline(self.pipeline_name, destination=self.destination(), dataset_name="ujet")

    def destination(self) -> Any:
        return dlt.destinations.duckdb(str(self.database), destination_name="warehouse")

    @contextmanager
    def warehouse(self) -> Iterator[duckdb.DuckDBPyConnection]:
        connection = duckdb.connect(str(self.database))
        try:
            yield connection
        finally:
            connection.close()

    def frozen_bound(self, kind: str = "calls") -> datetime:
        """The `updated_at[to]` the last run sent: the instant its data is exact as of."""
        sent = [r.param("updated_at[to]") for r in self.sandbox.requests
                if r.path == kind and r.param("updated_at[to]")]
        assert sent, f"no {kind} request carried updated_at[to]"
        return _parse(sent[-1])


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    servers: list[SandboxServer] = []

    def make(size: TenantSize = SMALL, seed: int = 7, page_size: int = 100,
             lookback: int = 600, tenant: Optional[Tenant] = None, **options: Any) -> Harness:
        server = SandboxServer(tenant or Tenant(seed=seed, size=size),
                               SandboxOptions(**options)).start()
        servers.append(server)
        return Harness(server.tenant, server, tmp_path / "warehouse.duckdb",
                       page_size=page_size, lookback=lookback)

    yield make
    for server in servers:
        server.stop()


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
