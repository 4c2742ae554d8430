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
from transforms.settings import load_settings

logger = logging.getLogger(__name__)

DEMO_PIPELINE = "ujet_demo"
DEMO_RATE = 10.0
"""Requests per second for sandbox and client alike (later CCAI documentation's figure)."""

QUERIES = {
    "Raw tables: contacts by channel and status": """
        select 'call' as channel, status, count(*) as contacts from ujet.calls group by all
        union all select 'chat', status, count(*) from ujet.chats group by all
        union all select 'email', email_status, count(*) from ujet.emails group by all
        order by channel, contacts desc""",
    "Yesterday's service level per queue (contact_center.fct_queue_interval)": """
        select channel, menu_path, sum(entries) as entries, sum(answered) as answered,
               round(100.0 * sum(in_sla) / nullif(sum(in_sla) + sum(not_in_sla), 0), 1)
                 as service_level_pct,
               round(sum(answered_queue_seconds) / nullif(sum(answered), 0), 1) as asa_seconds
        from contact_center.fct_queue_interval
        where cast(interval_start as date) = current_date - 1
        group by all order by channel, entries desc""",
    "Yesterday's top agents by handled contacts (contact_center.fct_agent_daily)": """
        select a.first_name || ' ' || a.last_name as agent, d.channel, d.handled,
               round(d.aht_seconds) as aht_seconds, d.transfers_out, d.transfers_in
        from contact_center.fct_agent_daily d
        join contact_center.dim_agents a using (agent_id)
        where d.local_date = current_date - 1
        order by d.handled desc, agent limit 5""",
}


def run_demo(database: str, show: Callable[[str], None]) -> list[RunSummary]:
    """Backfills a sandbox tenant, lets it change, loads again incrementally, shows results."""
    settings = load_settings()
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
                                  source_args=args, transform=settings))
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
                                  source_args=args, transform=settings))
        show(format_summary(summaries[-1], "2. incremental run"))
    with duckdb.connect(database, read_only=True) as connection:
        connection.execute(f"set timezone = '{settings.reporting_timezone}'")
        for title, sql in QUERIES.items():
            show(f"\n{title}:\n{connection.sql(sql)}")
    show(f"Explore it yourself: raw tables are in schema '{DATASET_NAME}' and facts in"
         f" '{settings.dataset}' of {database}.")
    return summaries


def _start_fresh(database: str) -> None:
    """The sandbox is new every time, so the demo's warehouse and cursors must be too."""
    dlt.pipeline(DEMO_PIPELINE).drop()
    for path in (Path(database), Path(database + ".wal")):
        path.unlink(missing_ok=True)
