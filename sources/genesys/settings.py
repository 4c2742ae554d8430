"""Genesys Workspace (GWS API v2) endpoints as data, and the source's defaults.

A reader of e-mail interactions signs in (`GET me` with Basic), listens to CometD
notifications (`POST notifications`) and lists the user's current interactions
(`GET me/interactions?fields=*`); ../shared/api-docs/genesys-behaviour.md. It never calls
the agent operations (`POST me/interactions/{id}`).
"""

from __future__ import annotations

from typing import Any

ME_PATH = "me"
INTERACTIONS_PATH = "me/interactions"
NOTIFICATIONS_PATH = "notifications"
CONNECTION_TYPE = "long-polling"

DEFAULT_CHANNELS = ("/v2/me/interactions",)
"""The e-mail topic of the 8.5.0/8.5.1 API; add `/v2/me/emails` for 8.5.2 servers."""
DEFAULT_LOAD_EVERY = 5.0
DEFAULT_TIMEOUT_SECONDS = 90.0
"""Longer than any long poll a GWS holds (CometD's default `timeout` is 30 s)."""
POLL_MARGIN_SECONDS = 15.0
"""How much longer than the server's `advice.timeout` a connect may take before ccelt calls
it failed."""
RECONNECT_BACKOFF = (0.5, 1.0, 2.0, 4.0, 5.0)
"""Seconds between tries after failed connects: the last stays well within `maxInterval`
(10 s), so a server that still knows the client does not forget it meanwhile."""
RECENT_MESSAGE_IDS = 20_000
"""How many of the latest message ids the listener remembers to drop redeliveries: a CometD
server redelivers to the client it queued for, within seconds (minutes at 50 notifications/s
are 15,000 ids); a new client starts with an empty queue. About 3 MB."""
FORGET_LEFT_AFTER_SECONDS = 120.0
"""How long an interaction that left the list is remembered in state (when it was first seen
and when it left), for notifications that trail its leaving; a later one starts it afresh."""

INTERACTION_EVENTS = "interaction_events"
INTERACTIONS = "interactions"
SESSIONS = "sessions"
INTERACTION_SNAPSHOTS = "interaction_snapshots"

PII_FIELDS: dict[str, tuple[str, ...]] = {
    INTERACTION_EVENTS: ("email_object__to_address", "email_object__from_address",
                         "email_object__cc_addresses", "email_object__bcc_addresses",
                         "email_object__subject", "email_object__text",
                         "email_object__structured_text"),
}
DEFAULT_PII_FIELDS = {"email_object__text": "drop", "email_object__structured_text": "drop"}
"""E-mail bodies are dropped unless `pii_fields` keeps them (issue 16: "default drop")."""

_TEXT: dict[str, Any] = {"data_type": "text"}
_TIME: dict[str, Any] = {"data_type": "timestamp"}
_COMMON = {name: {"name": name, **_TEXT} for name in (
    "interaction_id", "state", "interaction_type", "interaction_sub_type", "message_type_name",
    "media_channel", "current_queue", "parent_interaction_id", "user_data", "extra",
    *PII_FIELDS[INTERACTION_EVENTS], "email_object__mime_type",
    "email_object__structured_text_mime_type")}
EVENT_COLUMNS: dict[str, dict[str, Any]] = {
    "message_id": {"name": "message_id", **_TEXT, "nullable": False, "primary_key": True},
    "channel": {"name": "channel", **_TEXT},
    "notification_type": {"name": "notification_type", **_TEXT},
    **_COMMON,
    "received_at": {"name": "received_at", **_TIME},
    "observed_at": {"name": "observed_at", **_TIME, "nullable": False},
    "spool_seq": {"name": "spool_seq", "data_type": "bigint"},
}
INTERACTION_COLUMNS: dict[str, dict[str, Any]] = {
    **_COMMON,
    "interaction_id": {"name": "interaction_id", **_TEXT, "nullable": False, "primary_key": True},
    "received_at": {"name": "received_at", **_TIME},
    "first_seen_at": {"name": "first_seen_at", **_TIME},
    "last_event_at": {"name": "last_event_at", **_TIME},
    "last_listed_at": {"name": "last_listed_at", **_TIME},
    "is_active": {"name": "is_active", "data_type": "bool"},
    "left_list_at": {"name": "left_list_at", **_TIME},
    "reconciled": {"name": "reconciled", "data_type": "bool"},
    "last_message_id": {"name": "last_message_id", **_TEXT},
    "spool_seq": {"name": "spool_seq", "data_type": "bigint", "dedup_sort": "desc"},
}
SESSION_COLUMNS: dict[str, dict[str, Any]] = {
    "occurred_at": {"name": "occurred_at", **_TIME, "nullable": False},
    "event": {"name": "event", **_TEXT, "nullable": False},
    "detail": {"name": "detail", **_TEXT},
    "client_id": {"name": "client_id", **_TEXT},
    "spool_seq": {"name": "spool_seq", "data_type": "bigint"},
}
SNAPSHOT_COLUMNS: dict[str, dict[str, Any]] = {
    "listed_at": {"name": "listed_at", **_TIME, "nullable": False},
    "interaction_id": {"name": "interaction_id", **_TEXT, "nullable": False},
    "state": {"name": "state", **_TEXT},
    "interaction_sub_type": {"name": "interaction_sub_type", **_TEXT},
    "current_queue": {"name": "current_queue", **_TEXT},
    "received_at": {"name": "received_at", **_TIME},
    "spool_seq": {"name": "spool_seq", "data_type": "bigint"},
}
"""`interaction_snapshots`: every interaction of every list, the user's backlog over time."""
SESSION_EVENTS = ("signed in", "signed in again", "handshake", "subscribed", "listed",
                  "connect failed", "unknown client (402)", "advice", "gap", "stopped")
"""What `sessions.event` holds (docs/genesys-tables.md says what each means)."""
