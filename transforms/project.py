"""The SQL models: where they live, what their headers declare, what they depend on.

A model is one `.sql` file under `transforms/models/<layer>/` (staging models one folder
deeper, per vendor: `staging/<vendor>/`), written once in DuckDB's dialect. A staging model
reads one raw table, named `<vendor>.<table>` in its `source` header; it is built once over
every instance of that vendor (its tenants), each instance's rows tagged with its `source`
name. Other models reference models as `contact_center.<model>`. The runner maps these names
to the real datasets and translates the SQL to the warehouse's dialect. Dependencies are read from those references with sqlglot,
never listed by hand. A header of `-- key: value` comment lines says how to build and check
the model:

    -- materialized: view | table | incremental
    -- unique_key: channel, contact_id         (incremental by key: rows of changed keys)
    -- changes: contacts | activity            (which change feed names the changed keys)
    -- partition_by: local_date                (incremental by partition: touched dates)
    -- source: ujet.calls                      (staging: the vendor and raw table it reads)
    -- feeds: contacts                         (staging: its new rows' keys feed this change feed;
                                               several, comma-separated, for a table two feeds read)
    -- columns: id bigint, lang text, ...      (staging: raw columns it needs, with types)
    -- tests: unique(a, b); not_null(a); non_negative(x); assert(a <= b); references(agent_id, dim_agents.agent_id)
    -- warnings: assert(...)                   (like tests, but reported, never failing the build;
                                               `{setting}` is replaced by a transforms setting)
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Optional

import sqlglot
from sqlglot import exp

MODELS_DIR = Path(__file__).parent / "models"
LAYERS = ("staging", "intermediate", "marts")
TARGET = "contact_center"
"""How models name their own dataset; the runner maps it to the configured one."""

_HEADER = re.compile(r"^--\s*(\w+):\s*(.*?)\s*$")


class ProjectError(ValueError):
    """A model file is malformed: bad header, unknown reference, dependency cycle."""


@dataclass(frozen=True)
class Check:
    """One data test: `unique`, `not_null`, `non_negative`, `assert` or `references`."""

    kind: str
    arguments: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.kind}({', '.join(self.arguments)})"


@dataclass
class Model:
    name: str
    layer: str
    path: Path
    sql: str
    materialized: str = "table"
    unique_key: tuple[str, ...] = ()
    changes: Optional[str] = None
    partition_by: Optional[str] = None
    source: Optional[str] = None
    feeds: tuple[str, ...] = ()
    columns: dict[str, str] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    warnings: list[Check] = field(default_factory=list)
    depends_on: set[str] = field(default_factory=set)

    @property
    def keyed(self) -> bool:
        return self.materialized == "incremental" and bool(self.unique_key)

    @property
    def partitioned(self) -> bool:
        return self.materialized == "incremental" and self.partition_by is not None

    @property
    def vendor(self) -> Optional[str]:
        """The vendor whose raw data a staging model reads (`ujet` of `ujet.calls`)."""
        return self.source.split(".", 1)[0] if self.source else None

    @property
    def raw_table(self) -> Optional[str]:
        """The raw table a staging model reads (`calls` of `ujet.calls`)."""
        return self.source.split(".", 1)[1] if self.source else None


def load_project(models_dir: Path = MODELS_DIR) -> dict[str, Model]:
    """Every model, keyed by name, with its dependencies resolved and checked."""
    models: dict[str, Model] = {}
    for layer in LAYERS:
        for path in sorted((models_dir / layer).rglob("*.sql")):
            model = _parse(path, layer)
            if model.name in models:
                raise ProjectError(f"two models are named {model.name}: {path} and {models[model.name].path}")
            models[model.name] = model
    for model in models.values():
        unknown = model.depends_on - set(models)
        if unknown:
            raise ProjectError(f"{model.path.name} references {TARGET}.{sorted(unknown)[0]}, which is no model")
    build_order(models)
    return models


def build_order(models: dict[str, Model]) -> list[str]:
    """Model names, each after everything it reads."""
    try:
        return list(TopologicalSorter({m.name: m.depends_on for m in models.values()}).static_order())
    except Exception as exc:  # graphlib.CycleError
        raise ProjectError(f"models depend on each other in a cycle: {exc}") from exc


def project_fingerprint(models: dict[str, Model]) -> str:
    """Changes whenever any model's text changes: a changed model means a full rebuild."""
    digest = hashlib.sha256()
    for name in sorted(models):
        digest.update(name.encode())
        digest.update(models[name].path.read_bytes())
    return digest.hexdigest()[:16]


def _parse(path: Path, layer: str) -> Model:
    text = path.read_text("utf-8")
    model = Model(name=path.stem, layer=layer, path=path, sql=text)
    for line in text.splitlines():
        match = _HEADER.match(line)
        if not match:
            if line.strip() and not line.lstrip().startswith("--"):
                break
            continue
        key, value = match.groups()
        if key == "materialized":
            if value not in ("view", "table", "incremental"):
                raise ProjectError(f"{path.name}: materialized must be view, table or incremental, got {value!r}")
            model.materialized = value
        elif key == "unique_key":
            model.unique_key = tuple(part.strip() for part in value.split(","))
        elif key == "changes":
            model.changes = value
        elif key == "partition_by":
            model.partition_by = value
        elif key == "source":
            if "." not in value:
                raise ProjectError(f"{path.name}: source must be <vendor>.<table>, got {value!r}")
            model.source = value
        elif key == "feeds":
            model.feeds = tuple(part.strip() for part in value.split(",") if part.strip())
        elif key == "columns":
            model.columns = dict(_column(path, part) for part in value.split(","))
        elif key == "tests":
            model.checks = [_check(path, part) for part in value.split(";") if part.strip()]
        elif key == "warnings":
            model.warnings = [_check(path, part) for part in value.split(";") if part.strip()]
        else:
            raise ProjectError(f"{path.name}: unknown header {key!r}")
    if model.materialized == "incremental" and bool(model.unique_key) == bool(model.partition_by):
        raise ProjectError(f"{path.name}: an incremental model needs unique_key (with changes) or partition_by")
    if layer == "staging" and model.source and path.parent.name != model.vendor:
        raise ProjectError(f"{path.name} reads {model.source}, so it belongs in"
                           f" staging/{model.vendor}/")
    if model.unique_key and not model.changes:
        raise ProjectError(f"{path.name}: unique_key needs a `changes` feed")
    try:
        tree = sqlglot.parse_one(text, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise ProjectError(f"{path.name} is not valid SQL: {exc}") from exc
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        if table.db == TARGET and table.name not in ctes:
            model.depends_on.add(table.name)
    return model


def _column(path: Path, text: str) -> tuple[str, str]:
    parts = text.split()
    if len(parts) != 2:
        raise ProjectError(f"{path.name}: columns entries are `name type`, got {text.strip()!r}")
    return parts[0], parts[1]


def _check(path: Path, text: str) -> Check:
    match = re.fullmatch(r"\s*(unique|not_null|non_negative|assert|references)\((.*)\)\s*", text)
    if not match:
        raise ProjectError(f"{path.name}: cannot read test {text.strip()!r}")
    kind, body = match.groups()
    arguments = (body.strip(),) if kind == "assert" else tuple(a.strip() for a in body.split(","))
    return Check(kind, arguments)
