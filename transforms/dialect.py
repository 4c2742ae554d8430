"""Everything that differs between warehouses, in one place.

Models are written once in DuckDB's dialect. `render` turns one into SQL for the warehouse:

* sqlglot translates the SQL to the target dialect;
* five macros, written in models as ordinary function calls, become the target's own
  expressions (sqlglot cannot translate time zones and epoch arithmetic faithfully):
  `ccelt_local(ts)` (a UTC instant as wall-clock time in the reporting zone),
  `ccelt_utc(wall_clock)` (the reverse), `ccelt_milliseconds(a, b)` (whole milliseconds
  from a to b: integers add up the same in any order, floating-point seconds do not),
  `ccelt_floor15(wall_clock)` (start of its 15-minute interval) and `ccelt_add_days(date, n)`;
* `ujet.<table>` and `contact_center.<model>` become the real, quoted dataset names;
* a staging model's raw table gets a shim when columns (or the table) do not exist yet:
  dlt creates a column only once a value arrives, so a young tenant may lack `rating`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional

import sqlglot
from sqlglot import exp

from transforms.project import RAW, TARGET, Model

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


class DialectError(ValueError):
    """The warehouse speaks a dialect the transforms do not support."""


@dataclass(frozen=True)
class Target:
    """Where and how to render: the dialect, the reporting zone, and the real table names."""

    dialect: str
    reporting_timezone: str
    raw_table: Callable[[str], str]
    """Quoted, qualified name of a raw table."""
    model_table: Callable[[str], str]
    """Quoted, qualified name of a model's table or view."""

    def __post_init__(self) -> None:
        if self.dialect not in SUPPORTED:
            raise DialectError(f"transforms support {', '.join(SUPPORTED)}, not {self.dialect}")


def render(model: Model, target: Target, raw_columns: Optional[dict[str, set[str]]] = None,
           statement: str = "{select}") -> str:
    """The model's SELECT, or a `statement` around it, ready to run on the target warehouse.

    Args:
        raw_columns: columns each existing raw table has; staging models get typed NULLs for
            the columns they declare but the table lacks, and an empty table if it is missing.
        statement: DuckDB-dialect SQL with `{select}` where the model's SELECT goes, e.g.
            `create table contact_center.x as {select}`.
    """
    tree = sqlglot.parse_one(model.sql, read="duckdb")
    if model.source:
        _shim_source(tree, model, target, raw_columns or {})
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


def _qualify_tables(tree: exp.Expr, target: Target) -> None:
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    for table in list(tree.find_all(exp.Table)):
        if table.name in ctes and not table.db:
            continue
        if table.db == RAW:
            real = target.raw_table(table.name)
        elif table.db == TARGET:
            real = target.model_table(table.name)
        else:
            continue
        replacement = exp.to_table(real, dialect=target.dialect)
        if table.alias:
            replacement.set("alias", table.args["alias"])
        table.replace(replacement)


def _shim_source(tree: exp.Expr, model: Model, target: Target,
                 raw_columns: dict[str, set[str]]) -> None:
    raw_name = model.source.split(".", 1)[1] if model.source and "." in model.source else model.source
    present = raw_columns.get(raw_name or "")
    if present is not None and set(model.columns) <= present:
        return
    selected: list[exp.Expr] = []
    for column, data_type in model.columns.items():
        if present is not None and column in present:
            selected.append(exp.column(column))
        else:
            selected.append(exp.alias_(exp.cast(exp.null(), data_type, dialect="duckdb"), column))
    shim = exp.select(*selected)
    if present is None:
        # the raw table does not exist yet: an empty relation with the declared columns
        shim = shim.where(exp.false())
    else:
        shim = shim.from_(exp.to_table(f"{RAW}.{raw_name}"))
    for table in list(tree.find_all(exp.Table)):
        if table.db == RAW and table.name == raw_name:
            table.replace(exp.Subquery(this=shim, alias=exp.TableAlias(
                this=exp.to_identifier(table.alias or raw_name))))


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
