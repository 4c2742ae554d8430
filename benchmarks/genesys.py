"""Measure 10: how soon a Genesys notification is queryable, and memory over a long listen
(issue 16).

The sandbox GWS site runs in this process (so its record of when it wrote each notification
to ccelt is at hand); its world changes `per_second` times a second, each change one
notification. `ccelt run genesys --duration S --no-transform` listens to it in its own
process, loading every `load_every` (5) seconds. A notification is queryable once the load
that carried it is committed: `_dlt_loads.inserted_at` of its row's `_dlt_load_id`. So its
latency is that time minus the moment the server wrote it, which needs no reader polling the
warehouse (DuckDB lets one process write a file at a time). Memory: the process's PSS every
0.1 s, by tenths of the run.
"""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass, field

from benchmarks.harness import PROJECT_ROOT, Finished, ccelt, read_only, run_measured, workdir
from sources.genesys.sandbox.server import SandboxOptions, SandboxServer
from sources.genesys.sandbox.world import World

LOAD_EVERY = 5.0


@dataclass
class GenesysListen:
    seconds: float
    per_second: float
    run: Finished
    latencies: list[float] = field(default_factory=list)
    delivered: int = 0
    loaded: int = 0

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0

    @property
    def median(self) -> float:
        return statistics.median(self.latencies) if self.latencies else 0.0


def genesys_listen(seconds: float, per_second: float = 50.0) -> GenesysListen:
    world = World(seed=5)
    world.steps(40)
    server = SandboxServer(world, SandboxOptions(poll_timeout=10.0, password="bench-pw")).start()
    try:
        with workdir("genesys") as folder:
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith(("SOURCES__", "DESTINATION__", "TRANSFORMS__"))}
            env.update({"PYTHONPATH": str(PROJECT_ROOT), "DLT_DATA_DIR": str(folder / "dlt"),
                   "SOURCES__GENESYS__BASE_URL": server.base_url,
                   "SOURCES__GENESYS__USERNAME": server.options.username,
                   "SOURCES__GENESYS__PASSWORD": server.options.password,
                   "SOURCES__GENESYS__ALLOW_INSECURE_HTTP": "true",
                   "SOURCES__GENESYS__LOAD_EVERY": str(LOAD_EVERY),
                   "DESTINATION__WAREHOUSE__CREDENTIALS": str(folder / "warehouse.duckdb")})
            command, report = ccelt(folder, "run", "genesys", "--duration", f"{seconds:g}",
                                    "--no-transform")
            server.run_world(per_second)
            run = run_measured(command, env, folder, report).check("genesys listen")
            server.pause_world()
            result = GenesysListen(seconds, per_second, run)
            _latencies(result, server, folder / "warehouse.duckdb")
            return result
    finally:
        server.stop()


def _latencies(result: GenesysListen, server: SandboxServer, database: object) -> None:
    written = {str(d.message.get("id")): d.at for d in server.delivered if d.message.get("id")}
    with read_only(database) as connection:
        rows = connection.execute(
            "select e.message_id, epoch(l.inserted_at) from genesys.interaction_events e"
            " join genesys._dlt_loads l on l.load_id = e._dlt_load_id").fetchall()
    result.delivered = len(written)
    result.loaded = len(rows)
    result.latencies = [float(at) - written[message_id] for message_id, at in rows
                        if message_id in written]
