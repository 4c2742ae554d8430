"""The closing report of a run, as the user reads it."""

from __future__ import annotations

from pipelines.ujet import RunSummary


def format_summary(summary: RunSummary, title: str = "") -> str:
    lines = [
        f"{title or summary.pipeline_name}: loaded into {summary.destination},"
        f" dataset {summary.dataset}, in {summary.seconds:.1f}s"
    ]
    if summary.pending_packages:
        lines.append(f"  first loaded {summary.pending_packages} package(s) an earlier run had"
                     " extracted but not loaded")
    if summary.rows:
        width = max(len(t) for t in summary.rows)
        lines.append(f"  {'table'.ljust(width)}  rows")
        for table in sorted(summary.rows):
            lines.append(f"  {table.ljust(width)}  {summary.rows[table]:,}")
    else:
        lines.append("  no rows")
    lines.append(f"  requests: {summary.requests:,} (rate limited: {summary.rate_limited},"
                 f" retried: {summary.retries})")
    if summary.new_tables:
        lines.append(f"  new tables: {len(summary.new_tables)}")
    for table, column, data_type in summary.new_columns:
        lines.append(f"  new column: {table}.{column} ({data_type})")
    for table, column, data_type in summary.variants:
        lines.append(f"  variant column: {table}.{column} ({data_type}) holds values that did"
                     " not fit the column's type")
    return "\n".join(lines)
