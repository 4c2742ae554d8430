"""Where pipelines load: the named destination `warehouse`, configured, never coded.

`[destination.warehouse] destination_type` picks the engine (DuckDB by default) and
`destination.warehouse.credentials` (a secret, so `.dlt/secrets.toml` or
`DESTINATION__WAREHOUSE__CREDENTIALS`) points at it. Without credentials, DuckDB writes
`ccelt.duckdb` in the working directory.
"""

from __future__ import annotations

from typing import Optional

import dlt
from dlt.common.destination import Destination, TLoaderFileFormat

WAREHOUSE = "warehouse"
DEFAULT_DUCKDB_FILE = "ccelt.duckdb"

# DuckDB's default (insert_values) took 12 GB and 52 s for 20k nested records here; jsonl
# loads them in about a second. Postgres stays on insert_values: its csv (COPY) files
# loaded an empty string as NULL (tests/e2e/test_postgres.py), and exact beats fast.
FORMAT_PREFERENCE: tuple[TLoaderFileFormat, ...] = ("jsonl",)


def warehouse_destination() -> Destination:
    """The configured `warehouse` destination."""
    destination_type = dlt.config.get(f"destination.{WAREHOUSE}.destination_type", str) or "duckdb"
    if destination_type == "duckdb" and not dlt.secrets.get(f"destination.{WAREHOUSE}.credentials"):
        return dlt.destination(WAREHOUSE, destination_type="duckdb", credentials=DEFAULT_DUCKDB_FILE)
    return dlt.destination(WAREHOUSE, destination_type=destination_type)


def loader_file_format(destination: Destination) -> Optional[TLoaderFileFormat]:
    """The fastest file format the destination loads, or None for its own default."""
    supported = destination.capabilities().supported_loader_file_formats
    return next((fmt for fmt in FORMAT_PREFERENCE if fmt in supported), None)
