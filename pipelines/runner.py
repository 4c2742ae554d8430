"""`ccelt run <source>`: load one source instance into the warehouse, finishing earlier work first.

The runner knows no vendor: it takes a `SourceInstance` from the registry and runs its
`@dlt.source` in slices under the instance's own lock, pipeline and raw dataset.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, TypeVar

import dlt
from dlt.pipeline.exceptions import PipelineStepFailed
from dlt.common.destination import Destination
from dlt.common.pipeline import LoadInfo, get_dlt_pipelines_dir

from pipelines.changes import RunLoads, TableChange, describe_changes, distinct_loaded, table_counts
from pipelines.duckdb_file import PRUNE_STATE_EVERY_SLICES, prune_state_history
from pipelines.lock import BUILD_LOCK, run_lock
from pipelines.registry import SourceInstance
from pipelines.memory import collector_spares_startup
from pipelines.privacy import no_telemetry_unless_asked
from pipelines.warehouse import (
    apply_engine_defaults,
    describe,
    engine,
    identity,
    loader_file_format,
    unreachable,
    warehouse_destination,
)
from sources.kit.http import PROCESS_STATS
from sources.kit.errors import ConfigurationError
from sources.kit.feeds import STRETCHED_SLICE, FetchSession
from sources.kit.screening import empty_quarantine, quarantine_missing
from transforms.dialect import RawSource
from transforms.runner import BuildResult, DataTestFailed, build, register
from transforms.settings import DEFAULT_DATASET, TransformSettings

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class RunSummary:
    """What one run did, for the closing report."""

    pipeline_name: str
    destination: str
    dataset: str
    seconds: float = 0.0
    rows: dict[str, int] = field(default_factory=dict)
    changes: dict[str, TableChange] = field(default_factory=dict)
    """Per table, rows new, updated and replaced (pipelines/changes.py); empty if the
    warehouse could not be counted."""
    pending_packages: int = 0
    """Load packages an earlier, interrupted run left behind, loaded before extracting."""
    new_tables: list[str] = field(default_factory=list)
    new_columns: list[tuple[str, str, str]] = field(default_factory=list)
    """(table, column, data type) added to tables that existed before this run."""
    variants: list[tuple[str, str, str]] = field(default_factory=list)
    """Columns dlt added because a value did not fit its column's type."""
    requests: int = 0
    rate_limited: int = 0
    retries: int = 0
    requests_by_endpoint: dict[str, int] = field(default_factory=dict)
    """Requests per API path (429s and retries included)."""
    first_request_after: Optional[float] = None
    last_request_after: Optional[float] = None
    """Seconds from the run's start to its first and its last request (the first is known
    when the process made no request before the run, as with `ccelt run`)."""
    slices: int = 0
    """dlt runs this run loaded in, each committing its rows and cursors, while fetching went on."""
    transform: Optional[BuildResult] = None
    """The transforms' build after the load, unless skipped."""
    interrupted: bool = False
    """The run was asked to stop (a signal): it loaded the slice it had taken and stopped."""


def run_source(
    instance: SourceInstance,
    *,
    pipeline_name: Optional[str] = None,
    dataset_name: Optional[str] = None,
    destination: Optional[Destination] = None,
    resources: Optional[Sequence[str]] = None,
    source_args: Optional[dict[str, Any]] = None,
    transform: Optional[TransformSettings] = None,
    interrupt: Optional[threading.Event] = None,
) -> RunSummary:
    """Loads every resource of `instance` (or only `resources`) into the warehouse.

    A scheduled run first loads any package an earlier run extracted but could not load
    (a crash, a locked or unreachable warehouse). Those packages carry the cursors that were
    advanced when they were extracted, so loading them first loses nothing; then this run
    extracts from where they end. Without this, dlt would only load the leftovers and skip
    extraction until the next run.

    Args:
        pipeline_name / dataset_name: override the instance's (the demo, tests).
        source_args: explicit arguments of the source function (tests, the demo);
            everything else comes from dlt config.
        transform: build the `contact_center` tables with these settings after the load;
            None skips them.
        interrupt: set it (from a signal handler) to stop cleanly: fetching stops at once,
            the slice taken so far is loaded with its cursors, nothing else is started, and
            the summary says `interrupted`. The transforms are skipped.

    Raises:
        DataTestFailed: the load and the build are done, but the built tables break a
            data test; `summary` on the exception tells what was loaded.
    """
    _apply_dlt_defaults()
    no_telemetry_unless_asked()
    pipeline_name = pipeline_name or instance.pipeline_name
    dataset_name = dataset_name or instance.dataset_name
    destination = destination or warehouse_destination()
    apply_engine_defaults(destination)
    with run_lock(get_dlt_pipelines_dir(), pipeline_name), _prompt_thread_switches(), \
            collector_spares_startup():
        return _run_locked(instance, pipeline_name, dataset_name, destination, resources,
                           source_args, transform, interrupt)


@contextmanager
def _prompt_thread_switches() -> Iterator[None]:
    """Lets a feed thread whose request is due take the interpreter within 1 ms, not 5.

    While dlt normalizes a slice in this thread, a feed thread waking for its next request
    waits for the interpreter lock; at 10 requests/s, Python's default 5 ms switch interval
    delays starts enough to cost a tenth of the rate (docs/decisions.md, "Performance").
    """
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.001)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def _run_locked(instance: SourceInstance, pipeline_name: str, dataset_name: str,
                destination: Destination, resources: Optional[Sequence[str]],
                source_args: Optional[dict[str, Any]],
                transform: Optional[TransformSettings],
                interrupt: Optional[threading.Event] = None) -> RunSummary:
    session = _fetch_session(instance, interrupt)
    pipeline = _pipeline_for(pipeline_name, destination, dataset_name)
    file_format = loader_file_format(destination)
    summary = RunSummary(pipeline_name, describe(destination), dataset_name)
    started, requests_before = time.monotonic(), PROCESS_STATS.snapshot()
    columns_before = _user_columns(pipeline)
    counts_before = table_counts(pipeline)
    load_ids = RunLoads()

    if pipeline.has_pending_data:
        summary.pending_packages = len(pipeline.list_normalized_load_packages()) + len(
            pipeline.list_extracted_load_packages())
        logger.warning(
            "%s: %d load package(s) from an earlier run were not loaded yet; loading them first",
            pipeline_name, summary.pending_packages,
        )
        load_ids.add(_run(pipeline, destination, None).loads_ids)
        _add_rows(summary, pipeline)

    try:
        while not session.interrupted or session.draining:
            session.start_slice()
            source = _select(instance.source(**(source_args or {}), session=session), resources)
            if summary.slices:
                # a resource whose feed is used up sits out: an empty `replace` would empty
                # its table, and an empty resource only costs time
                source = source.with_resources(*session.unfinished(list(source.selected_resources)))
            if not summary.slices:
                session.expect(list(source.selected_resources))
                logger.info("%s: extracting %s into %s dataset %s", pipeline_name,
                            ", ".join(source.selected_resources), summary.destination, dataset_name)
            _apply_file_format(source, file_format)
            load_info = _run(pipeline, destination, source)
            load_ids.add(load_info.loads_ids)
            if instance.spec.listens:
                _drop_loaded_packages(pipeline, keep=load_info.loads_ids)
            summary.slices += 1
            if summary.slices % PRUNE_STATE_EVERY_SLICES == 0:
                _prune_state_history(pipeline, destination)
            _add_rows(summary, pipeline)
            pipeline.set_local_state_val(_WAREHOUSE_KEY, identity(destination, dataset_name))
            logger.debug("%s", load_info)
            logger.info("%s: slice %d took %s%s%s", pipeline_name, summary.slices,
                        _step_times(pipeline), _resident(),
                        f"; up to {STRETCHED_SLICE} × load_every_rows, as fetching was ahead"
                        " of loading"
                        if session.stretched else "")
            if session.finished(list(source.selected_resources)):
                break
            if session.interrupted and not session.draining:
                logger.warning("%s: stopped after slice %d as asked; its rows and cursors are"
                               " loaded", pipeline_name, summary.slices)
                break
            logger.info("%s: loaded slice %d (%s rows so far); fetching goes on", pipeline_name,
                        summary.slices, f"{sum(summary.rows.values()):,}")
    finally:
        session.close()
    summary.interrupted = session.interrupted
    if summary.slices % PRUNE_STATE_EVERY_SLICES:
        # once more at the end, unless the last slice was just pruned after (or none ran)
        _prune_state_history(pipeline, destination)
    if (not summary.interrupted and pipeline.default_schema_name
            and quarantine_missing(pipeline.default_schema)):
        load_ids.add(_create_empty_quarantine(pipeline, destination))

    _describe_schema_changes(summary, columns_before, _user_columns(pipeline))
    _describe_table_changes(summary, pipeline, counts_before, load_ids)
    requests = PROCESS_STATS.since(requests_before)
    summary.requests, summary.rate_limited, summary.retries = (
        requests.requests, requests.rate_limited, requests.retries)
    summary.requests_by_endpoint = dict(sorted(requests.by_endpoint.items()))
    if requests.first_at is not None:
        summary.first_request_after = requests.first_at - started
    if requests.last_at is not None:
        summary.last_request_after = requests.last_at - started
    logger.info("%s: requests by endpoint: %s", pipeline_name, ", ".join(
        f"{path} {count}" for path, count in summary.requests_by_endpoint.items()))
    raw_source = RawSource(instance.name, instance.spec.name, dataset_name)
    if transform is None or summary.interrupted:
        # no build now: register what was loaded, so that `ccelt transform` builds it later
        _unless_unreachable(destination, lambda: register(
            pipeline, transform or TransformSettings(dataset=_facts_dataset()), [raw_source]))
    else:
        try:
            summary.transform = _unless_unreachable(
                destination, lambda: _build_facts(pipeline, transform, raw_source))
        except DataTestFailed as failed:
            summary.seconds = time.monotonic() - started
            failed.summary = summary  # type: ignore[attr-defined]
            raise
    summary.seconds = time.monotonic() - started
    return summary


def _facts_dataset() -> str:
    return dlt.config.get("transforms.dataset", str) or DEFAULT_DATASET


def _build_facts(pipeline: dlt.Pipeline, settings: TransformSettings,
                 source: RawSource) -> BuildResult:
    """Registers this run's source instance and brings the facts up to date, one build at a
    time: other tenants' runs may be loading meanwhile, but they build after this one."""
    with run_lock(get_dlt_pipelines_dir(), BUILD_LOCK, wait=True):
        return build(pipeline, settings, sources=[source])


DLT_DEFAULTS: dict[str, Any] = {
    # a package the warehouse rejects for good is aborted and the cursors it advanced are
    # rewound, so the next run reads those records again instead of wedging on the package
    "load.auto_abort_on_terminal_error": True,
    # intermediate files live on local disk for seconds: gzip costs more CPU than it saves
    "data_writer.disable_compression": True,
    # rows a writer holds before writing them out. Normalize reads a file a buffer at a
    # time: dlt's 5,000 calls were 65 MB of dicts at once, and parsing one held the
    # interpreter for up to 70 ms, long enough to make a due request late; 200 is faster
    # still (docs/decisions.md)
    "data_writer.buffer_max_items": 200,
    # every resource takes from its feed at once, so no feed waits for a free worker
    "extract.workers": 16,
    # ccelt's CLI stops runs cleanly on SIGTERM/SIGINT itself (the slice is loaded with its
    # cursors, a listener drains its spool). dlt would otherwise take the signal over while it
    # normalizes or loads and fail the run with SignalReceivedException (docs/decisions.md)
    "runtime.intercept_signals": False,
}


class PackageRejected(RuntimeError):
    """The warehouse refused a load package for good; see the message for what happened."""


def _apply_dlt_defaults() -> None:
    """ccelt's choices for dlt settings, unless the user configured them otherwise."""
    for key, value in DLT_DEFAULTS.items():
        if dlt.config.get(key) is None:
            dlt.config[key] = value


def _rejected(error: BaseException) -> Optional[PackageRejected]:
    """A clear error if the warehouse failed a load job terminally, else None."""
    current: Optional[BaseException] = error
    seen: list[BaseException] = []
    while current is not None and all(current is not s for s in seen):
        seen.append(current)
        job_id = getattr(current, "job_id", None)
        message = getattr(current, "failed_message", None)
        if job_id and message is not None:
            table = str(job_id).split(".")[0]
            lines = [line.strip() for line in str(message).splitlines() if line.strip()]
            reason = lines[-1].split(": ", 1)[-1] if lines else "no reason given"
            aborted = bool(dlt.config.get("load.auto_abort_on_terminal_error"))
            outcome = ("The package was aborted and the cursors rewound, so the next run reads"
                       " these records again" if aborted else
                       "The package is kept (load.auto_abort_on_terminal_error is off) and the"
                       " next run tries it again")
            return PackageRejected(
                f"the warehouse rejected load package {getattr(current, 'load_id', '?')} for"
                f" table {table}: {reason}. {outcome}; until the table accepts them every run"
                " stops here. See docs/operations.md, 'A rejected load package'.")
        inner = getattr(current, "exception", None)
        current = inner if isinstance(inner, BaseException) else current.__cause__
    return None


DEFAULT_LOAD_EVERY = 60.0
"""Seconds a slice takes from the feeds before dlt loads it (sources.<name>.load_every)."""
DEFAULT_LOAD_EVERY_ROWS = 10_000
"""Rows after which a slice is loaded sooner (sources.<name>.load_every_rows): the last
slice's normalize and load cannot hide under fetching, so it is kept to a few seconds'
work even at 10 requests/s (docs/decisions.md, "Performance")."""


def _fetch_session(instance: SourceInstance,
                   interrupt: Optional[threading.Event] = None) -> FetchSession:
    seconds = instance.config("load_every", float)
    if seconds is not None and seconds <= 0:
        raise ConfigurationError(f"{instance.key('load_every')} must be positive seconds,"
                                 f" got {seconds}")
    rows = instance.config("load_every_rows", int)
    if rows is not None and rows <= 0:
        raise ConfigurationError(f"{instance.key('load_every_rows')} must be a positive number"
                                 f" of rows, got {rows}")
    return FetchSession(seconds or instance.spec.load_every or DEFAULT_LOAD_EVERY,
                        rows or DEFAULT_LOAD_EVERY_ROWS, interrupt)


def _select(source: Any, resources: Optional[Sequence[str]]) -> Any:
    if not resources:
        return source
    unknown = sorted(set(resources) - set(source.resources))
    if unknown:
        raise ConfigurationError(
            f"unknown resource(s) {', '.join(unknown)}; choose from {', '.join(source.resources)}")
    return source.with_resources(*resources)


_WAREHOUSE_KEY = "ccelt_warehouse"
"""Local state key: which warehouse this pipeline's local cursors belong to."""


def _pipeline_for(name: str, destination: Destination, dataset_name: str) -> dlt.Pipeline:
    """The pipeline, with its local state reset if it last loaded a different warehouse.

    dlt keeps cursors locally and restores them from the warehouse only when the warehouse's
    copy is newer. After loading elsewhere (a switch to Postgres, a one-off run), the local
    cursors would be ahead of this warehouse's data and it would silently miss records. So
    when the warehouse changes, the local state goes and dlt restores this warehouse's own
    (or starts a fresh backfill if it has none).
    """
    pipeline = dlt.pipeline(name, destination=destination, dataset_name=dataset_name)
    here = identity(destination, dataset_name)
    last: Optional[str] = None
    try:
        last = pipeline.get_local_state_val(_WAREHOUSE_KEY)
    except KeyError:
        pass
    if last and last != here:
        logger.warning("%s: last loaded %s, now %s; resetting local state to this warehouse's",
                       name, last, here)
        pipeline = pipeline.drop()
        pipeline = dlt.pipeline(name, destination=destination, dataset_name=dataset_name)
    return pipeline


def _run(pipeline: dlt.Pipeline, destination: Destination, data: Any) -> LoadInfo:
    return _unless_unreachable(destination, lambda: pipeline.run(data))


def _create_empty_quarantine(pipeline: dlt.Pipeline, destination: Destination) -> list[str]:
    """Creates the source's quarantine table with no rows, so that queries over it work before
    anything is quarantined; in the destination's own file format, since an empty jsonl file
    is no table to DuckDB. The data is loaded by now: a warehouse that refuses an empty load
    (the BigQuery emulator) costs the empty table only, with a warning."""
    try:
        return list(_run(pipeline, destination, empty_quarantine(pipeline.default_schema)).loads_ids)
    except (PackageRejected, PipelineStepFailed) as exc:
        logger.warning("%s: could not create the empty quarantine table (it appears with the"
                       " first quarantined record): %s", pipeline.pipeline_name,
                       str(exc).splitlines()[0][:300])
        if pipeline.has_pending_data:
            # only this empty package can be pending here: the run's data is loaded
            pipeline.abort_packages()
        return []


def _apply_file_format(source: Any, file_format: Optional[str]) -> None:
    """The fast loader format for every table but those replaced whole.

    dlt's DuckDB loader fails on an empty jsonl file for a `replace` table (an empty
    `menus/tree` answer, or a tree already loaded in an earlier slice), while its default
    format empties the table as it should; trees are small, so they keep the default.
    """
    if not file_format:
        return
    for resource in source.selected_resources.values():
        if resource.write_disposition != "replace":
            resource.apply_hints(file_format=file_format)


def _unless_unreachable(destination: Destination, action: Callable[[], T]) -> T:
    """Runs `action`, turning a failure to reach the warehouse into one clear error."""
    try:
        return action()
    except Exception as exc:
        clear = unreachable(exc, destination) or _rejected(exc)
        if clear is not None:
            raise clear from exc
        raise


def _add_rows(summary: RunSummary, pipeline: dlt.Pipeline) -> None:
    trace = pipeline.last_trace
    normalize = trace.last_normalize_info if trace else None
    if normalize is None:
        return
    for table, count in normalize.row_counts.items():
        if not table.startswith("_dlt"):
            summary.rows[table] = summary.rows.get(table, 0) + count


def _describe_table_changes(summary: RunSummary, pipeline: dlt.Pipeline,
                            before: Optional[dict[str, int]], load_ids: RunLoads) -> None:
    after = table_counts(pipeline) if before is not None else None
    if before is None or after is None or not summary.rows:
        return
    tables = pipeline.default_schema.tables
    roots = [n for n in summary.rows if n in after and not tables.get(n, {}).get("parent")
             and tables.get(n, {}).get("write_disposition") == "merge"]
    loaded = distinct_loaded(pipeline, roots, load_ids)
    if loaded is not None:
        summary.changes = describe_changes(tables, summary.rows, before, after, loaded)


def _drop_loaded_packages(pipeline: dlt.Pipeline, keep: Sequence[str]) -> None:
    """Removes the completed load packages of earlier slices: a listener loads every few
    seconds for weeks, and dlt keeps every package's files (the warehouse has the data, and
    `_dlt_loads` the record of each load)."""
    loaded = Path(pipeline.working_dir) / "load" / "loaded"
    for package in loaded.glob("*") if loaded.is_dir() else ():
        if package.name not in keep and package.is_dir():
            shutil.rmtree(package, ignore_errors=True)


def _prune_state_history(pipeline: dlt.Pipeline, destination: Destination) -> None:
    """Keeps a DuckDB warehouse's `_dlt_pipeline_state` to the newest versions
    (pipelines/duckdb_file.py says why)."""
    if engine(destination) != "duckdb":
        return
    try:
        pruned = prune_state_history(pipeline)
    except Exception as exc:  # noqa: BLE001 (housekeeping: the run's data is loaded)
        logger.warning("%s: could not remove old state versions from the warehouse (the next"
                       " run tries again): %s", pipeline.pipeline_name,
                       str(unreachable(exc, destination) or exc).splitlines()[0][:300])
        return
    if pruned:
        logger.debug("%s: removed %d old state version(s) from the warehouse",
                     pipeline.pipeline_name, pruned)


def _step_times(pipeline: dlt.Pipeline) -> str:
    """How long each dlt step of the last run took, e.g. `extract 3.1s, normalize 2.0s`."""
    trace = pipeline.last_trace
    steps = [step for step in (trace.steps if trace else []) if step.finished_at]
    return ", ".join(f"{step.step} {(step.finished_at - step.started_at).total_seconds():.1f}s"
                     for step in steps) or "no steps"


def _resident() -> str:
    """`; 412 MB resident` where the system tells (Linux), for watching a long backfill."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return ""
    return f"; {pages * os.sysconf('SC_PAGE_SIZE') / 2**20:,.0f} MB resident"


def _user_columns(pipeline: dlt.Pipeline) -> dict[str, dict[str, str]]:
    """Tables and their columns (with types) as the pipeline's schema knows them now."""
    if not pipeline.default_schema_name:
        return {}
    return {
        name: {c: col.get("data_type", "?") for c, col in table.get("columns", {}).items()
               if not c.startswith("_dlt")}
        for name, table in pipeline.default_schema.tables.items()
        if not name.startswith("_dlt")
    }


def _describe_schema_changes(summary: RunSummary, before: dict[str, dict[str, str]],
                             after: dict[str, dict[str, str]]) -> None:
    for table, columns in sorted(after.items()):
        if table not in before:
            summary.new_tables.append(table)
        for column, data_type in sorted(columns.items()):
            if column in before.get(table, {}):
                continue
            if "__v_" in column:
                summary.variants.append((table, column, data_type))
            elif table in before:
                summary.new_columns.append((table, column, data_type))
