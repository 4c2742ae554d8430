"""Measure 8: the Alvaria source's requests per snapshot against their floor (issue 15).

A sandbox organisation in its own process (`ccelt sandbox alvaria`), read by `ccelt run
alvaria --no-transform` a few times: once with the queue standing still, and once with
agents at work after every page served — changes anywhere, plus completions and
arrivals ahead of the page, which shift the list under the reader. The floor of a snapshot is
⌈active e-mails ÷ page cap⌉ + 1, the issue's figure. Also reported: the size of the state
each run stores (the last snapshot, compressed) per active e-mail.
"""

from __future__ import annotations

import math
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from benchmarks.harness import (PROJECT_ROOT, ccelt, free_port, read_only, run_measured,
                                start_sandbox, stop_sandbox, workdir)

RUNS = 4
"""Snapshots per condition; the first is the backfill (every e-mail new), counted the same."""


@dataclass(frozen=True)
class Snapshot:
    total_items: int
    captured: int
    requests: int
    passes: int
    consistent: bool
    relinked: int
    page_cap: int

    @property
    def floor(self) -> int:
        return math.ceil(self.total_items / self.page_cap) + 1


@dataclass
class AlvariaRuns:
    emails: int
    page_cap: int
    quiet: list[Snapshot]
    churning: list[Snapshot]
    state_bytes_per_email: float
    seconds_per_run: float

    @staticmethod
    def ratio(snapshots: list[Snapshot]) -> float:
        return sum(s.requests for s in snapshots) / sum(s.floor for s in snapshots)


class AlvariaSandbox:
    """`ccelt sandbox alvaria` in its own process."""

    def __init__(self, emails: int, page_cap: int, *extra: str) -> None:
        self.port = free_port()
        self.switches = ["--port", str(self.port), "--emails", str(emails), "--page-cap",
                         str(page_cap), "--requests-per-second", "0", "--client-secret",
                         "bench-secret", "--api-key", "bench-key", *extra]
        self.process: Optional[subprocess.Popen[str]] = None

    def __enter__(self) -> AlvariaSandbox:
        self.process = start_sandbox("alvaria", self.switches, "Alvaria sandbox organisation")
        return self

    def __exit__(self, *exc_info: object) -> None:
        stop_sandbox(self.process)

    def env(self, folder: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("SOURCES__", "DESTINATION__", "TRANSFORMS__"))}
        origin = f"http://127.0.0.1:{self.port}"
        env.update({
            "PYTHONPATH": str(PROJECT_ROOT),
            "DLT_DATA_DIR": str(folder / "dlt"),
            "SOURCES__ALVARIA__ORG_ID": "acme",
            "SOURCES__ALVARIA__BASE_URL": origin + "/via/v2/organizations/{org_id}",
            "SOURCES__ALVARIA__TOKEN_URL": origin + "/oauth2/token",
            "SOURCES__ALVARIA__CLIENT_ID": "ccelt-sandbox",
            "SOURCES__ALVARIA__CLIENT_SECRET": "bench-secret",
            "SOURCES__ALVARIA__API_KEY": "bench-key",
            "SOURCES__ALVARIA__REQUESTS_PER_SECOND": "50",
            "DESTINATION__WAREHOUSE__CREDENTIALS": str(folder / "warehouse.duckdb"),
        })
        return env


def alvaria_runs(emails: int, page_cap: int) -> AlvariaRuns:
    quiet, state, seconds = _snapshots(emails, page_cap)
    churning, _, _ = _snapshots(emails, page_cap, "--churn", "2", "--churn-before-offset", "1")
    return AlvariaRuns(emails, page_cap, quiet, churning, state, seconds)


def _snapshots(emails: int, page_cap: int, *switches: str) -> tuple[list[Snapshot], float, float]:
    with AlvariaSandbox(emails, page_cap, *switches) as sandbox, workdir("alvaria") as folder:
        env = sandbox.env(folder)
        seconds = 0.0
        for _ in range(RUNS):
            command, report = ccelt(folder, "run", "alvaria", "--no-transform")
            seconds += run_measured(command, env, folder, report).check("alvaria run").seconds
        return (*_read(folder / "warehouse.duckdb"), seconds / RUNS)


def _read(database: Path) -> tuple[list[Snapshot], float]:
    with read_only(database) as connection:
        rows: list[Any] = connection.execute(
            "select total_items, emails_captured, requests, passes, consistent, relinked_pages,"
            " page_cap from alvaria.snapshots order by snapshot_at").fetchall()
        state, active = connection.execute(
            "select length(s.state), (select count(*) from alvaria.emails where is_active)"
            " from alvaria._dlt_pipeline_state s order by s._dlt_load_id desc limit 1").fetchone()
    return [Snapshot(*row) for row in rows], state / max(1, active)
