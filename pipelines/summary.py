"""The closing report of a run, as the user reads it."""

from __future__ import annotations

import dataclasses
from typing import Any

from pipelines.runner import RunSummary
from transforms.runner import BuildResult
from transforms.settings import TransformSettings


def format_summary(summary: RunSummary, title: str = "") -> str:
    lines = [
        f"{title or summary.pipeline_name}: loaded into {summary.destination},"
        f" dataset {summary.dataset}, in {summary.seconds:.1f}s"
        + (f" ({summary.slices} slices loaded while fetching went on)" if summary.slices > 1 else "")
    ]
    if summary.pending_packages:
        lines.append(f"  first loaded {summary.pending_packages} package(s) an earlier run had"
                     " extracted but not loaded")
    if summary.rows:
        width = max(len(t) for t in summary.rows)
        lines.append(f"  {'table'.ljust(width)}  rows")
        for table in sorted(summary.rows):
            if not summary.rows[table]:
                continue    # a table created empty (the quarantine): nothing to report
            change = summary.changes.get(table)
            lines.append(f"  {table.ljust(width)}  {summary.rows[table]:,}"
                         + (f"  ({_change(change)})" if change else ""))
    else:
        lines.append("  no rows")
    lines.append(f"  requests: {summary.requests:,} (rate limited: {summary.rate_limited},"
                 f" retried: {summary.retries})")
    if summary.rows.get("quarantine"):
        lines.append(f"  quarantine: {summary.rows['quarantine']:,} row(s) could not be loaded as"
                     f" sent, or were kept raw beside what was loaded: see {summary.dataset}.quarantine")
    if summary.new_tables:
        lines.append(f"  new tables: {len(summary.new_tables)}")
    for table, column, data_type in summary.new_columns:
        lines.append(f"  new column: {table}.{column} ({data_type})")
    for table, column, data_type in summary.variants:
        lines.append(f"  variant column: {table}.{column} ({data_type}) holds values that did"
                     " not fit the column's type")
    if summary.transform is not None:
        lines.append(format_build(summary.transform))
    if summary.interrupted:
        lines.append("  interrupted: stopped fetching when asked; the rows above are loaded with"
                     " their cursors, the facts were not rebuilt, and the next run continues"
                     " from there")
    return "\n".join(lines)


def format_build(result: BuildResult, settings: TransformSettings | None = None) -> str:
    where = f" of {settings.dataset} ({settings.reporting_timezone})" if settings else ""
    if result.mode == "up-to-date":
        return f"transforms{where}: up to date, nothing loaded since the last build"
    why = result.reason or f"{result.loads} new load(s)"
    lines = [f"transforms{where}: {result.mode} build in {result.seconds:.1f}s ({why}),"
             f" {result.checks} data tests passed"]
    if result.changed:
        lines.append("  changed: " + ", ".join(f"{n:,} {feed}" for feed, n in sorted(result.changed.items()))
                     + "; partitions rebuilt: "
                     + ", ".join(f"{table} {n:,}" for table, n in sorted(result.partitions.items())))
    for table, cause in sorted(result.partition_causes.items()):
        if cause:
            lines.append(f"  {table}: {result.partitions[table]:,} partitions rebuilt, {cause}")
    for table, count in sorted(result.rows.items()):
        lines.append(f"  {table}: {count:,} rows")
    for warning in result.warnings:
        lines.append(f"  warning: {warning}")
    if result.unknown_agents:
        lines.append(f"  {result.unknown_agents} agent id(s) appear in contacts or activity but not"
                     " in the agents endpoint (dim_agents.is_unknown)")
    return "\n".join(lines)


def _change(change: Any) -> str:
    parts = [f"{change.new:,} new"]
    if change.updated:
        parts.append(f"{change.updated:,} updated")
    if change.replaced:
        parts.append(f"{change.replaced:,} earlier replaced")
    return ", ".join(parts)


def summary_record(summary: RunSummary) -> dict[str, Any]:
    """The run's summary as plain data, for `--report` files that schedulers and
    benchmarks read (the text above is for people)."""
    record = dataclasses.asdict(summary)
    record["transform"] = build_record(summary.transform) if summary.transform else None
    return record


def build_record(result: BuildResult) -> dict[str, Any]:
    return dataclasses.asdict(result)
