"""Chatwoot records shaped into rows: epoch seconds to timestamps, `meta` lifted, names added."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

import json

from sources.kit.pages import Record
from sources.chatwoot.settings import (
    CONVERSATION_JSON,
    CONVERSATION_TIMES,
    MESSAGE_JSON,
    MESSAGE_TYPES,
    SENDER_JSON,
)


def epoch(value: Any) -> Optional[datetime]:
    """An aware UTC datetime from epoch seconds (int or float); 0 and null mean none, as in
    Chatwoot's `nil.to_i`. Anything else is left as it came, for dlt to keep as a variant."""
    if value is None or isinstance(value, bool):
        return None if value is None else value
    if isinstance(value, (int, float)):
        return None if value == 0 else datetime.fromtimestamp(value, timezone.utc)
    return value


def conversation_row(record: Record) -> Record:
    """One conversation as its table row.

    `meta.sender`, `meta.assignee`, `meta.team`, `meta.channel` become `sender`, `assignee`,
    `team`, `channel` (dlt flattens them into `sender__name`, ...); an assignee or team that
    is not set is absent, so the columns are null. The list's `messages` (only the last one)
    and `last_non_activity_message` are left out: the `messages` table holds every message.
    """
    row = {key: value for key, value in record.items()
           if key not in ("meta", "messages", "last_non_activity_message")}
    meta = record.get("meta") if isinstance(record.get("meta"), dict) else {}
    for part in ("sender", "assignee", "team", "channel", "hmac_verified"):
        if part in meta:
            row[part] = meta[part]
    for name in CONVERSATION_TIMES:
        if name in row:
            row[name] = epoch(row[name])
    events = row.get("sla_events")
    if isinstance(events, list):
        row["sla_events"] = [_with_times(event, ("created_at", "updated_at")) if isinstance(event, dict)
                             else event for event in events]
    if isinstance(row.get("sender"), dict):
        row["sender"] = _as_json_text(_with_times(row["sender"], ("created_at", "last_activity_at")),
                                      SENDER_JSON)
    return _as_json_text(row, CONVERSATION_JSON)


def message_row(record: Record) -> Record:
    """One message as its table row: `created_at` a timestamp, the type also by name, the
    deleted flag as a column; `sender_type`/`sender_id` from `sender` where not sent."""
    row = {key: value for key, value in record.items() if key != "conversation"}
    row["created_at"] = epoch(row.get("created_at"))
    if "updated_at" in row and not isinstance(row["updated_at"], str):
        row["updated_at"] = epoch(row["updated_at"])
    message_type = row.get("message_type")
    row["message_type_name"] = MESSAGE_TYPES.get(message_type) if isinstance(message_type, int) else None
    attributes = row.get("content_attributes")
    row["deleted"] = bool(isinstance(attributes, dict) and attributes.get("deleted"))
    sender = row.get("sender")
    if isinstance(sender, dict):
        if row.get("sender_id") is None:
            row["sender_id"] = sender.get("id")
        if row.get("sender_type") is None and isinstance(sender.get("type"), str):
            row["sender_type"] = {"contact": "Contact", "user": "User",
                                  "agent_bot": "AgentBot"}.get(sender["type"], sender["type"])
    return _as_json_text(row, MESSAGE_JSON)


def _with_times(record: Record, names: tuple[str, ...]) -> Record:
    return {key: epoch(value) if key in names else value for key, value in record.items()}


def as_json_text(value: Any) -> str:
    """An object as the JSON text its column keeps (keys in the order sent)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _as_json_text(record: Record, names: tuple[str, ...]) -> Record:
    return {key: as_json_text(value) if key in names and isinstance(value, (dict, list)) else value
            for key, value in record.items()}
