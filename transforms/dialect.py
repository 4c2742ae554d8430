"""Everything that differs between warehouses, in one place.

Models are written once in DuckDB's dialect. `render` turns one into SQL for the warehouse:

* sqlglot translates the SQL to the target dialect;
* five macros, written in models as ordinary function calls, become the target's own
  expressions (sqlglot cannot translate time zones and epoch arithmetic faithfully):
  `ccelt_local(ts)` (a UTC instant as wall-clock time in the reporting zone),
  `ccelt_utc(wall_clock)` (the reverse), `ccelt_milliseconds(a, b)` (whole milliseconds
  from a to b: integers add up the same in any order, floating-point seconds do not),
  `ccelt_floor15(wall_clock)` (start of its 15-minute interval) and `ccelt_add_days(date, n)`;
* a staging model (which reads `<vendor>.<table>`) becomes one SELECT per instance of that
  vendor (`ujet`, `ujet_acme`, ...), each reading its own raw dataset and tagging its rows
  with the instance's name in a first column, `source`, all joined by UNION ALL; with no
  instance it is an empty relation of the same columns;
* `contact_center.<model>` and raw tables become the real, quoted dataset names;
* a staging model's raw table gets a shim when columns (or the table) do not exist yet:
  dlt creates a column only once a value arrives, so a young tenant may lack `rating`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional

import sqlglot
from sqlglot import exp

from transforms.project import TARGET, Model

MACROS: dict[str, dict[str, str]] = {
    "CCELT_LOCAL": {
        "duckdb": "timezone({tz}, {0})",
        "postgres": "({0} AT TIME ZONE {tz})",
        "bigquery": "DATETIME({0}, {tz})",
    },
    "CCELT_UTC": {
        "duckdb": "timezone({tz}, {0})",
        "postgres": "({0} AT TIME ZONE {tz})",
        "bigquery": "TIMESTAMP({0}, {tz})",
    },
    "CCELT_MILLISECONDS": {
        "duckdb": "(epoch_ms({1}) - epoch_ms({0}))",
        "postgres": "CAST(ROUND(EXTRACT(EPOCH FROM ({1} - {0})) * 1000) AS BIGINT)",
        "bigquery": "TIMESTAMP_DIFF({1}, {0}, MILLISECOND)",
    },
    "CCELT_ADD_DAYS": {
        "duckdb": "CAST({0} + INTERVAL ({1}) DAY AS DATE)",
        "postgres": "CAST({0} + ({1}) * INTERVAL '1 day' AS DATE)",
        "bigquery": "DATE_ADD({0}, INTERVAL {1} DAY)",
    },
    "CCELT_FLOOR15": {
        "duckdb": "time_bucket(INTERVAL 15 MINUTE, {0})",
        "postgres": "date_bin('15 minutes', {0}, TIMESTAMP '2000-01-01')",
        "bigquery": "DATETIME_ADD(DATETIME_TRUNC({0}, HOUR), INTERVAL DIV(EXTRACT(MINUTE FROM {0}), 15) * 15 MINUTE)",
    },
}
SUPPORTED = ("duckdb", "postgres", "bigquery")


RAW_PREFIX = "ccelt_raw__"
"""Statements name a raw table of dataset `d` as `ccelt_raw__d.<table>` until rendered."""


class DialectError(ValueError):
    """The warehouse speaks a dialect the transforms do not support."""


@dataclass(frozen=True)
class RawSource:
    """One source instance the facts are built from: its name in the `source` column, the
    vendor whose staging models read it, and its raw dataset."""

    name: str
    vendor: str
    dataset: str


RawColumns = dict[tuple[str, str], set[str]]
"""Columns of each existing raw table, by (dataset, table)."""


def raw(dataset: str, table: str) -> str:
    """How a statement names a raw table before rendering."""
    return f"{RAW_PREFIX}{dataset}.{table}"


@dataclass(frozen=True)
class Target:
    """Where and how to render: the dialect, the reporting zone, the real table names and
    the source instances present."""

    dialect: str
    reporting_timezone: str
    raw_table: Callable[[str, str], str]
    """Quoted, qualified name of a raw table, from its dataset and name."""
    model_table: Callable[[str], str]
    """Quoted, qualified name of a model's table or view."""
    sources: tuple[RawSource, ...] = ()

    def __post_init__(self) -> None:
        if self.dialect not in SUPPORTED:
            raise DialectError(f"transforms support {', '.join(SUPPORTED)}, not {self.dialect}")


def render(model: Model, target: Target, raw_columns: Optional[RawColumns] = None,
           statement: str = "{select}") -> str:
    """The model's SELECT, or a `statement` around it, ready to run on the target warehouse.

    Args:
        raw_columns: columns each existing raw table has; staging models get typed NULLs for
            the columns they declare but the table lacks, and an empty table if it is missing.
        statement: DuckDB-dialect SQL with `{select}` where the model's SELECT goes, e.g.
            `create table contact_center.x as {select}`.
    """
    tree = (_staging_select(model, target, raw_columns or {}) if model.source
            else sqlglot.parse_one(model.sql, read="duckdb"))
    if statement != "{select}":
        tree = sqlglot.parse_one(statement.replace("{select}", tree.sql(dialect="duckdb")), read="duckdb")
    _qualify_tables(tree, target)
    _expand_macros(tree, target)
    return tree.sql(dialect=target.dialect)


def render_sql(sql: str, target: Target) -> str:
    """Any statement the runner writes in DuckDB's dialect, rendered like a model."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    _qualify_tables(tree, target)
    _expand_macros(tree, target)
    return tree.sql(dialect=target.dialect)


def _staging_select(model: Model, target: Target, raw_columns: RawColumns) -> exp.Expr:
    """The staging model over every instance of its vendor, each row tagged with `source`."""
    instances = [s for s in target.sources if s.vendor == model.vendor]
    parts: list[exp.Expr] = []
    for instance in instances or [None]:
        tree = sqlglot.parse_one(model.sql, read="duckdb")
        dataset = instance.dataset if instance else None
        present = raw_columns.get((dataset, model.raw_table or "")) if dataset else None
        _shim_source(tree, model, dataset, present)
        name = (exp.Literal.string(instance.name) if instance
                else exp.cast(exp.null(), "text", dialect="duckdb"))
        parts.append(exp.select(exp.alias_(name, "source"), exp.Star())
                     .from_(exp.Subquery(this=tree, alias=exp.TableAlias(
                         this=exp.to_identifier("staged")))))
    union = parts[0]
    for part in parts[1:]:
        union = exp.union(union, part, distinct=False)
    return union


def _qualify_tables(tree: exp.Expr, target: Target) -> None:
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    for table in list(tree.find_all(exp.Table)):
        if table.name in ctes and not table.db:
            continue
        if table.db.startswith(RAW_PREFIX):
            real = target.raw_table(table.db[len(RAW_PREFIX):], table.name)
        elif table.db == TARGET:
            real = target.model_table(table.name)
        else:
            continue
        replacement = exp.to_table(real, dialect=target.dialect)
        if table.alias:
            replacement.set("alias", table.args["alias"])
        table.replace(replacement)


def _shim_source(tree: exp.Expr, model: Model, dataset: Optional[str],
                 present: Optional[set[str]]) -> None:
    """Points the model's raw table at `dataset`, through a shim of typed NULLs for the
    declared columns the table lacks, or an empty relation if it (or the dataset) is missing."""
    vendor, raw_name = model.vendor, model.raw_table or ""
    if present is not None and set(model.columns) <= present:
        replacement: exp.Expr = exp.to_table(raw(str(dataset), raw_name))
    else:
        selected: list[exp.Expr] = []
        for column, data_type in model.columns.items():
            if present is not None and column in present:
                selected.append(exp.column(column))
            else:
                selected.append(exp.alias_(exp.cast(exp.null(), data_type, dialect="duckdb"), column))
        shim = exp.select(*selected)
        if present is None:
            shim = shim.where(exp.false())
        else:
            shim = shim.from_(exp.to_table(raw(str(dataset), raw_name)))
        replacement = shim
    for table in list(tree.find_all(exp.Table)):
        if table.db == vendor and table.name == raw_name:
            alias = table.alias or raw_name
            if isinstance(replacement, exp.Table):
                new = replacement.copy()
                new.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
            else:
                new = exp.Subquery(this=replacement.copy(),
                                   alias=exp.TableAlias(this=exp.to_identifier(alias)))
            table.replace(new)


def _expand_macros(tree: exp.Expr, target: Target) -> None:
    tz = exp.Literal.string(target.reporting_timezone).sql(dialect=target.dialect)
    while True:
        calls = [node for node in tree.find_all(exp.Anonymous) if str(node.this).upper() in MACROS
                 and not any(str(inner.this).upper() in MACROS
                             for inner in node.find_all(exp.Anonymous) if inner is not node)]
        if not calls:
            return
        for call in calls:
            template = MACROS[str(call.this).upper()][target.dialect]
            arguments = [argument.sql(dialect=target.dialect) for argument in call.expressions]
            expanded = sqlglot.parse_one(template.format(*arguments, tz=tz), read=target.dialect)
            call.replace(exp.Paren(this=expanded))
