"""Compares what a run loaded with what the sandbox tenant holds, field by field.

A record the tenant last changed before the run began (by the sandbox's clock) must be in
the warehouse exactly once, with every field as the tenant has it now, and exactly its nested
elements as child rows, every field of those too (none left over from older versions). A
record changed later (while the run was paging) may still be absent or older: the next run
reads it.

The expected rows are worked out here from the tenant's records, independently of the
product's row shaping: a nested object becomes `parent__child` columns, a list becomes a
child table `<table>__<list>` whose rows carry the root's id, and a null loads as NULL.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Optional

from sources.ujet.sandbox.tenant import Tenant
from tests.e2e.conftest import Warehouse

ROOT_IDS = {"calls": "call_id", "chats": "chat_id", "emails": "email_id"}


@dataclass
class Differences:
    kind: str
    checked: int = 0
    missing: list[Any] = field(default_factory=list)
    duplicated: list[Any] = field(default_factory=list)
    stale: list[Any] = field(default_factory=list)
    unknown: list[Any] = field(default_factory=list)
    wrong_children: list[str] = field(default_factory=list)
    wrong_fields: list[str] = field(default_factory=list)

    def assert_none(self) -> None:
        problems = {name: values[:10] for name, values in (
            ("missing", self.missing), ("duplicated", self.duplicated), ("stale", self.stale),
            ("unknown", self.unknown), ("wrong_children", self.wrong_children),
            ("wrong_fields", self.wrong_fields)) if values}
        assert not problems, f"{self.kind}: {problems}"
        assert self.checked > 0, f"{self.kind}: nothing was checked"


def parse(value: Optional[str]) -> Optional[datetime]:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _utc(value: Any) -> Any:
    """A warehouse's timestamp as an aware UTC datetime (a naive one is UTC already)."""
    if isinstance(value, datetime):
        return (value.replace(tzinfo=timezone.utc) if value.tzinfo is None
                else value.astimezone(timezone.utc))
    return value


def compare_contacts(connection: Warehouse, tenant: Tenant, kind: str,
                     as_of: Optional[datetime]) -> Differences:
    """`as_of=None` demands the warehouse equal the tenant now, for every record."""
    result, loaded, records = _load(connection, tenant, kind, "updated_at")
    rows = _root_rows(connection, kind)
    children = _child_rows(connection, kind)
    for record_id, record in records.items():
        updated = parse(record["updated_at"])
        if as_of is not None and updated >= as_of:
            if record_id in loaded and loaded[record_id] > updated:
                result.stale.append(record_id)
            continue
        result.checked += 1
        if record_id not in loaded:
            result.missing.append(record_id)
        elif loaded[record_id] != updated:
            result.stale.append(record_id)
        else:
            _compare_record(result, kind, record, ROOT_IDS[kind], rows.get(record_id), children)
    return result


def _compare_record(result: Differences, kind: str, record: dict[str, Any], root_id: str,
                    row: Optional[dict[str, Any]],
                    children: dict[str, dict[Any, list[tuple]]]) -> None:
    """Every field of the record's row and of its child rows against the tenant's record."""
    record_id = record["id"]
    _compare_fields(result, record_id, _scalars(record), row)
    expected = _expected_children(kind, record, root_id)
    for table in set(expected) | set(children):
        want = sorted(expected.get(table, []), key=repr)
        got = sorted(children.get(table, {}).get(record_id, []), key=repr)
        if want != got:
            result.wrong_children.append(
                f"{table} of {record_id}: want {_show(want)} got {_show(got)}")


def _load(connection: Warehouse, tenant: Tenant, kind: str,
          version_column: str) -> tuple[Differences, dict[Any, Any], dict[Any, dict[str, Any]]]:
    """Loaded ids with one version column, the tenant's records, and duplicates/unknowns."""
    result = Differences(kind)
    rows = connection.execute(f"select id, {version_column} from ujet.{kind}").fetchall()
    result.duplicated = [row_id for row_id, n in Counter(r[0] for r in rows).items() if n > 1]
    loaded = {row_id: _utc(value) for row_id, value in rows}
    records = {r["id"]: r for r in tenant.records(kind)}
    result.unknown = sorted(set(loaded) - set(records))
    return result, loaded, records


def _scalars(value: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """The record's columns: nested objects flattened with `__`, lists left to child tables."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}__{key}" if prefix else key
        if isinstance(item, dict):
            out.update(_scalars(item, name))
        elif not isinstance(item, list):
            out[name] = item
    return out


def _canonical(value: Any) -> Any:
    """One form for a value as the API wrote it and as a warehouse returns it."""
    if isinstance(value, datetime):
        return _utc(value)
    if isinstance(value, str) and len(value) >= 20 and value[10] == "T" and value.endswith("Z"):
        try:
            return parse(value)
        except ValueError:
            return value
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    return value


def _same(expected: Any, loaded: Any) -> bool:
    return expected is not None and loaded is not None and _comparable(expected) == _comparable(loaded)


def _row_values(row: dict[str, Any]) -> dict[str, Any]:
    """A loaded row's non-null values by column, a variant (`x__v_text`) under its column."""
    values: dict[str, Any] = {}
    for column, value in row.items():
        if value is None or column.startswith("_dlt"):
            continue
        values[column.split("__v_")[0] if "__v_" in column else column] = value
    return values


def _compare_fields(result: Differences, record_id: Any, expected: dict[str, Any],
                    row: Optional[dict[str, Any]]) -> None:
    if row is None:
        result.missing.append(record_id)
        return
    got = _row_values(row)
    want = {k: v for k, v in expected.items() if v is not None}
    for column in sorted(set(want) | set(got)):
        if column not in want or column not in got or not _same(want[column], got[column]):
            result.wrong_fields.append(
                f"{record_id}.{column}: want {want.get(column)!r} got {got.get(column)!r}")


def _root_rows(connection: Warehouse, kind: str) -> dict[Any, dict[str, Any]]:
    cursor = connection.execute(f"select * from ujet.{kind}")
    names = [d[0] for d in cursor.description]
    return {row[names.index("id")]: dict(zip(names, row)) for row in cursor.fetchall()}


def _expected_children(table: str, record: dict[str, Any],
                       root_id: str) -> dict[str, list[tuple]]:
    """Child table name -> the rows a record should have there, each as sorted (column,
    value) pairs. Every child row carries the record's id in `root_id`; an element's own
    different `root_id` value is kept as `reported_<root_id>`."""
    found: dict[str, list[tuple]] = defaultdict(list)

    def walk(value: dict[str, Any], prefix: str) -> None:
        for key, item in value.items():
            if isinstance(item, dict):
                walk(item, f"{prefix}__{key}")
            elif isinstance(item, list):
                child = f"{prefix}__{key}"
                for element in item:
                    if isinstance(element, dict):
                        columns = {k: v for k, v in _scalars(element).items() if v is not None}
                        if root_id in columns and columns[root_id] != record["id"]:
                            columns[f"reported_{root_id}"] = columns[root_id]
                        columns[root_id] = record["id"]
                        found[child].append(_fingerprint(columns))
                        walk(element, child)
                    else:
                        found[child].append(_fingerprint({"value": element, root_id: record["id"]}))

    walk(record, table)
    return found


def _fingerprint(columns: dict[str, Any]) -> tuple:
    return tuple(sorted((k, _comparable(v)) for k, v in columns.items()))


def _comparable(value: Any) -> str:
    """Text that is equal for a value however a pinned column type stored it: an agent number
    sent as 42 and kept as text "42"; `transfer` sent as 0/1 or false/true, kept as a boolean
    (settings.py pins both); a timestamp string and the warehouse's datetime."""
    canonical = _canonical(value)
    if isinstance(canonical, bool):
        return "1" if canonical else "0"
    if isinstance(canonical, str) and canonical.lower() in ("true", "false"):
        return "1" if canonical.lower() == "true" else "0"
    if isinstance(canonical, float) and canonical.is_integer():
        return str(int(canonical))
    return str(canonical)


def _show(rows: list[tuple]) -> str:
    text = repr(rows)
    return text if len(text) < 600 else text[:600] + "…"


def _child_rows(connection: Warehouse, kind: str,
                root_id: Optional[str] = None) -> dict[str, dict[Any, list[tuple]]]:
    root_id = root_id or ROOT_IDS[kind]
    tables = connection.raw_tables(f"{kind}__")
    rows: dict[str, dict[Any, list[tuple]]] = {}
    for table in tables:
        cursor = connection.execute(f"select * from ujet.{table}")
        names = [d[0] for d in cursor.description]
        by_root: dict[Any, list[tuple]] = defaultdict(list)
        for row in cursor.fetchall():
            values = _row_values(dict(zip(names, row)))
            by_root[values.get(root_id)].append(_fingerprint(values))
        rows[table] = by_root
    return rows


def compare_activity_logs(connection: Warehouse, tenant: Tenant,
                          as_of: Optional[datetime]) -> Differences:
    result, loaded, records = _load(connection, tenant, "agent_activity_logs", "ended_at")
    rows = _root_rows(connection, "agent_activity_logs")
    for row_id, row in records.items():
        started, ended = parse(row["started_at"]), parse(row["ended_at"])
        if as_of is not None and (started >= as_of or (ended is not None and ended >= as_of)):
            continue
        result.checked += 1
        if row_id not in loaded:
            result.missing.append(row_id)
        elif loaded[row_id] != ended:
            result.stale.append(row_id)
        else:
            _compare_fields(result, row_id, _scalars(row), rows.get(row_id))
    return result


CATALOG_ROOT_IDS = {"agents": "agent_id", "menus": "menu_id", "teams": "team_id",
                    "user_statuses": "user_status_id"}


def compare_ids(connection: Warehouse, tenant: Tenant, kind: str) -> Differences:
    """A reference list: every record once, every field and nested element as the tenant has it."""
    result = Differences(kind)
    loaded = [row_id for (row_id,) in connection.execute(f"select id from ujet.{kind}").fetchall()]
    records = {r["id"]: r for r in tenant.records(kind)}
    result.checked = len(records)
    result.duplicated = [i for i, n in Counter(loaded).items() if n > 1]
    result.missing = sorted(set(records) - set(loaded))
    result.unknown = sorted(set(loaded) - set(records))
    rows = _root_rows(connection, kind)
    root_id = CATALOG_ROOT_IDS[kind]
    children = _child_rows(connection, kind, root_id)
    for record_id, record in records.items():
        if record_id not in rows:
            continue
        _compare_record(result, kind, record, root_id, rows[record_id], children)
    return result


def assert_exact(connection: Warehouse, tenant: Tenant,
                 as_of: Optional[datetime]) -> None:
    """Every UJET table the tests can check against the tenant, as of a run's bound."""
    for kind in ROOT_IDS:
        compare_contacts(connection, tenant, kind, as_of).assert_none()
    compare_activity_logs(connection, tenant, as_of).assert_none()
    for kind in ("agents", "menus", "teams", "user_statuses"):
        compare_ids(connection, tenant, kind).assert_none()
