"""The Alvaria part of `ccelt demo`: a sandbox organisation, and a turn of its queue."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sources.alvaria.sandbox.organisation import Organisation, OrganisationSize
from sources.alvaria.sandbox.server import SandboxOptions, SandboxServer

RAW_QUERY = ("Raw tables: the Alvaria e-mail queue by state at each snapshot, and its changes", """
        select s.snapshot_at, s.emails_captured, s.requests, s.consistent,
               (select count(*) from alvaria.email_state_changes c
                where c.observed_at = s.snapshot_at) as changes_observed,
               (select count(*) from alvaria.email_state_changes c
                where c.observed_at = s.snapshot_at and c.to_state is null) as left_queue
        from alvaria.snapshots s
        order by s.snapshot_at""")
"""A look at the raw dataset (`alvaria.` is replaced by the demo's raw dataset name)."""


@dataclass
class DemoTenant:
    server: SandboxServer
    organisation: Organisation
    source_args: dict[str, Any]
    description: str

    def work(self) -> str:
        """Agents work the queue: routing, replies, transfers, completions, new e-mail."""
        changed = self.organisation.churn(25)
        return f"{len(set(changed))} e-mails changed, arrived or left"


@contextmanager
def demo_tenant(requests_per_second: float) -> Iterator[DemoTenant]:
    """An e-mail queue of 150 active e-mails on 127.0.0.1, and the source arguments to read it."""
    organisation = Organisation(seed=7, size=OrganisationSize(emails=150))
    with SandboxServer(organisation, SandboxOptions(page_cap=50)) as server:
        args = dict(server.source_args(), requests_per_second=max(requests_per_second, 20))
        yield DemoTenant(server, organisation, args,
                         f"Sandbox Alvaria organisation on {server.origin}: a live queue of"
                         " 150 e-mails across five work types, read 50 to a page.")
