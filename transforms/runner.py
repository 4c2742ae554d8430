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

from transforms.checks import run_checks
from transforms.dialect import Target, render, render_sql
from transforms.project import Model, build_order, load_project, project_fingerprint
from transforms.settings import TransformSettings

logger = logging.getLogger(__name__)

STATE_TABLE = "_ccelt_state"
FEED_KEYS: dict[str, str] = {
    # feed -> an empty relation with the feed's key columns, for tenants without the table
    "contacts": "select cast(null as text) as channel, cast(null as bigint) as contact_id where 1 = 0",
    "activity": "select cast(null as bigint) as activity_id where 1 = 0",
}
FEEDS: dict[str, dict[str, str]] = {
    # feed -> raw root table -> SELECT of the changed keys from rows of the new loads
    "contacts": {
        "calls": "select 'call' as channel, id as contact_id from ujet.calls",
        "chats": "select 'chat' as channel, id as contact_id from ujet.chats",
        "emails": "select 'email' as channel, id as contact_id from ujet.emails",
    },
    "activity": {
        "agent_activity_logs": "select id as activity_id from ujet.agent_activity_logs",
    },
}


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


def build(pipeline: dlt.Pipeline, settings: TransformSettings, *, full_refresh: bool = False) -> BuildResult:
    """Brings `settings.dataset` up to date with what `pipeline` has loaded."""
    started = time.monotonic()
    models = load_project()
    order = build_order(models)
    fingerprint = project_fingerprint(models)
    with _clients(pipeline, settings.dataset) as (client, job_client):
        target = _target(client, pipeline.dataset_name, settings)
        if not client.has_dataset():
            client.create_dataset()
        loads = _new_loads(client, target, None)
        state = _last_state(client, target)
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
            loads = _new_loads(client, target, state["last_load_id"])
            result.mode = "incremental" if loads else "up-to-date"
        if result.mode == "up-to-date":
            result.seconds = time.monotonic() - started
            return result
        result.loads = len(loads)
        raw_columns = _raw_columns(job_client, pipeline)
        with _transaction(client, target.dialect):
            if result.mode == "full":
                _build_full(client, target, models, order, raw_columns)
            else:
                _build_incremental(client, target, models, order, raw_columns, loads, result)
                _drop_work_tables(client, target, models)
            _record_state(client, target, settings, fingerprint, loads, result.mode)
        result.rows = {name: _count(client, target, name) for name in order
                       if models[name].layer == "marts"}
        result.unknown_agents = _scalar(client, render_sql(
            "select count(*) from contact_center.dim_agents where is_unknown", target))
        failures, result.checks = run_checks(client, target, models)
        result.seconds = time.monotonic() - started
        logger.info("transforms: %s build of %s in %.1fs (%s)", result.mode, settings.dataset,
                    result.seconds, result.reason or f"{len(loads)} new load(s)")
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


def _target(client: Any, raw_dataset: str, settings: TransformSettings) -> Target:
    dialect = client.capabilities.sqlglot_dialect or "duckdb"

    def qualified(dataset: str, table: str) -> str:
        with client.with_alternative_dataset_name(dataset):
            return str(client.make_qualified_table_name(table))

    return Target(dialect=dialect, reporting_timezone=settings.reporting_timezone,
                  raw_table=lambda table: qualified(raw_dataset, table),
                  model_table=lambda table: qualified(settings.dataset, table))


@contextmanager
def _transaction(client: Any, dialect: str) -> Iterator[None]:
    if dialect == "bigquery":
        yield  # BigQuery's client has no multi-statement transactions; each statement is atomic
        return
    with client.begin_transaction():
        yield


def _raw_columns(job_client: JobClientBase, pipeline: dlt.Pipeline) -> dict[str, set[str]]:
    """Columns of every raw table that exists in the warehouse now."""
    if not pipeline.default_schema_name:
        return {}
    names = [t for t in pipeline.default_schema.tables if not t.startswith("_dlt")]
    return {name: set(columns) for name, columns in job_client.get_storage_tables(names) if columns}


def _build_full(client: Any, target: Target, models: dict[str, Model], order: list[str],
                raw_columns: dict[str, set[str]]) -> None:
    for name in order:
        model = models[name]
        sql = render(model, target, raw_columns)
        if model.materialized == "view":
            _create_view(client, target, name, sql)
        else:
            _execute(client, f"drop {_drop_table(target, name)}")
            _execute(client, f"create table {target.model_table(name)} as {sql}", name)


def _build_incremental(client: Any, target: Target, models: dict[str, Model], order: list[str],
                       raw_columns: dict[str, set[str]], loads: list[str],
                       result: BuildResult) -> None:
    feeds = {model.changes for model in models.values() if model.keyed}
    for feed in sorted(f for f in feeds if f):
        result.changed[feed] = _create_feed(client, target, feed, loads, raw_columns)
    partitioned = [models[name] for name in order if models[name].partitioned]
    for model in partitioned:
        _capture_touched(client, target, models, model, create=True)
    for name in order:
        model = models[name]
        sql = render(model, target, raw_columns)
        table = target.model_table(name)
        if model.materialized == "view":
            _create_view(client, target, name, sql)
        elif model.keyed:
            feed, match = _feed_match(target, model, "t")
            _execute(client, f"delete from {table} as t where exists (select 1 from {feed} c where {match})", name)
            feed, match = _feed_match(target, model, "m")
            _execute(client, f"insert into {table} select * from ({sql}) m"
                             f" where exists (select 1 from {feed} c where {match})", name)
        elif model.partitioned:
            _capture_touched(client, target, models, model, create=False)
            touched = target.model_table(f"_ccelt_touched__{name}")
            column = model.partition_by
            result.partitions[name] = _scalar(client, f"select count(distinct {column}) from {touched}")
            _execute(client, f"delete from {table} where {column} in (select {column} from {touched})", name)
            _execute(client, f"insert into {table} select * from ({sql}) m"
                             f" where m.{column} in (select {column} from {touched})", name)
        else:
            _execute(client, f"drop {_drop_table(target, name)}")
            _execute(client, f"create table {table} as {sql}", name)


def _drop_work_tables(client: Any, target: Target, models: dict[str, Model]) -> None:
    """Change feeds and touched partitions are a build's scratch paper, not for analysts."""
    work = [f"_ccelt_changed_{feed}" for feed in FEEDS]
    work += [f"_ccelt_touched__{m.name}" for m in models.values() if m.partitioned]
    for name in work:
        _execute(client, f"drop {_drop_table(target, name)}")


def _create_feed(client: Any, target: Target, feed: str, loads: list[str],
                 raw_columns: dict[str, set[str]]) -> int:
    table = target.model_table(f"_ccelt_changed_{feed}")
    load_list = ", ".join("'" + load.replace("'", "''") + "'" for load in loads)
    parts = [f"{select} where _dlt_load_id in ({load_list})"
             for raw, select in FEEDS[feed].items() if raw in raw_columns]
    if not parts:
        parts = [FEED_KEYS[feed]]
    _execute(client, f"drop {_drop_table(target, f'_ccelt_changed_{feed}')}")
    _execute(client, f"create table {table} as " + render_sql(" union all ".join(parts), target))
    return _scalar(client, f"select count(*) from {table}")


def _feed_match(target: Target, model: Model, alias: str) -> tuple[str, str]:
    feed = target.model_table(f"_ccelt_changed_{model.changes}")
    return feed, " and ".join(f"c.{key} = {alias}.{key}" for key in model.unique_key)


def _capture_touched(client: Any, target: Target, models: dict[str, Model], model: Model,
                     create: bool) -> None:
    """Records the partitions that rows of changed keys occupy in the model's keyed inputs.

    Called before the keyed inputs are updated (the old versions' partitions) and again just
    before the model is rebuilt (the new versions'); the union is what must be rebuilt.
    """
    column = model.partition_by
    touched = target.model_table(f"_ccelt_touched__{model.name}")
    selects = []
    for upstream in sorted(model.depends_on):
        source = models[upstream]
        if source.keyed:
            feed, match = _feed_match(target, source, "u")
            selects.append(f"select distinct u.{column} as {column} from {target.model_table(upstream)} u"
                           f" where exists (select 1 from {feed} c where {match})")
    if not selects:
        raise TransformError(f"{model.name} is partitioned by {column} but reads no keyed model")
    union = " union ".join(selects)
    if create:
        _execute(client, f"drop {_drop_table(target, f'_ccelt_touched__{model.name}')}")
        _execute(client, f"create table {touched} as {union}", model.name)
    else:
        _execute(client, f"insert into {touched} {union}", model.name)


def _create_view(client: Any, target: Target, name: str, sql: str) -> None:
    view = target.model_table(name)
    if target.dialect == "postgres":
        # PostgreSQL cannot replace a view whose columns changed
        _execute(client, f"drop view if exists {view} cascade")
        _execute(client, f"create view {view} as {sql}", name)
    else:
        _execute(client, f"create or replace view {view} as {sql}", name)


def _drop_table(target: Target, name: str) -> str:
    # PostgreSQL refuses to drop a table a view reads; the views are recreated after it
    cascade = " cascade" if target.dialect == "postgres" else ""
    return f"table if exists {target.model_table(name)}{cascade}"


def _new_loads(client: Any, target: Target, after: Optional[str]) -> list[str]:
    """Load ids dlt completed, newer than `after` (all when None), oldest first."""
    loads_table = target.raw_table("_dlt_loads")
    condition = "status = 0" + (" and load_id > '" + after.replace("'", "''") + "'" if after else "")
    with client.execute_query(f"select load_id from {loads_table} where {condition} order by load_id") as cursor:
        return [row[0] for row in cursor.fetchall()]


def _last_state(client: Any, target: Target) -> Optional[dict[str, Any]]:
    state = target.model_table(STATE_TABLE)
    try:
        with client.execute_query(
                f"select reporting_timezone, project, last_load_id from {state}"
                " order by built_at desc limit 1") as cursor:
            row = cursor.fetchone()
    except Exception:  # noqa: BLE001 (no state table yet: a first build)
        return None
    if row is None:
        return None
    return {"reporting_timezone": row[0], "project": row[1], "last_load_id": row[2]}


def _record_state(client: Any, target: Target, settings: TransformSettings, fingerprint: str,
                  loads: list[str], mode: str) -> None:
    _execute(client, render_sql(
        f"create table if not exists contact_center.{STATE_TABLE} (built_at timestamp,"
        " reporting_timezone text, project text, last_load_id text, mode text)", target))
    last = loads[-1] if loads else None
    if last is None:
        previous = _last_state(client, target)
        last = previous["last_load_id"] if previous else None
    values = ", ".join(
        "null" if v is None else "'" + str(v).replace("'", "''") + "'"
        for v in (settings.reporting_timezone, fingerprint, last, mode))
    _execute(client, render_sql(
        f"insert into contact_center.{STATE_TABLE} values (current_timestamp, {values})", target))


def _count(client: Any, target: Target, name: str) -> int:
    return _scalar(client, f"select count(*) from {target.model_table(name)}")


def _scalar(client: Any, sql: str) -> int:
    with client.execute_query(sql) as cursor:
        return int(cursor.fetchone()[0])


def _execute(client: Any, sql: str, model: Optional[str] = None) -> None:
    try:
        client.execute_sql(sql)
    except Exception as exc:
        where = f" building {model}" if model else ""
        raise TransformError(f"SQL failed{where}: {exc}\n{sql[:2000]}") from exc
