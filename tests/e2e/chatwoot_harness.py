"""A sandbox Chatwoot account and a pipeline pointed at it, for the Chatwoot tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import dlt
import duckdb
import pytest

from pipelines.registry import instance
from pipelines.runner import RunSummary, run_source
from sources.chatwoot.sandbox.account import Account, AccountSize
from sources.chatwoot.sandbox.server import SandboxOptions, SandboxServer
from tests.e2e.chatwoot_exactness import assert_exact
from transforms.dialect import RawSource
from transforms.settings import TransformSettings

SMALL = AccountSize(days=10, conversations=70, agents=6, contacts=40, long_threads=2,
                    long_thread_messages=1050)
"""Small, but with two threads longer than one 1,000-message answer of the messages endpoint
and more than two 25-row pages of the list."""


@dataclass
class Chatwoot:
    account: Account
    server: SandboxServer
    database: Path

    def destination(self) -> Any:
        return dlt.destinations.duckdb(str(self.database), destination_name="warehouse")

    def pipeline(self) -> dlt.Pipeline:
        return dlt.pipeline("chatwoot", destination=self.destination(), dataset_name="chatwoot")

    def raw_source(self) -> RawSource:
        return RawSource("chatwoot", "chatwoot", "chatwoot")

    def run(self, transform: Optional[str] = None, suffix: str = "", **overrides: Any) -> RunSummary:
        """Loads the account; `transform` (a reporting zone) also builds the facts."""
        args = dict(base_url=self.server.base_url, account_id=self.account.account_id,
                    api_access_token=self.server.options.api_access_token,
                    requests_per_second=1000, retry_backoff=0.01)
        args.update(overrides)
        settings = (TransformSettings(transform, dataset="contact_center" + suffix)
                    if transform else None)
        return run_source(instance("chatwoot"), destination=self.destination(),
                          source_args=args, transform=settings)

    def assert_exact(self) -> None:
        with duckdb.connect(str(self.database), read_only=True) as connection:
            assert_exact(connection, self.account)


@pytest.fixture
def chatwoot(tmp_path: Path) -> Iterator[Callable[..., Chatwoot]]:
    servers: list[SandboxServer] = []

    def make(size: AccountSize = SMALL, seed: int = 7, **options: Any) -> Chatwoot:
        account = Account(seed=seed, size=size)
        server = SandboxServer(account, SandboxOptions(**options)).start()
        servers.append(server)
        return Chatwoot(account, server, tmp_path / f"chatwoot{len(servers)}.duckdb")

    yield make
    for server in servers:
        server.stop()
