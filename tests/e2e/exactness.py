"""Compares what a run loaded with what the sandbox tenant holds.

A run reads contacts up to a frozen bound (`updated_at[to]`). A record the tenant last
changed before that bound must be in the warehouse exactly once, in exactly that version,
with exactly its nested elements as child rows (none left over from older versions). A
record changed at or after the bound (while the run was paging) may still be absent or
older: the next run reads it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
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

    def assert_none(self) -> None:
        problems = {name: values[:10] for name, values in (
            ("missing", self.missing), ("duplicated", self.duplicated), ("stale", self.stale),
            ("unknown", self.unknown), ("wrong_children", self.wrong_children)) if values}
        assert not problems, f"{self.kind}: {problems}"
        assert self.checked > 0, f"{self.kind}: nothing was checked"


def parse(value: Optional[str]) -> Optional[datetime]:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def compare_contacts(connection: Warehouse, tenant: Tenant, kind: str,
                     as_of: Optional[datetime]) -> Differences:
    """`as_of=None` demands the warehouse equal the tenant now, for every record."""
    result, loaded, records = _load(connection, tenant, kind, "updated_at")
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
            expected = _expected_children(kind, record)
            for table in set(expected) | set(children):
                want = sorted(expected.get(table, []))
                got = sorted(children.get(table, {}).get(record_id, []))
                if want != got:
                    result.wrong_children.append(f"{table} of {record_id}: want {want} got {got}")
    return result


def _load(connection: Warehouse, tenant: Tenant, kind: str,
          version_column: str) -> tuple[Differences, dict[Any, Any], dict[Any, dict[str, Any]]]:
    """Loaded ids with one version column, the tenant's records, and duplicates/unknowns."""
    result = Differences(kind)
    rows = connection.execute(f"select id, {version_column} from ujet.{kind}").fetchall()
    result.duplicated = [row_id for row_id, n in Counter(r[0] for r in rows).items() if n > 1]
    loaded = dict(rows)
    records = {r["id"]: r for r in tenant.records(kind)}
    result.unknown = sorted(set(loaded) - set(records))
    return result, loaded, records


def _expected_children(table: str, record: dict[str, Any]) -> dict[str, list[str]]:
    """Child table name -> fingerprints (element ids) of the rows a record should have."""
    found: dict[str, list[str]] = defaultdict(list)

    def walk(value: dict[str, Any], prefix: str) -> None:
        for key, item in value.items():
            if isinstance(item, dict):
                walk(item, f"{prefix}__{key}")
            elif isinstance(item, list):
                child = f"{prefix}__{key}"
                for element in item:
                    found[child].append(str(element.get("id")) if isinstance(element, dict)
                                        else "None")
                    if isinstance(element, dict):
                        walk(element, child)

    walk(record, table)
    return found


def _child_rows(connection: Warehouse, kind: str) -> dict[str, dict[Any, list[str]]]:
    root_id = ROOT_IDS[kind]
    tables = [name for (name,) in connection.execute(
        "select table_name from information_schema.tables"
        f" where table_schema = '{connection.raw}'"
        f" and table_name like '{kind}\\_\\_%' escape '\\'").fetchall()]
    rows: dict[str, dict[Any, list[str]]] = {}
    for table in tables:
        columns = {c for (c,) in connection.execute(
            "select column_name from information_schema.columns"
            f" where table_schema = '{connection.raw}' and table_name = '{table}'").fetchall()}
        id_column = "cast(id as varchar)" if "id" in columns else "'None'"
        by_root: dict[Any, list[str]] = defaultdict(list)
        for owner, fingerprint in connection.execute(
                f"select {root_id}, coalesce({id_column}, 'None') from ujet.{table}").fetchall():
            by_root[owner].append(fingerprint)
        rows[table] = by_root
    return rows


def compare_activity_logs(connection: Warehouse, tenant: Tenant,
                          as_of: Optional[datetime]) -> Differences:
    result, loaded, records = _load(connection, tenant, "agent_activity_logs", "ended_at")
    for row_id, row in records.items():
        started, ended = parse(row["started_at"]), parse(row["ended_at"])
        if as_of is not None and (started >= as_of or (ended is not None and ended >= as_of)):
            continue
        result.checked += 1
        if row_id not in loaded:
            result.missing.append(row_id)
        elif loaded[row_id] != ended:
            result.stale.append(row_id)
    return result


def compare_ids(connection: Warehouse, tenant: Tenant, kind: str) -> Differences:
    result = Differences(kind)
    loaded = [row_id for (row_id,) in connection.execute(f"select id from ujet.{kind}").fetchall()]
    expected = {r["id"] for r in tenant.records(kind)}
    result.checked = len(expected)
    result.duplicated = [i for i, n in Counter(loaded).items() if n > 1]
    result.missing = sorted(expected - set(loaded))
    result.unknown = sorted(set(loaded) - expected)
    return result


def assert_exact(connection: Warehouse, tenant: Tenant,
                 as_of: Optional[datetime]) -> None:
    """Every UJET table the tests can check against the tenant, as of a run's bound."""
    for kind in ROOT_IDS:
        compare_contacts(connection, tenant, kind, as_of).assert_none()
    compare_activity_logs(connection, tenant, as_of).assert_none()
    for kind in ("agents", "menus", "teams", "user_statuses"):
        compare_ids(connection, tenant, kind).assert_none()
