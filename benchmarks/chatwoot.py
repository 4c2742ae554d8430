"""Measure 7: the Chatwoot source's cost in requests and time (issue 14).

A sandbox account in its own process, read by `ccelt run chatwoot` at a request budget below
the account's rate limit: the backfill's requests against their floor (every list page, and
one request per thread of up to 1,000 messages) and its wall time against requests ÷ rate;
then a run with nothing changed, whose floor is the window's one answer plus the pages of each
unresolved status's list down to its oldest conversation with an SLA policy.
"""

from __future__ import annotations

import math
import os
import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from benchmarks.harness import (Finished, PROJECT_ROOT, ccelt, free_port, read_only, run_measured,
                                start_sandbox, stop_sandbox, workdir)

LIST_PAGE = 25
THREAD_CHUNK = 1000


@dataclass
class ChatwootSandbox:
    """`ccelt sandbox chatwoot` in its own process."""

    conversations: int
    days: float
    requests_per_second: float
    token: str = field(default_factory=lambda: secrets.token_hex(12))
    port: int = field(default_factory=free_port)
    process: Optional[subprocess.Popen[str]] = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ChatwootSandbox:
        self.process = start_sandbox(
            "chatwoot", ["--port", str(self.port), "--token", self.token, "--conversations",
                         str(self.conversations), "--days", str(self.days),
                         "--requests-per-second", str(self.requests_per_second)],
            "Chatwoot sandbox account")
        return self

    def __exit__(self, *exc_info: object) -> None:
        stop_sandbox(self.process)


@dataclass
class ChatwootRuns:
    rate: float
    conversations: int
    backfill: Finished
    unchanged: Finished
    backfill_floor: int
    unchanged_floor: int

    @property
    def backfill_requests(self) -> int:
        return int((self.backfill.report or {})["requests"])

    @property
    def unchanged_requests(self) -> int:
        return int((self.unchanged.report or {})["requests"])

    @property
    def wall_ratio(self) -> float:
        return self.backfill.seconds / (self.backfill_requests / self.rate)

    def by_endpoint(self, run: Finished) -> dict[str, Any]:
        return dict((run.report or {}).get("requests_by_endpoint", {}))


def chatwoot_runs(rate: float, conversations: int, days: float = 30) -> ChatwootRuns:
    """A backfill at `rate` requests/s of an account of `conversations`, then an unchanged run.

    The account allows 50 requests a second (Chatwoot Cloud's 3,000 a minute), above the
    budget, so the budget and not refusals sets the pace, as a user would configure it.
    """
    with ChatwootSandbox(conversations, days, requests_per_second=50) as sandbox, \
            workdir("chatwoot") as folder:
        env = _env(sandbox, folder, rate)
        command, report = ccelt(folder, "run", "chatwoot", "--no-transform")
        backfill = run_measured(command, env, folder, report).check("chatwoot backfill")
        command, report = ccelt(folder, "run", "chatwoot", "--no-transform")
        unchanged = run_measured(command, env, folder, report).check("chatwoot unchanged run")
        backfill_floor, unchanged_floor = _floors(folder / "warehouse.duckdb")
    return ChatwootRuns(rate, conversations, backfill, unchanged, backfill_floor, unchanged_floor)


def _env(sandbox: ChatwootSandbox, folder: Path, rate: float) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SOURCES__", "DESTINATION__", "TRANSFORMS__"))}
    env.update({
        "PYTHONPATH": str(PROJECT_ROOT),
        "DLT_DATA_DIR": str(folder / "dlt"),
        "SOURCES__CHATWOOT__BASE_URL": sandbox.base_url,
        "SOURCES__CHATWOOT__ACCOUNT_ID": "1",
        "SOURCES__CHATWOOT__API_ACCESS_TOKEN": sandbox.token,
        "SOURCES__CHATWOOT__REQUESTS_PER_SECOND": str(rate),
        "DESTINATION__WAREHOUSE__CREDENTIALS": str(folder / "warehouse.duckdb"),
    })
    return env


def _floors(database: Path) -> tuple[int, int]:
    """The fewest requests a complete backfill and an unchanged run can take, from what the
    warehouse holds (every conversation was loaded, so it is the account)."""
    with read_only(database) as connection:
        conversations = connection.execute("select count(*) from chatwoot.conversations").fetchone()[0]
        threads = connection.execute(
            "select coalesce(sum(n // 1000 + 1), 0) from (select c.id, count(m.id) as n"
            " from chatwoot.conversations c left join chatwoot.messages m"
            " on m.conversation_id = c.id group by c.id)").fetchone()[0]
        # the SLA pass pages an unresolved status's list, newest first, down to its oldest
        # watched conversation (one with an SLA policy)
        watched = connection.execute(
            "select status, count(*) from chatwoot.conversations c where status <> 'resolved'"
            " and created_at >= (select min(created_at) from chatwoot.conversations w"
            " where w.status = c.status and w.sla_policy_id is not null)"
            " group by status").fetchall()
    backfill = math.ceil(conversations / LIST_PAGE) + int(threads)
    unchanged = 1 + sum(math.ceil(count / LIST_PAGE) for _, count in watched)
    return backfill, unchanged
