"""What a run changed in each raw table: rows new, updated (merged), replaced.

dlt reports rows written per table. Whether a merged row was new or replaced an earlier
version is not in that number, so the runner counts each table before the run and after it:
for a root table merged on its key, the rows it gained are new and the rest of this run's
rows updated an earlier version; a child table replaced with its parent lost the rows of the
earlier versions. Two rounds of `count(*)` per run; if a warehouse cannot answer them (a
permission, a table dropped by hand), the summary keeps dlt's counts alone.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

import dlt
from dlt.common.schema.utils import has_table_seen_data

logger = logging.getLogger(__name__)


@dataclass
class TableChange:
    new: int = 0
    """Rows that were not there before (a new key, an appended row, a new child row)."""
    updated: int = 0
    """Rows that replaced an earlier version of the same key (merged root tables)."""
    replaced: int = 0
    """Rows of earlier versions removed (child rows of updated records, replaced tables)."""


def table_counts(pipeline: dlt.Pipeline) -> Optional[dict[str, int]]:
    """Rows per existing raw table of the pipeline's dataset; None if the warehouse cannot
    say."""
    if not pipeline.default_schema_name:
        return {}
    # the tables dlt created: those that have seen data (no information_schema query, whose
    # shape differs on BigQuery)
    names = [name for name, table in pipeline.default_schema.tables.items()
             if not name.startswith("_dlt") and has_table_seen_data(table)]
    try:
        with pipeline.sql_client() as client:
            if not client.has_dataset():
                return {}
            return {name: int(client.execute_sql(
                f"select count(*) from {client.make_qualified_table_name(name)}")[0][0])
                for name in names}
    except Exception as exc:  # noqa: BLE001 (a breakdown must never fail a run)
        logger.debug("could not count rows per table: %s", exc)
        return None


class RunLoads:
    """The load ids of one run: each of them while they are few, else only their range.

    A week-long `ccelt listen` loads every few seconds; keeping every id (and naming them
    all in one SQL list) would grow without bound. Load ids grow with time, and a pipeline
    runs one run at a time, so the range of a run's ids holds that run's loads only."""

    KEEP = 500

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.low: Optional[str] = None
        self.high: Optional[str] = None
        self.count = 0

    def add(self, load_ids: Sequence[str]) -> None:
        for load_id in load_ids:
            self.count += 1
            self.low = load_id if self.low is None or float(load_id) < float(self.low) else self.low
            self.high = load_id if self.high is None or float(load_id) > float(self.high) else self.high
            if self.count <= self.KEEP:
                self.ids.append(load_id)

    def __bool__(self) -> bool:
        return self.count > 0

    def condition(self) -> str:
        """SQL that selects rows of these loads by `_dlt_load_id`."""
        def quote(text: str) -> str:
            return "'" + text.replace("'", "''") + "'"

        if self.count <= self.KEEP:
            return f"_dlt_load_id in ({', '.join(quote(i) for i in self.ids)})"
        # ids of one epoch width compare as text in the order of their times
        return f"_dlt_load_id between {quote(self.low or '')} and {quote(self.high or '')}"


def distinct_loaded(pipeline: dlt.Pipeline, tables: Sequence[str],
                    loads: RunLoads) -> Optional[dict[str, int]]:
    """Rows of each root table that carry one of the run's `loads` (the versions it loaded)."""
    if not tables or not loads:
        return {}
    try:
        with pipeline.sql_client() as client:
            return {name: int(client.execute_sql(
                f"select count(*) from {client.make_qualified_table_name(name)}"
                f" where {loads.condition()}")[0][0]) for name in tables}
    except Exception as exc:  # noqa: BLE001
        logger.debug("could not count this run's rows per table: %s", exc)
        return None


def describe_changes(tables: Mapping[str, Any], written: Mapping[str, int],
                     before: Mapping[str, int], after: Mapping[str, int],
                     loaded: Mapping[str, int]) -> dict[str, TableChange]:
    """Per table written by the run, its change, from dlt's schema (`tables`), the rows
    written, the counts before and after, and this run's rows of each merged root table."""
    changes: dict[str, TableChange] = {}
    for name, rows in written.items():
        table = tables.get(name, {})
        was, now = before.get(name, 0), after.get(name, 0)
        disposition = (table.get("write_disposition")
                       or tables.get(root_table(tables, name), {}).get("write_disposition"))
        if table.get("parent"):
            # replaced with its parent: what the table did not grow by was removed
            changes[name] = TableChange(new=rows, replaced=max(0, was + rows - now))
        elif disposition == "merge":
            new = max(0, now - was)
            changes[name] = TableChange(new=new, updated=max(0, loaded.get(name, rows) - new))
        elif disposition == "replace":
            changes[name] = TableChange(new=now, replaced=was)
        else:
            changes[name] = TableChange(new=max(0, now - was))
    return changes


def root_table(tables: Mapping[str, Any], name: str) -> str:
    """The root of a dlt child table (`calls` of `calls__handle_durations`), from the schema."""
    while tables.get(name, {}).get("parent"):
        name = tables[name]["parent"]
    return name
