"""`ccelt demo`: every registered source end to end against its local sandbox tenant.

It runs the same `run_source` a scheduled job runs, but with its own pipeline names
(`<source>_demo`) and DuckDB file, so it never touches the state of a real tenant's pipeline.
Each source's sandbox package has a `demo` module: its tenant, a turn of its working day, and
a look at its raw tables.
"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dlt
import duckdb

from pipelines.registry import SOURCES, SourceInstance
from pipelines.runner import RunSummary, run_source
from pipelines.summary import format_summary
from pipelines.warehouse import duckdb_warehouse, facts_pipeline
from transforms.settings import load_settings

logger = logging.getLogger(__name__)

DEMO_RATE = 10.0
"""Requests per second for sandbox and client alike (later CCAI documentation's figure)."""

QUERIES = {
    "Yesterday's service level per queue (contact_center.fct_queue_interval)": """
        select source, channel, queue_name, sum(entries) as entries, sum(answered) as answered,
               round(100.0 * sum(in_sla) / nullif(sum(in_sla) + sum(not_in_sla), 0), 1)
                 as service_level_pct,
               round(sum(answered_queue_seconds) / nullif(sum(answered), 0), 1) as asa_seconds
        from contact_center.fct_queue_interval
        where cast(interval_start as date) = current_date - 1
        group by source, channel, queue_name order by source, channel, entries desc""",
    "The backlog at each source's latest snapshot (contact_center.fct_queue_backlog)": """
        select b.source, b.channel, sum(b.waiting) as waiting, sum(b.in_progress) as in_progress,
               round(max(b.oldest_age_seconds) / 60) as oldest_minutes
        from contact_center.fct_queue_backlog b
        where b.snapshot_at = (select max(snapshot_at) from contact_center.fct_queue_backlog l
                               where l.source = b.source)
        group by b.source, b.channel order by b.source, b.channel""",
    "Yesterday's top agents by contacts handled (contact_center.fct_agent_daily)": """
        select d.source, a.first_name || ' ' || a.last_name as agent, d.channel,
               d.contacts_handled, d.handled as segments_handled,
               round(d.aht_seconds) as aht_seconds, d.transfers_out, d.transfers_in
        from contact_center.fct_agent_daily d
        join contact_center.dim_agents a on a.source = d.source and a.agent_id = d.agent_id
        where d.local_date = current_date - 1
        order by d.contacts_handled desc, agent limit 5""",
}


def run_demo(database: str, show: Callable[[str], None]) -> list[RunSummary]:
    """Backfills each source's sandbox tenant, lets it change, loads again incrementally,
    and shows results."""
    settings = load_settings()
    destination = duckdb_warehouse(database)
    summaries = []
    _start_fresh(database, [f"{name}_demo" for name in SOURCES])
    raw_queries: list[tuple[str, str]] = []
    for spec in SOURCES.values():
        instance = SourceInstance(spec)
        pipeline = f"{spec.name}_demo"
        demo = importlib.import_module(f"{spec.sandbox.rsplit('.', 1)[0]}.demo")
        with demo.demo_tenant(DEMO_RATE) as tenant:
            show(tenant.description + "\n")
            summaries.append(run_source(instance, pipeline_name=pipeline, destination=destination,
                                        source_args=tenant.source_args, transform=settings))
            show(format_summary(summaries[-1], f"{spec.name}: 1. backfill"))
            show(f"\nThe tenant worked on: {tenant.work()}.\n")
            summaries.append(run_source(instance, pipeline_name=pipeline, destination=destination,
                                        source_args=tenant.source_args, transform=settings))
            show(format_summary(summaries[-1], f"{spec.name}: 2. incremental run"))
        title, sql = demo.RAW_QUERY
        raw_queries.append((title, re.sub(rf"\b{spec.name}\.", f"{instance.dataset_name}.", sql)))
    with duckdb.connect(database, read_only=True) as connection:
        connection.execute(f"set timezone = '{settings.reporting_timezone}'")
        for title, sql in [*raw_queries, *QUERIES.items()]:
            show(f"\n{title}:\n{connection.sql(sql)}")
    datasets = ", ".join(f"'{name}'" for name in SOURCES)
    report = write_demo_report(database, destination, settings)
    show(f"Explore it yourself: raw tables are in schema(s) {datasets} and facts in"
         f" '{settings.dataset}' of {database}.")
    show(f"The report, charts of those facts in one HTML file that opens offline:"
         f" {report.resolve()}")
    return summaries


def write_demo_report(database: str, destination: Any, settings: Any) -> Path:
    """`ccelt report` for the demo warehouse, beside it: `ccelt_demo_report.html`."""
    from pipelines.report import write_report

    out = Path(database).with_name(Path(database).stem + "_report.html")
    pipeline = facts_pipeline(destination, settings.dataset, "ccelt_demo_report")
    write_report(pipeline, settings, out, days=14, sources=None,
                 warehouse=f"the demo's DuckDB file {database}")
    return out


def _start_fresh(database: str, pipelines: list[str]) -> None:
    """The sandbox is new every time, so the demo's warehouse and cursors must be too."""
    for name in pipelines:
        dlt.pipeline(name).drop()
    for path in (Path(database), Path(database + ".wal")):
        path.unlink(missing_ok=True)
