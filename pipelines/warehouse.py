"""Where pipelines load: the named destination `warehouse`, configured, never coded.

`[destination.warehouse] destination_type` picks the engine (DuckDB by default) and
`destination.warehouse.credentials` (a secret, so `.dlt/secrets.toml` or
`DESTINATION__WAREHOUSE__CREDENTIALS`) points at it. Without credentials, DuckDB writes
`ccelt.duckdb` in the working directory. A one-off run elsewhere names another engine
(`ccelt run ujet --destination postgres`) and takes its credentials from dlt's usual section
for that engine (`DESTINATION__POSTGRES__CREDENTIALS`).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import tempfile
from typing import Any, Optional

import dlt
from dlt.common.destination import Destination, TLoaderFileFormat

from pipelines import duckdb_file

logger = logging.getLogger(__name__)

WAREHOUSE = "warehouse"
DEFAULT_DUCKDB_FILE = "ccelt.duckdb"

# DuckDB's default (insert_values) took 12 GB and 52 s for 20k nested records here; jsonl
# loads them in about a second. Postgres stays on insert_values: its csv (COPY) files
# loaded an empty string as NULL (tests/e2e/test_postgres.py), and exact beats fast.
FORMAT_PREFERENCE: tuple[TLoaderFileFormat, ...] = ("jsonl",)

DUCKDB_LOAD_DEFAULTS: dict[str, object] = {
    # DuckDB's own default is 80 % of the machine's memory, and it uses what it may: each
    # slice's load ends with DuckDB writing the slice into the file (a checkpoint), whose
    # memory grew with the tables until it reached the limit. So the limit is what the
    # process's peak grows by: 128 MiB, on one thread, loaded a million calls without a
    # single job running out of memory (two threads with 128 MB ran out in one slice in
    # three, and 256 MiB added 120 MB to the peak); docs/decisions.md. Builds set their own.
    "destination.warehouse.credentials.global_config": {"memory_limit": "128MiB", "threads": 1},
    # dlt loads up to 20 files at once; into one DuckDB file they only compete for it, and
    # each holds its own buffers: three are as fast and take a hundred MB less
    "load.workers": 3,
}


def apply_engine_defaults(destination: Destination) -> None:
    """ccelt's settings for the warehouse's engine, unless the user configured them."""
    if engine(destination) != "duckdb":
        return
    for key, value in DUCKDB_LOAD_DEFAULTS.items():
        if dlt.config.get(key) is None:
            dlt.config[key] = value


_CONNECTION_ERRORS = ("OperationalError", "InterfaceError", "IOException",
                      "DestinationConnectionError", "ConnectionError", "RefreshError",
                      "DefaultCredentialsError", "ServiceUnavailable")


_DLT_REASON = "The actual reason given is: "


class WarehouseUnreachable(RuntimeError):
    """The warehouse could not be reached or locked; nothing was lost."""


def warehouse_destination(destination_type: Optional[str] = None) -> Destination:
    """The configured `warehouse` destination, or a one-off engine of `destination_type`."""
    configured = dlt.config.get(f"destination.{WAREHOUSE}.destination_type", str) or "duckdb"
    if destination_type and destination_type != configured:
        credentials: Any = dlt.secrets.get(f"destination.{destination_type}.credentials")
        if destination_type == "duckdb" and not credentials:
            credentials = DEFAULT_DUCKDB_FILE
        return _destination(destination_type, credentials)
    if configured == "duckdb" and not dlt.secrets.get(f"destination.{WAREHOUSE}.credentials"):
        return _destination("duckdb", DEFAULT_DUCKDB_FILE)
    return _destination(configured, None)


def duckdb_warehouse(path: str) -> Destination:
    """The `warehouse` destination on the DuckDB file at `path` (the demo's and the catalog's
    own files), opened as every DuckDB warehouse of ccelt's is."""
    return _destination("duckdb", path)


def _destination(destination_type: str, credentials: Any) -> Destination:
    """The `warehouse` destination of an engine; DuckDB's file is opened the way
    pipelines/duckdb_file.py says, everything else the way dlt does."""
    explicit = {} if credentials is None else {"credentials": credentials}
    if destination_type == "duckdb":
        return duckdb_file.duckdb(destination_name=WAREHOUSE, **explicit)
    return dlt.destination(WAREHOUSE, destination_type=destination_type, **explicit)


class WarehouseSettingError(ValueError):
    """A `destination.warehouse.*` setting of ccelt's is invalid; the message names it."""


def loader_file_format(destination: Destination) -> Optional[TLoaderFileFormat]:
    """`destination.warehouse.loader_file_format` if set, else the fastest file format the
    engine loads, or None for its own default."""
    supported = list(destination.capabilities().supported_loader_file_formats or ())
    configured = dlt.config.get(f"destination.{WAREHOUSE}.loader_file_format", str)
    if not configured:
        return next((fmt for fmt in FORMAT_PREFERENCE if fmt in supported), None)
    key = f"destination.{WAREHOUSE}.loader_file_format"
    if configured not in supported:
        raise WarehouseSettingError(
            f"{key} is {configured!r}, which {engine(destination)} does not load; use one of"
            f" {', '.join(supported)}, or leave it unset for ccelt's choice")
    if configured == "parquet" and importlib.util.find_spec("pyarrow") is None:
        raise WarehouseSettingError(
            f"{key} is 'parquet', which needs pyarrow: pip install pyarrow (ccelt does not"
            " install it: jsonl loads DuckDB as fast, see docs/decisions.md)")
    return configured  # type: ignore[return-value]


def facts_pipeline(destination: Destination, dataset: str, name: str) -> dlt.Pipeline:
    """A pipeline named `name` that never loads, bound to the facts dataset: only its SQL
    clients are used, to build or read the facts (`ccelt transform`, `ccelt report`, the
    demo's report)."""
    return dlt.pipeline(name, destination=destination, dataset_name=dataset)


def engine(destination: Destination) -> str:
    return destination.destination_type.rsplit(".", 1)[-1]


def describe(destination: Destination) -> str:
    """Engine and where it is (file, host and database, project), never credentials."""
    where = _location(destination)
    return f"{engine(destination)} ({where})" if where else engine(destination)


def identity(destination: Destination, dataset: str) -> str:
    """Tells one warehouse from another: a change means the pipeline's cursors do not apply."""
    return f"{engine(destination)}:{_location(destination) or '?'}:{dataset}"


def _location(destination: Destination) -> str:
    try:
        config: Any = destination.configuration(destination.spec(), accept_partial=True)
    except Exception:  # noqa: BLE001 (a description must never fail the run)
        return ""
    credentials = getattr(config, "credentials", None)
    if credentials is None:
        return ""
    if engine(destination) == "duckdb":
        return str(getattr(credentials, "database", "") or "")
    if engine(destination) == "bigquery":
        return f"project {getattr(credentials, 'project_id', '?')}, {getattr(config, 'location', '')}"
    host, port = getattr(credentials, "host", None), getattr(credentials, "port", None)
    database = getattr(credentials, "database", None)
    if host:
        return f"{host}:{port}/{database}" if port else f"{host}/{database}"
    return str(database or "")


def check_warehouse(destination: Destination) -> str:
    """`ccelt check`: connects to the warehouse and runs `select 1`; creates and loads
    nothing (a DuckDB file that does not exist yet is reported, not created)."""
    if engine(destination) == "duckdb":
        location = _location(destination)
        if location and location != ":memory:" and not os.path.exists(location):
            return f"{describe(destination)}: the file does not exist yet; the first run creates it"
    # a throwaway pipeline, only for its client: its working folder goes with it
    with tempfile.TemporaryDirectory(prefix="ccelt-check-") as folder:
        pipeline = dlt.pipeline("ccelt_check", destination=destination,
                                dataset_name="ccelt_check", pipelines_dir=folder)
        try:
            with pipeline.sql_client() as client:
                client.execute_sql("select 1")
        except Exception as exc:
            raise unreachable(exc, destination) or exc from exc
    return f"{describe(destination)}: connected"


def unreachable(error: BaseException, destination: Destination) -> Optional[WarehouseUnreachable]:
    """A clear error if `error` is the warehouse refusing or failing to connect, else None."""
    current: Optional[BaseException] = error
    seen: list[BaseException] = []
    while current is not None and all(current is not s for s in seen):
        seen.append(current)
        locked = _duckdb_lock(str(current))
        if locked is not None:
            return locked
        if type(current).__name__ in _CONNECTION_ERRORS:
            # dlt wraps the engine's own words in two sentences of advice; keep the words
            reason = " ".join(str(current).split()).split(_DLT_REASON)[-1][:300]
            return WarehouseUnreachable(
                f"cannot use the warehouse {describe(destination)}: {reason}. Check"
                " destination.warehouse.credentials (host, port, database, user) and that the"
                " server is running and reachable, or that no other program holds the DuckDB"
                " file. Nothing was lost: the next run continues from the last load.")
        inner = getattr(current, "exception", None)
        current = inner if isinstance(inner, BaseException) else current.__cause__
    return None


_DUCKDB_LOCK = re.compile(
    r'Could not set lock on file "(?P<file>[^"]+)": Conflicting lock is held in'
    r" (?P<program>.+?) \(PID (?P<pid>\d+)\)")


def _duckdb_lock(message: str) -> Optional[WarehouseUnreachable]:
    """DuckDB lets one process write a file; it names the one holding it. Say who, and what
    to do, in full: a cut message lost the path and the holder's pid."""
    match = _DUCKDB_LOCK.search(message)
    if match is None:
        return None
    return WarehouseUnreachable(
        f"the DuckDB file {match['file']} is locked: process {match['pid']}"
        f" ({match['program']}) has it open for writing, and DuckDB lets one process write a"
        " file at a time. Close that program (a notebook, a BI tool, the duckdb shell), or"
        " open the file there read-only (duckdb.connect(path, read_only=True) or duckdb"
        " -readonly), then run again. Nothing was lost: the next run loads what this one"
        " extracted first.")
