"""`ccelt demo`: the UJET pipeline end to end against a local sandbox tenant.

It runs the same `run_ujet` a scheduled job runs, but with its own pipeline name
(`ujet_demo`) and DuckDB file, so it never touches the state of a real tenant's pipeline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import dlt
import duckdb

from pipelines.summary import format_summary
from pipelines.ujet import DATASET_NAME, RunSummary, run_ujet
from sources.ujet.sandbox.server import SandboxOptions, SandboxServer
from sources.ujet.sandbox.tenant import Tenant, TenantSize

logger = logging.getLogger(__name__)

DEMO_PIPELINE = "ujet_demo"
DEMO_RATE = 10.0
"""Requests per second for sandbox and client alike (later CCAI documentation's figure)."""

QUERIES = {
    "Contacts by channel and status": """
        select 'call' as channel, status, count(*) as contacts from ujet.calls group by all
        union all select 'chat', status, count(*) from ujet.chats group by all
        union all select 'email', email_status, count(*) from ujet.emails group by all
        order by channel, contacts desc""",
    "Handled time per agent (calls, top 5), joined on the natural call_id": """
        select h.agent_id, count(distinct h.call_id) as calls,
               sum(h.call_duration + h.acw_duration) as handle_seconds
        from ujet.calls__handle_durations h join ujet.calls c on c.id = h.call_id
        group by h.agent_id order by handle_seconds desc limit 5""",
    "Queue entries answered within target (calls)": """
        select menu_path, count(*) as entries,
               round(100.0 * count(*) filter (where service_level_event = 'in_sla')
                     / nullif(count(*) filter (where service_level_event <> 'excluded'), 0), 1)
                 as sla_percent
        from ujet.calls__queue_durations group by menu_path order by entries desc""",
}


def run_demo(database: str, show: Callable[[str], None]) -> list[RunSummary]:
    """Backfills a sandbox tenant, lets it change, loads again incrementally, shows results."""
    tenant = Tenant(seed=7, size=TenantSize())
    options = SandboxOptions(requests_per_second=DEMO_RATE, burst=2)
    _start_fresh(database)
    destination = dlt.destinations.duckdb(database, destination_name="warehouse")
    summaries = []
    with SandboxServer(tenant, options) as sandbox:
        args = dict(subdomain=options.subdomain, api_token=options.api_token,
                    base_url=sandbox.base_url, requests_per_second=DEMO_RATE,
                    sla_minutes=24 * 60)
        show(f"Sandbox UJET tenant on {sandbox.base_url}: a week of a small contact center.\n")
        summaries.append(run_ujet(pipeline_name=DEMO_PIPELINE, destination=destination,
                                  source_args=args))
        show(format_summary(summaries[-1], "1. backfill"))

        # the contact center keeps working: new contacts, late ratings and wrap-ups,
        # transfers, a corrected segment, agents changing status
        tenant.create("calls", 12)
        tenant.create("chats", 6)
        tenant.touch("calls", 20)
        tenant.touch("emails", 4)
        tenant.advance_activity()
        show("\nThe tenant worked on: 18 new contacts, 24 changed, agents changed status.\n")
        summaries.append(run_ujet(pipeline_name=DEMO_PIPELINE, destination=destination,
                                  source_args=args))
        show(format_summary(summaries[-1], "2. incremental run"))
    with duckdb.connect(database, read_only=True) as connection:
        for title, sql in QUERIES.items():
            show(f"\n{title}:\n{connection.sql(sql)}")
    show(f"Explore it yourself: the tables are in schema '{DATASET_NAME}' of {database}.")
    return summaries


def _start_fresh(database: str) -> None:
    """The sandbox is new every time, so the demo's warehouse and cursors must be too."""
    dlt.pipeline(DEMO_PIPELINE).drop()
    for path in (Path(database), Path(database + ".wal")):
        path.unlink(missing_ok=True)
