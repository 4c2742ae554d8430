"""How ccelt keeps a DuckDB warehouse file: attached with small row groups, and with a short
history of state.

DuckDB stores a table in row groups of 122,880 rows and, when a load appends to a table,
rewrites the table's last, partly filled row group as the connection closes (a checkpoint).
A listener loads every few seconds, so each load ended by reading and rewriting up to
122,880 rows of `interaction_events`: the process's peak grew by 170 MB as the table filled
its first row group. The row-group size is an option of `ATTACH` only, not of
`duckdb.connect`, and the file does not keep it. So this destination is dlt's DuckDB with one
change: its connections open an in-memory database, attach the warehouse file with
16,384-row groups and make it the default catalog. Everything else (the file, its lock, the
sessions dlt clones, dlt's settings and the user's) is dlt's own.

The same rewrite made dlt's `_dlt_pipeline_state`, one whole state per load, cost more at
every load; `prune_state_history` keeps its newest versions only. docs/decisions.md ("A
DuckDB file attached with small row groups") has the measurements.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, ClassVar

from dlt.common.configuration import configspec
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from dlt.destinations.impl.duckdb.configuration import (
    DuckDbClientConfiguration,
    DuckDbConnectionPool,
    DuckDbCredentials,
)
from dlt.destinations.impl.duckdb.exceptions import InvalidInMemoryDuckdbCredentials
from dlt.destinations.impl.duckdb.factory import duckdb as dlt_duckdb

ROW_GROUP_SIZE = 16_384
"""Rows per row group: a multiple of DuckDB's 2,048-row vector. At 16,384 the rewrite at close
costs a few MB, and a table still compresses and scans in large pieces."""

CATALOG = "ccelt_warehouse_file"
"""The name the file is attached under; unlike a dataset name it can never be a schema's,
so `dataset.table` always means the schema of the file."""


def attach_sql(database: str, read_only: bool) -> str:
    """The `ATTACH` of the warehouse file: read-only, or writable with small row groups."""
    path = os.path.abspath(database).replace("'", "''")
    options = "READ_ONLY" if read_only else f"ROW_GROUP_SIZE {ROW_GROUP_SIZE}"
    return f"ATTACH IF NOT EXISTS '{path}' AS {CATALOG} ({options})"


def shared_memory_database(database: str) -> str:
    """The in-memory database that holds the file, one per file in a process: DuckDB shares a
    named in-memory database between the connections that name it, as it shares a file's, and
    a file can be attached to one database of a process only. The pipeline, its SQL clients
    and the builds each open connections while others are open; the file is detached (and
    checkpointed, and its lock released) when the last of them closes, as dlt's file was."""
    digest = hashlib.blake2b(os.path.abspath(database).encode(), digest_size=8).hexdigest()
    return f":memory:ccelt_{digest}"


class _AttachingPool(DuckDbConnectionPool):
    """dlt's pool, attaching the file on each connection it opens. The path is read when the
    connection opens: dlt settles it (`:pipeline:`, a relative path) after the credentials."""

    def _execute_statements(self, conn: Any) -> None:
        conn.execute(attach_sql(self.credentials.database, self.credentials.read_only))
        super()._execute_statements(conn)


@configspec(init=False)
class AttachedFileCredentials(DuckDbCredentials):
    """A DuckDB file, opened by attaching it to an in-memory database (see the module)."""

    def on_resolved(self) -> None:
        if self.external_conn() is not None:
            # a connection the caller opened is used as it is
            super().on_resolved()
            return
        if self.database == ":memory:":
            raise InvalidInMemoryDuckdbCredentials()
        # `schema` makes the file the default catalog of every session, the one dlt keeps and
        # the clones it hands out: `USE` would hold for one session only
        self.local_config = {**(self.local_config or {}), "schema": CATALOG}
        self.conn_pool = _AttachingPool(self)

    def _conn_str(self) -> str:
        if self.external_conn() is not None:
            return super()._conn_str()
        return shared_memory_database(self.database)


@configspec(init=False)
class AttachedFileConfiguration(DuckDbClientConfiguration):
    credentials: AttachedFileCredentials = None


class duckdb(dlt_duckdb):  # noqa: N801 (dlt names the engine after the class: `duckdb`)
    """dlt's DuckDB destination, its file attached with small row groups."""

    spec: ClassVar[type[AttachedFileConfiguration]] = AttachedFileConfiguration  # type: ignore[assignment]


STATE_VERSIONS_KEPT = 10
"""Newest versions of a pipeline's state kept in `_dlt_pipeline_state` (dlt restores from the
newest one whose load completed)."""

PRUNE_STATE_EVERY_SLICES = 60
"""A run that loads in many slices (a listener: one every `load_every` seconds) prunes the
state table this often, and once at its end."""


def prune_state_history(pipeline: Any) -> int:
    """Deletes all but the newest `STATE_VERSIONS_KEPT` versions of the pipeline's state from
    its dataset in a DuckDB warehouse; returns how many rows went.

    dlt appends the whole state, compressed, to `_dlt_pipeline_state` at every load that
    changed it, and never removes a row. A listener changes its state at every load: in an
    hour at 50 notifications/s, 720 rows of 16 to 55 KB. DuckDB rewrites the table's last row
    group, blobs and all, whenever a load appends to it, so the process's peak grew with every
    load (docs/decisions.md#row-groups), and in a week the table would hold 120,000 states.
    Only the newest state is ever read back; deleted rows leave the file at the next
    checkpoint. Other engines keep their history: nothing there rewrites it per load.
    """
    if not pipeline.default_schema_name:
        return 0
    with pipeline.sql_client() as client:
        table = client.make_qualified_table_name(pipeline.default_schema.state_table_name)
        if not client.has_dataset():
            return 0
        try:
            rows = client.execute_sql(
                f"delete from {table} where pipeline_name = %s and version <= ("
                f"select max(version) from {table} where pipeline_name = %s) - %s",
                pipeline.pipeline_name, pipeline.pipeline_name, STATE_VERSIONS_KEPT)
        except DatabaseUndefinedRelation:
            return 0  # nothing was ever loaded with a state
    return int(rows[0][0]) if rows else 0
