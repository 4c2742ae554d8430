"""UJET endpoints as data, and the source's defaults.

Each documented list endpoint is one `Endpoint`; `sources/ujet/__init__.py` turns each kind
of endpoint into resources with one loop. Column hints pin the types the vendor varies
(`hidden` is a bool or a string, `agent_number` a number or a string, `transfer` 0/1 or
false/true): values that fit are coerced, values that do not (`"hidden": "string"`) land in a
variant column such as `hidden__v_text` instead of being lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

DEFAULT_DOMAIN = "ujet.co"
API_PATH = "/manager/api/v1"
DEFAULT_START_DATE = "2015-01-01T00:00:00Z"
"""UJET launched in 2015: by default the first run backfills the tenant's whole history."""
DEFAULT_PAGE_SIZE = 100
DEFAULT_REQUESTS_PER_SECOND = 1.0
"""The documented limit: 1 request per second per customer."""
DEFAULT_LOOKBACK_SECONDS = 600
DEFAULT_SLA_MINUTES = 15
DEFAULT_TIMEOUT_SECONDS = 60.0
DEFAULT_MAX_ATTEMPTS = 6
DEFAULT_RETRY_BACKOFF_SECONDS = 0.5
SLA_CHANNELS = ("call", "chat")

_PERSON = "{name,first_name,middle_name,last_name,agent_number,avatar_url}"


def _person(prefix: str) -> str:
    return f"{prefix}.{_PERSON}"


PII_FIELDS: dict[str, tuple[str, ...]] = {
    # what the UJET documents mark "may be considered PII", per kind; see docs/privacy.md
    "contacts": (
        _person("agent_info"),
        "end_user.{id,identifier,out_contact_id}",
        _person("transfers[].{from_agent,to_agent}"),
        "photos[].{id,photo_type,url}", "videos[].{id,url}", "email_attachments[].url",
        "email_threads[].subject", "recording_url",
        "participants[].{user_id,end_user_id}",
    ),
    "agents": ("{email,first_name,middle_name,last_name,agent_number,avatar_url}",),
    "menus": (_person("agent_assignments[].assignee"),
              _person("team_assignments[].team.assignees[]")),
    "teams": (_person("assignees[]"),),
    "agent_activity_logs": (_person("whodunnit"),),
}


TableHints = dict[str, dict[str, Any]]


def hints(**data_types: str) -> TableHints:
    """Column hints in the shape dlt wants: `hints(hidden="bool")`."""
    return {name: {"name": name, "data_type": data_type} for name, data_type in data_types.items()}


@dataclass(frozen=True)
class Endpoint:
    """One documented UJET endpoint and how its records land in the warehouse.

    Attributes:
        name: resource and table name.
        path: path under the API root.
        primary_key: the table's key.
        root_id: column that carries the record's `id` into every child table, so analysts
            join `calls__handle_durations.call_id = calls.id` without dlt's hashes.
        params: fixed query parameters (e.g. deleted menus too).
        sortable: the endpoint documents `sort_column` / `sort_direction`.
        paged: the endpoint documents `page` / `per`.
        columns: hints for the root table.
        nested: hints for child tables, keyed by their path below the root.
    """

    name: str
    path: str
    primary_key: tuple[str, ...] = ("id",)
    root_id: Optional[str] = None
    params: Mapping[str, str] = field(default_factory=dict)
    sortable: bool = True
    paged: bool = True
    columns: TableHints = field(default_factory=dict)
    nested: Mapping[Any, Mapping[str, Any]] = field(default_factory=dict)


def _contact(name: str, root_id: str) -> Endpoint:
    duration_hints = {"columns": hints(transfer="bool")}
    return Endpoint(
        name=name,
        path=name,
        root_id=root_id,
        columns={
            **hints(selected_menu__hidden="bool", agent_info__agent_number="text"),
            # when one run sees a record twice, the newest version wins the merge
            "updated_at": {"name": "updated_at", "data_type": "timestamp", "dedup_sort": "desc"},
        },
        nested={
            "transfers": {"columns": hints(from_agent__agent_number="text",
                                           to_agent__agent_number="text")},
            "handle_durations": duration_hints,
            "queue_durations": duration_hints,
            "virtual_agent_handle_durations": duration_hints,
        },
    )


CONTACTS = (
    _contact("calls", "call_id"),
    _contact("chats", "chat_id"),
    _contact("emails", "email_id"),
)
"""Change after they end (wrap-up, ratings, transfers): tailed on `updated_at`, merged on `id`."""

AGENT_ACTIVITY_LOGS = Endpoint(
    name="agent_activity_logs",
    path="agent_activity_logs",
    columns=hints(whodunnit__agent_number="text"),
)
"""No `updated_at`: rows open on `started_at` and close later (`ended_at`, `duration`)."""

CATALOG = (
    Endpoint(name="agents", path="agents", root_id="agent_id", sortable=False,
             columns=hints(agent_number="text"),
             nested={"channels": {"columns": hints(menu__hidden="bool")}}),
    Endpoint(name="menus", path="menus", root_id="menu_id", params={"with_deleted": "true"},
             columns=hints(hidden="bool"),
             nested={"agent_assignments": {"columns": hints(assignee__agent_number="text")},
                     "team_assignments": {},
                     # `team` is an object flattened into its parent row, so the list below
                     # it hangs off `menus__team_assignments`
                     ("team_assignments", "team", "assignees"): {
                         "parent_table_name": "menus__team_assignments",
                         "columns": hints(agent_number="text")}}),
    Endpoint(name="teams", path="teams", root_id="team_id", params={"with_deleted": "true"},
             nested={"assignees": {"columns": hints(agent_number="text")}}),
    Endpoint(name="user_statuses", path="user_statuses", sortable=False, paged=False),
)
"""Small reference lists: read completely every run, merged on `id`."""

TREES = (
    Endpoint(name="menus_tree", path="menus/tree", columns=hints(hidden="bool")),
    Endpoint(name="teams_tree", path="teams/tree"),
)
"""Hierarchies, flattened to one row per node and replaced every run."""

SNAPSHOTS = (
    Endpoint(name="agents_current_status", path="agents/current_status",
             primary_key=("snapshot_at", "id")),
    Endpoint(name="menus_current_status", path="menus/current_status",
             primary_key=("snapshot_at", "menu_id", "lang", "comm_type")),
    Endpoint(name="menus_sla", path="menus/sla",
             primary_key=("snapshot_at", "channel", "menu_path_id", "lang"),
             columns=hints(sla="double")),
    Endpoint(name="menus_sla_by_queue_groups", path="menus/sla_by_queue_groups",
             primary_key=("snapshot_at", "channel", "queue_group_id"),
             columns=hints(sla="double")),
)
"""Point-in-time state, appended with `snapshot_at` so scheduled runs build a time series."""

SLA_ENDPOINTS = ("menus_sla", "menus_sla_by_queue_groups")
