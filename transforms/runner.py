"""Builds the `contact_center` dataset from the loaded raw data, fully or incrementally.

A full build creates every model in dependency order. An incremental build finds the raw
rows loaded since the last build (by dlt's `_dlt_load_id`), turns them into change feeds
(which contacts, which activity rows changed), replaces the rows of those keys in keyed
models, and rebuilds only the partitions (local dates, 15-minute intervals) that the old or
the new version of a changed record touches. Tables that are neither are rebuilt whole.
Either way the result equals a full rebuild (tests/e2e/test_transforms.py compares them).

All statements of one build run in one transaction where the warehouse has them, so a
failed build leaves the previous tables and state in place and the next run redoes it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, Optional

import dlt
from dlt.common.destination.client import JobClientBase

from transforms.checks import run_checks, run_warnings
from transforms.dialect import RawColumns, RawSource, Target, raw, render, render_sql
from transforms.project import Model, build_order, load_project, project_fingerprint
from transforms.settings import TransformSettings

logger = logging.getLogger(__name__)

STATE_TABLE = "_ccelt_state"
"""One row per build: when, in which zone, from which version of the models, how."""
WATERMARKS_TABLE = "_ccelt_watermarks"
"""Per source instance: the newest of its loads the facts include."""
SOURCES_TABLE = "_ccelt_sources"
"""Every source instance whose raw data the facts are built from, registered by its runs."""


class TransformError(RuntimeError):
    """A build failed; the message names the model or the data test."""


class DataTestFailed(TransformError):
    """The build finished but its data tests found rows that break a rule."""

    def __init__(self, failures: Sequence[str]) -> None:
        super().__init__("data tests failed:\n  " + "\n  ".join(failures))
        self.failures = list(failures)


@dataclass
class BuildResult:
    mode: str
    """`full`, `incremental` or `up-to-date` (nothing loaded since the last build)."""
    reason: str = ""
    seconds: float = 0.0
    loads: int = 0
    changed: dict[str, int] = field(default_factory=dict)
    """Keys per change feed (incremental builds)."""
    partitions: dict[str, int] = field(default_factory=dict)
    """Partitions rebuilt per partitioned model (incremental builds)."""
    rows: dict[str, int] = field(default_factory=dict)
    """Rows per mart after the build."""
    checks: int = 0
    unknown_agents: int = 0
    sources: list[str] = field(default_factory=list)
    """The source instances the facts were built from."""
    warnings: list[str] = field(default_factory=list)
    """What the models' warnings found (data worth a look; the build stands)."""
    partition_causes: dict[str, str] = field(default_factory=dict)
    """Per partitioned model that rebuilt many partitions, the changed row that made it."""


def build(pipeline: dlt.Pipeline, settings: TransformSettings, *,
          sources: Sequence[RawSource] = (), full_refresh: bool = False) -> BuildResult:
    """Brings `settings.dataset` up to date with every registered source instance's loads.

    Args:
        pipeline: any pipeline of the warehouse (for its clients).
        sources: instances to register first (a run registers its own); the build reads
            every instance registered in the warehouse, so one tenant's run keeps the
            others' facts in place.
    """
    with _clients(pipeline, settings.dataset) as (client, job_client):
        return build_with(client, job_client, sources, settings, full_refresh=full_refresh)


def register(pipeline: dlt.Pipeline, settings: TransformSettings,
             sources: Sequence[RawSource]) -> None:
    """Adds `sources` to the warehouse's list of source instances without building: a run
    with `--no-transform` registers what it loaded, so a later `ccelt transform` builds it."""
    with _clients(pipeline, settings.dataset) as (client, _):
        if not client.has_dataset():
            client.create_dataset()
        _register(client, _target(client, settings, ()), sources)


def build_with(client: Any, job_client: Any, sources: Sequence[RawSource],
               settings: TransformSettings, *, full_refresh: bool = False) -> BuildResult:
    """`build` on given clients: dlt's sql client switched to `settings.dataset`, and the
    job client (for the raw tables' columns). Tests drive it with a recording client to see
    every statement a warehouse would get."""
    started = time.monotonic()
    models = load_project()
    order = build_order(models)
    fingerprint = project_fingerprint(models)
    bare = _target(client, settings, ())
    if not client.has_dataset():
        client.create_dataset()
    registered = _register(client, bare, sources)
    target = _target(client, settings, registered)
    raw_columns = _raw_columns(job_client, models, registered)
    state = _last_state(client, target)
    loads = _new_loads(client, target, raw_columns, None)
    result = BuildResult(mode="full")
    if full_refresh:
        result.reason = "asked for a full refresh"
    elif state is None:
        result.reason = "first build"
    elif state["reporting_timezone"] != settings.reporting_timezone:
        result.reason = (f"reporting_timezone changed from {state['reporting_timezone']}"
                         f" to {settings.reporting_timezone}")
    elif state["project"] != fingerprint:
        result.reason = "the models changed"
    else:
        loads = _new_loads(client, target, raw_columns, state["watermarks"])
        result.mode = "incremental" if loads else "up-to-date"
    result.sources = [source.name for source in registered]
    if result.mode == "up-to-date":
        result.seconds = time.monotonic() - started
        return result
    result.loads = sum(len(ids) for ids in loads.values())
    logger.info("transforms: building %s from %s (%s)", settings.dataset,
                ", ".join(result.sources) or "no source yet", result.mode)
    with _build_memory(client, target, settings), _transaction(client, target.dialect):
        if result.mode == "full":
            _build_full(client, target, models, order, raw_columns)
        else:
            _build_incremental(client, target, models, order, raw_columns, loads, result)
            _drop_work_tables(client, target, models)
        _record_state(client, target, settings, fingerprint, loads, state, result.mode)
    result.rows = {name: _count(client, target, name) for name in order
                   if models[name].layer == "marts"}
    result.unknown_agents = _scalar(client, render_sql(
        "select count(*) from contact_center.dim_agents where is_unknown", target))
    failures, result.checks = run_checks(client, target, models)
    result.warnings = run_warnings(client, target, models,
                                   {"long_status_hours": settings.long_status_hours})
    for warning in result.warnings:
        logger.warning("transforms: %s", warning)
    result.seconds = time.monotonic() - started
    logger.info("transforms: %s build of %s in %.1fs (%s)", result.mode, settings.dataset,
                result.seconds, result.reason or f"{result.loads} new load(s)")
    if failures:
        raise DataTestFailed(failures)
    return result


@contextmanager
def _clients(pipeline: dlt.Pipeline, dataset: str) -> Iterator[tuple[Any, JobClientBase]]:
    with ExitStack() as stack:
        job_client: Any = stack.enter_context(pipeline.destination_client())  # type: ignore[arg-type]
        client: Any = stack.enter_context(pipeline.sql_client())  # type: ignore[arg-type]
        stack.enter_context(client.with_alternative_dataset_name(dataset))
        yield client, job_client


def _target(client: Any, settings: TransformSettings, sources: Sequence[RawSource]) -> Target:
    dialect = client.capabilities.sqlglot_dialect or "duckdb"

    def qualified(dataset: str, table: str) -> str:
        with client.with_alternative_dataset_name(dataset):
            return str(client.make_qualified_table_name(table))

    return Target(dialect=dialect, reporting_timezone=settings.reporting_timezone,
                  raw_table=qualified,
                  model_table=lambda table: qualified(settings.dataset, table),
                  sources=tuple(sources))


def _register(client: Any, target: Target, sources: Sequence[RawSource]) -> list[RawSource]:
    """Adds `sources` to the warehouse's list of source instances; returns the whole list.

    The list lives beside the facts, so a build started by one tenant's run (or by `ccelt
    transform`) includes every instance that ever loaded this warehouse.
    """
    table = f"{CC}.{SOURCES_TABLE}"
    _execute(client, render_sql(f"create table if not exists {table} (source text, vendor text,"
                                " dataset text, registered_at timestamp)", target))
    known = {row[0]: RawSource(*row) for row in _rows(client, render_sql(
        f"select source, vendor, dataset from {table}", target))}
    for source in sources:
        if known.get(source.name) == source:
            continue
        _execute(client, render_sql(f"delete from {table} where source = {_literal(source.name)}",
                                    target))
        _execute(client, render_sql(
            f"insert into {table} values ({_literal(source.name)}, {_literal(source.vendor)},"
            f" {_literal(source.dataset)}, current_timestamp)", target))
        known[source.name] = source
    return [known[name] for name in sorted(known)]


def _raw_columns(job_client: Any, models: dict[str, Model],
                 sources: Sequence[RawSource]) -> RawColumns:
    """Columns of the raw tables the staging models read, per source's dataset; a table
    (or a dataset) that does not exist yet is absent."""
    columns: RawColumns = {}
    for source in sources:
        tables = sorted({m.raw_table for m in models.values()
                         if m.vendor == source.vendor and m.raw_table} | {"_dlt_loads"})
        with job_client.sql_client.with_alternative_dataset_name(source.dataset):
            for name, found in job_client.get_storage_tables(tables):
                if found:
                    columns[(source.dataset, name)] = set(found)
    return columns


@contextmanager
def _build_memory(client: Any, target: Target, settings: TransformSettings) -> Iterator[None]:
    """DuckDB builds with `transforms.memory_limit` (default: DuckDB's own) on every core,
    then gives the loads back the smaller limit and the one thread they run with. Other
    warehouses manage their own memory."""
    if target.dialect != "duckdb":
        yield
        return
    with client.execute_query(
            "select current_setting('memory_limit'), current_setting('threads')") as cursor:
        loads_limit, loads_threads = cursor.fetchone()
    if settings.memory_limit:
        client.execute_sql(f"set memory_limit = '{settings.memory_limit.strip()}'")
    else:
        client.execute_sql("reset memory_limit")
    client.execute_sql("reset threads")
    try:
        yield
    finally:
        client.execute_sql(f"set memory_limit = '{loads_limit}'")
        client.execute_sql(f"set threads = {int(loads_threads)}")


@contextmanager
def _transaction(client: Any, dialect: str) -> Iterator[None]:
    if dialect == "bigquery":
        yield  # BigQuery's client has no multi-statement transactions; each statement is atomic
        return
    with client.begin_transaction():
        yield


# Every statement below is written like a model (DuckDB's dialect, `contact_center.` names,
# raw tables through `dialect.raw`) and rendered by transforms.dialect, so no warehouse
# quirk lives here.
CC = "contact_center"


def _build_full(client: Any, target: Target, models: dict[str, Model], order: list[str],
                raw_columns: RawColumns) -> None:
    for name in order:
        model = models[name]
        if model.materialized == "view":
            _create_view(client, target, model, raw_columns)
        else:
            _create_table(client, target, model, raw_columns)


def _build_incremental(client: Any, target: Target, models: dict[str, Model], order: list[str],
                       raw_columns: RawColumns, loads: dict[str, list[str]],
                       result: BuildResult) -> None:
    # the change feeds read the staging views: bring those up to date first, or a source
    # registered since the last build (a new tenant) would be missing from them
    for name in order:
        if models[name].layer == "staging" and models[name].materialized == "view":
            _create_view(client, target, models[name], raw_columns)
    feeds = {model.changes for model in models.values() if model.keyed}
    for feed in sorted(f for f in feeds if f):
        result.changed[feed] = _create_feed(client, target, models, feed, loads)
    partitioned = [models[name] for name in order if models[name].partitioned]
    for model in partitioned:
        _capture_touched(client, target, models, model, create=True)
    for name in order:
        model = models[name]
        if model.materialized == "view":
            _create_view(client, target, model, raw_columns)
        elif model.keyed:
            feed = f"{CC}._ccelt_changed_{model.changes}"
            _run(client, target, f"delete from {CC}.{name} as t where exists"
                                 f" (select 1 from {feed} c where {_match(model, 't')})", model)
            _run(client, target, f"insert into {CC}.{name} select * from ({{select}}) m where exists"
                                 f" (select 1 from {feed} c where {_match(model, 'm')})", model,
                 raw_columns)
        elif model.partitioned:
            _capture_touched(client, target, models, model, create=False)
            touched = f"{CC}._ccelt_touched__{name}"
            column = model.partition_by
            result.partitions[name] = _scalar(client, render_sql(
                f"select count(distinct {column}) from {touched}", target))
            _run(client, target, f"delete from {CC}.{name}"
                                 f" where {column} in (select {column} from {touched})", model)
            _run(client, target, f"insert into {CC}.{name} select * from ({{select}}) m"
                                 f" where m.{column} in (select {column} from {touched})", model,
                 raw_columns)
            if result.partitions[name] >= MANY_PARTITIONS:
                result.partition_causes[name] = _widest_change(client, target, models, model)
        else:
            _create_table(client, target, model, raw_columns)


MANY_PARTITIONS = 100
"""Partitions rebuilt by one incremental build above which the summary says why."""


def _widest_change(client: Any, target: Target, models: dict[str, Model], model: Model) -> str:
    """The changed row of a keyed input that spans the most of `model`'s partitions: a
    status interval closed after years rebuilds every date it covers, and the summary should
    say so rather than leave thousands of rebuilt dates unexplained."""
    column = model.partition_by
    widest: tuple[int, str] = (0, "")
    for upstream in sorted(model.depends_on):
        keyed = models[upstream]
        if not keyed.keyed:
            continue
        keys = ", ".join(f"u.{k}" for k in keyed.unique_key)
        sql = render_sql(
            f"select {keys}, count(distinct u.{column}) as n from {CC}.{upstream} u where exists"
            f" (select 1 from {CC}._ccelt_changed_{keyed.changes} c where {_match(keyed, 'u')})"
            f" group by {keys} order by n desc limit 1", target)
        for row in _rows(client, sql):
            if int(row[-1]) > widest[0]:
                key = ", ".join(f"{k}={v}" for k, v in zip(keyed.unique_key, row[:-1]))
                widest = (int(row[-1]), f"{upstream} ({key})")
    if not widest[0]:
        return ""
    return f"{widest[0]:,} of them for one changed row of {widest[1]}"


def _drop_work_tables(client: Any, target: Target, models: dict[str, Model]) -> None:
    """Change feeds and touched partitions are a build's scratch paper, not for analysts."""
    work = [f"_ccelt_changed_{feed}" for feed in sorted({m.changes for m in models.values()
                                                         if m.keyed and m.changes})]
    work += [f"_ccelt_touched__{m.name}" for m in models.values() if m.partitioned]
    for name in work:
        _run(client, target, _drop_table(target, name))


def _create_feed(client: Any, target: Target, models: dict[str, Model], feed: str,
                 loads: dict[str, list[str]]) -> int:
    """The keys of `feed` (e.g. source, channel, contact_id) that the new loads touched,
    from the staging models that declare `feeds: <feed>`."""
    keys = {m.unique_key for m in models.values() if m.keyed and m.changes == feed}
    if len(keys) != 1:
        raise TransformError(f"models fed by {feed} disagree on its key: {sorted(keys)}")
    columns = ", ".join(keys.pop())
    staging = sorted(m.name for m in models.values() if feed in m.feeds)
    if not staging:
        raise TransformError(f"no staging model feeds {feed} (header `feeds: {feed}`)")
    new = " or ".join(
        f"(source = {_literal(source)} and load_id in ({', '.join(_literal(i) for i in ids)}))"
        for source, ids in sorted(loads.items()) if ids) or "1 = 0"
    parts = [f"select {columns} from {CC}.{name} where {new}" for name in staging]
    table = f"{CC}._ccelt_changed_{feed}"
    _run(client, target, _drop_table(target, f"_ccelt_changed_{feed}"))
    _run(client, target, f"create table {table} as " + " union ".join(parts))
    return _scalar(client, render_sql(f"select count(*) from {table}", target))


def _match(model: Model, alias: str) -> str:
    return " and ".join(f"c.{key} = {alias}.{key}" for key in model.unique_key)


def _capture_touched(client: Any, target: Target, models: dict[str, Model], model: Model,
                     create: bool) -> None:
    """Records the partitions that rows of changed keys occupy in the model's keyed inputs.

    Called before the keyed inputs are updated (the old versions' partitions) and again just
    before the model is rebuilt (the new versions'); the union is what must be rebuilt.
    """
    column = model.partition_by
    selects = [
        f"select distinct u.{column} as {column} from {CC}.{upstream} u where exists"
        f" (select 1 from {CC}._ccelt_changed_{models[upstream].changes} c"
        f" where {_match(models[upstream], 'u')})"
        for upstream in sorted(model.depends_on) if models[upstream].keyed
    ]
    if not selects:
        raise TransformError(f"{model.name} is partitioned by {column} but reads no keyed model")
    union = " union ".join(selects)
    touched = f"{CC}._ccelt_touched__{model.name}"
    if create:
        _run(client, target, _drop_table(target, f"_ccelt_touched__{model.name}"))
        _run(client, target, f"create table {touched} as {union}", model)
    else:
        _run(client, target, f"insert into {touched} {union}", model)


def _create_view(client: Any, target: Target, model: Model, raw_columns: RawColumns) -> None:
    if target.dialect == "postgres":
        # PostgreSQL cannot replace a view whose columns changed
        _run(client, target, f"drop view if exists {CC}.{model.name} cascade")
        _run(client, target, f"create view {CC}.{model.name} as {{select}}", model, raw_columns)
    else:
        _run(client, target, f"create or replace view {CC}.{model.name} as {{select}}", model,
             raw_columns)


def _create_table(client: Any, target: Target, model: Model, raw_columns: RawColumns) -> None:
    _run(client, target, _drop_table(target, model.name))
    _run(client, target, f"create table {CC}.{model.name} as {{select}}", model, raw_columns)


def _drop_table(target: Target, name: str) -> str:
    # PostgreSQL refuses to drop a table a view reads; the views are recreated after it
    cascade = " cascade" if target.dialect == "postgres" else ""
    return f"drop table if exists {CC}.{name}{cascade}"


def _run(client: Any, target: Target, statement: str, model: Optional[Model] = None,
         raw_columns: Optional[dict[str, set[str]]] = None) -> None:
    """Renders `statement` (with the model's SELECT for `{select}`) and executes it."""
    if "{select}" in statement:
        assert model is not None
        sql = render(model, target, raw_columns, statement=statement)
    else:
        sql = render_sql(statement, target)
    _execute(client, sql, model.name if model else None)


def _new_loads(client: Any, target: Target, raw_columns: RawColumns,
               after: Optional[dict[str, str]]) -> dict[str, list[str]]:
    """Per source instance, the load ids dlt completed newer than its watermark in `after`
    (every one when None, or for an instance the last build did not have), oldest first."""
    loads: dict[str, list[str]] = {}
    for source in target.sources:
        if (source.dataset, "_dlt_loads") not in raw_columns:
            continue    # registered, but nothing loaded yet
        condition = "status = 0"
        last = (after or {}).get(source.name)
        if last:
            condition += f" and load_id > {_literal(last)}"
        sql = render_sql(f"select load_id from {raw(source.dataset, '_dlt_loads')}"
                         f" where {condition} order by load_id", target)
        found = [row[0] for row in _rows(client, sql)]
        if found:
            loads[source.name] = found
    return loads


def _last_state(client: Any, target: Target) -> Optional[dict[str, Any]]:
    """The last build's zone and models, and each source's watermark; None before the first
    build (or after one by an older ccelt, whose state had no watermarks per source)."""
    try:
        rows = _rows(client, render_sql(
            f"select reporting_timezone, project from {CC}.{STATE_TABLE}"
            " order by built_at desc limit 1", target))
        watermarks = _rows(client, render_sql(
            f"select source, last_load_id from {CC}.{WATERMARKS_TABLE}", target))
    except Exception:  # noqa: BLE001 (no state tables yet: a first build)
        return None
    if not rows:
        return None
    return {"reporting_timezone": rows[0][0], "project": rows[0][1],
            "watermarks": {source: load for source, load in watermarks}}


def _record_state(client: Any, target: Target, settings: TransformSettings, fingerprint: str,
                  loads: dict[str, list[str]], state: Optional[dict[str, Any]],
                  mode: str) -> None:
    if mode == "full":
        # a full build starts the state over: an older ccelt's state table has other columns
        for name in (STATE_TABLE, WATERMARKS_TABLE):
            _execute(client, render_sql(_drop_table(target, name), target))
    _execute(client, render_sql(
        f"create table if not exists {CC}.{STATE_TABLE} (built_at timestamp,"
        " reporting_timezone text, project text, mode text)", target))
    _execute(client, render_sql(
        f"create table if not exists {CC}.{WATERMARKS_TABLE} (source text, last_load_id text)",
        target))
    values = ", ".join(_literal(v) for v in (settings.reporting_timezone, fingerprint, mode))
    _execute(client, render_sql(
        f"insert into {CC}.{STATE_TABLE} values (current_timestamp, {values})", target))
    for source, ids in sorted(loads.items()):
        _execute(client, render_sql(
            f"delete from {CC}.{WATERMARKS_TABLE} where source = {_literal(source)}", target))
        _execute(client, render_sql(
            f"insert into {CC}.{WATERMARKS_TABLE} values ({_literal(source)}, {_literal(ids[-1])})",
            target))


def _literal(value: Optional[str]) -> str:
    return "null" if value is None else "'" + str(value).replace("'", "''") + "'"


def _rows(client: Any, sql: str) -> list[tuple[Any, ...]]:
    with client.execute_query(sql) as cursor:
        return [tuple(row) for row in cursor.fetchall()]


def _count(client: Any, target: Target, name: str) -> int:
    return _scalar(client, render_sql(f"select count(*) from {CC}.{name}", target))


def _scalar(client: Any, sql: str) -> int:
    with client.execute_query(sql) as cursor:
        return int(cursor.fetchone()[0])


def _execute(client: Any, sql: str, model: Optional[str] = None) -> None:
    try:
        client.execute_sql(sql)
    except Exception as exc:
        where = f" building {model}" if model else ""
        raise TransformError(f"SQL failed{where}: {exc}\n{sql[:2000]}") from exc
