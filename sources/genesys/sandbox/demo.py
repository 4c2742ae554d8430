"""The Genesys part of `ccelt demo`: a sandbox GWS site whose e-mail world keeps changing,
listened to for a few seconds at a time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sources.genesys.sandbox.server import SandboxOptions, SandboxServer
from sources.genesys.sandbox.world import World

LISTEN_SECONDS = 4.0

RAW_QUERY = ("Raw tables: Genesys notifications by state, and the interactions in the user's"
             " list now", """
        select e.state, count(*) as notifications,
               (select count(*) from genesys.interactions i
                where i.state = e.state and i.is_active) as active_now
        from genesys.interaction_events e
        group by e.state order by notifications desc""")
"""A look at the raw dataset (`genesys.` is replaced by the demo's raw dataset name)."""


@dataclass
class DemoTenant:
    server: SandboxServer
    world: World
    source_args: dict[str, Any]
    description: str

    def work(self) -> str:
        return (f"the user's e-mail kept moving ({len(self.world.emitted)} notifications sent so"
                " far); the next run listens again")


@contextmanager
def demo_tenant(requests_per_second: float) -> Iterator[DemoTenant]:
    """A GWS site on 127.0.0.1 changing ten times a second, and the arguments to listen to it."""
    world = World(seed=11)
    world.steps(25)
    with SandboxServer(world, SandboxOptions(poll_timeout=1.0)) as server:
        server.run_world(10.0)
        args = {"base_url": server.base_url, "username": server.options.username,
                "password": server.options.password, "allow_insecure_http": True,
                "listen_seconds": LISTEN_SECONDS}
        yield DemoTenant(server, world, args,
                         f"Sandbox Genesys Workspace site on {server.base_url}: one user's e-mail"
                         " interactions, notified over CometD ten times a second; each run"
                         f" listens for {LISTEN_SECONDS:g} s.")
