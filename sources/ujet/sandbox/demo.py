"""The UJET part of `ccelt demo`: a small sandbox tenant, and a turn of its working day."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sources.ujet.sandbox.server import SandboxOptions, SandboxServer
from sources.ujet.sandbox.tenant import Tenant, TenantSize

RAW_QUERY = ("Raw tables: contacts by channel and status", """
        select 'call' as channel, status, count(*) as contacts from ujet.calls group by status
        union all select 'chat', status, count(*) from ujet.chats group by status
        union all select 'email', email_status, count(*) from ujet.emails group by email_status
        order by channel, contacts desc""")
"""A look at the raw dataset (`ujet.` is replaced by the demo's raw dataset name)."""


@dataclass
class DemoTenant:
    server: SandboxServer
    tenant: Tenant
    source_args: dict[str, Any]
    description: str

    def work(self) -> str:
        """The contact center keeps working: new contacts, late ratings and wrap-ups,
        transfers, a corrected segment, agents changing status. Says what changed."""
        self.tenant.create("calls", 12)
        self.tenant.create("chats", 6)
        self.tenant.touch("calls", 20)
        self.tenant.touch("emails", 4)
        self.tenant.advance_activity()
        return "18 new contacts, 24 changed, agents changed status"


@contextmanager
def demo_tenant(requests_per_second: float) -> Iterator[DemoTenant]:
    """A week of a small contact center on 127.0.0.1, and the source arguments to read it."""
    tenant = Tenant(seed=7, size=TenantSize())
    options = SandboxOptions(requests_per_second=requests_per_second, burst=2)
    with SandboxServer(tenant, options) as server:
        args = dict(subdomain=options.subdomain, api_token=options.api_token,
                    base_url=server.base_url, requests_per_second=requests_per_second,
                    sla_minutes=24 * 60)
        yield DemoTenant(server, tenant, args,
                         f"Sandbox UJET tenant on {server.base_url}: a week of a small contact"
                         " center.")
