"""Data tests declared in model headers, run after every build.

Each test selects the rows that break its rule; a failure names the model, the rule, how
many rows break it and the keys of the first few.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from transforms.dialect import Target, render_sql
from transforms.project import TARGET, Check, Model

SAMPLE = 5


def run_checks(client: Any, target: Target, models: dict[str, Model]) -> tuple[list[str], int]:
    """Runs every model's tests; returns (failure messages, tests run)."""
    return _run(client, target, models, lambda model: model.checks, {})


def run_warnings(client: Any, target: Target, models: dict[str, Model],
                 settings: Mapping[str, Any]) -> list[str]:
    """Runs every model's warnings, `{name}` in them replaced by `settings[name]`; returns
    what they found. A warning reports data worth a look, but never fails a build."""
    return _run(client, target, models, lambda model: model.warnings, settings, per_key=True)[0]


def _run(client: Any, target: Target, models: dict[str, Model],
         checks_of: Callable[[Model], list[Check]],
         settings: Mapping[str, Any], per_key: bool = False) -> tuple[list[str], int]:
    """`per_key`: count and show what breaks a rule by the model's unique key (one status
    interval), not by row (each of its thousand daily pieces)."""
    found: list[str] = []
    count = 0
    for model in models.values():
        keys = model.unique_key if per_key and model.unique_key else _key_columns(model)
        for check in checks_of(model):
            count += 1
            if settings:
                check = Check(check.kind, tuple(a.format(**settings) for a in check.arguments))
            offending = _offending_rows(model, check, keys, distinct=per_key and bool(keys))
            sql = render_sql(offending, target)
            with client.execute_query(sql) as cursor:
                rows = cursor.fetchall()
            if rows:
                found.append(_describe(model, check, keys, rows, client, target, offending))
    return found, count


def _key_columns(model: Model) -> tuple[str, ...]:
    for check in model.checks:
        if check.kind == "unique":
            return check.arguments
    return model.unique_key


def _offending_rows(model: Model, check: Check, keys: tuple[str, ...],
                    distinct: bool = False) -> str:
    """`distinct`: each offending key once, however many rows it has."""
    table = f"{TARGET}.{model.name}"
    shown = ("distinct " if distinct else "") + (", ".join(keys) if keys else "*")
    args = check.arguments
    if check.kind == "unique":
        columns = ", ".join(args)
        return (f"select {columns}, count(*) as copies from {table} group by {columns}"
                " having count(*) > 1")
    if check.kind == "not_null":
        return f"select {shown} from {table} where " + " or ".join(f"{a} is null" for a in args)
    if check.kind == "non_negative":
        return f"select {shown} from {table} where " + " or ".join(f"{a} < 0" for a in args)
    if check.kind == "assert":
        return f"select {shown} from {table} where not ({args[0]})"
    if check.kind == "references":
        column, reference = args
        other, other_column = reference.rsplit(".", 1)
        # keys are per source: an agent id means nothing without the source it came from
        return (f"select distinct source, {column} from {table} t where {column} is not null"
                f" and not exists (select 1 from {TARGET}.{other} r where r.source = t.source"
                f" and r.{other_column} = t.{column})")
    raise ValueError(f"unknown test {check.kind}")


def _describe(model: Model, check: Check, keys: tuple[str, ...], rows: list[tuple[Any, ...]],
              client: Any, target: Target, offending: str) -> str:
    with client.execute_query(render_sql(f"select count(*) from ({offending}) broken", target)) as cursor:
        total = cursor.fetchone()[0]
    names = check.arguments if check.kind in ("unique",) else (
        ("source", check.arguments[0]) if check.kind == "references" else keys)
    samples = "; ".join(
        ", ".join(f"{n}={v}" for n, v in zip(names, row, strict=False)) if names else str(row)
        for row in rows[:SAMPLE])
    return f"{model.name}: {check.describe()} broken by {total} row(s), e.g. {samples}"
