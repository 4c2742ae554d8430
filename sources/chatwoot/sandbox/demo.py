"""The Chatwoot part of `ccelt demo`: a small sandbox account, and a turn of its working day."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sources.chatwoot.sandbox.account import Account, AccountSize
from sources.chatwoot.sandbox.server import SandboxOptions, SandboxServer

RAW_QUERY = ("Raw tables: Chatwoot conversations by channel and status, with their messages", """
        select c.channel, c.status, count(distinct c.id) as conversations,
               count(m.id) as messages
        from chatwoot.conversations c
        left join chatwoot.messages m on m.conversation_id = c.id
        group by c.channel, c.status
        order by c.channel, conversations desc""")
"""A look at the raw dataset (`chatwoot.` is replaced by the demo's raw dataset name)."""


@dataclass
class DemoTenant:
    server: SandboxServer
    account: Account
    source_args: dict[str, Any]
    description: str

    def work(self) -> str:
        """Agents keep working: replies, resolutions, labels, receipts, an SLA miss."""
        changed = self.account.churn(6, ("new_message",))
        changed += self.account.churn(3, ("change_status", "change_labels"))
        changed += self.account.churn(3, ("receipt", "change_attributes", "sla_miss"))
        self.account.new_conversation()
        return f"{len(set(changed))} conversations changed, 1 new"


@contextmanager
def demo_tenant(requests_per_second: float) -> Iterator[DemoTenant]:
    """A fortnight of a small support team on 127.0.0.1, and the source arguments to read it."""
    account = Account(seed=7, size=AccountSize())
    options = SandboxOptions()
    with SandboxServer(account, options) as server:
        args = dict(base_url=server.base_url, account_id=account.account_id,
                    api_access_token=options.api_access_token,
                    requests_per_second=max(requests_per_second, 20))
        yield DemoTenant(server, account, args,
                         f"Sandbox Chatwoot account on {server.base_url}: a fortnight of a small"
                         " support team's conversations.")
