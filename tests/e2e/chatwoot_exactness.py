"""Is the warehouse's `chatwoot` dataset exactly the sandbox account? Field by field.

The expected rows are written here from the account's own records (`Conversation` objects
and message dicts), not with the source's row functions, so a mistake there cannot hide.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Optional

from sources.chatwoot.sandbox.account import Account, Conversation


def _ts(value: Optional[float], whole_seconds: bool = True) -> Optional[str]:
    """How a time is compared: UTC ISO text; Chatwoot shows most as whole seconds, 0 as none."""
    if value is None or value == 0:
        return None
    moment = datetime.fromtimestamp(int(value) if whole_seconds else value, timezone.utc)
    return moment.isoformat()


def _loaded_ts(value: Any) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    return str(value)


def _json(value: Any) -> Any:
    if isinstance(value, str):
        return json.loads(value)
    return value


MESSAGE_TYPE_NAMES = {0: "incoming", 1: "outgoing", 2: "activity", 3: "template"}


def expected_conversation(account: Account, c: Conversation) -> dict[str, Any]:
    return {
        "id": c.display_id, "uuid": c.uuid, "status": c.status, "priority": c.priority,
        "inbox_id": c.inbox_id, "account_id": account.account_id,
        "channel": {1: "Channel::WebWidget", 2: "Channel::Email", 3: "Channel::Whatsapp",
                    4: "Channel::Api"}[c.inbox_id],
        "created_at": _ts(c.created_at), "updated_at": _ts(c.updated_at, whole_seconds=False),
        "last_activity_at": _ts(c.last_activity_at), "timestamp": _ts(c.last_activity_at),
        "first_reply_created_at": _ts(c.first_reply_created_at),
        "waiting_since": _ts(c.waiting_since), "snoozed_until": _ts(c.snoozed_until),
        "agent_last_seen_at": _ts(c.agent_last_seen_at),
        "contact_last_seen_at": _ts(c.contact_last_seen_at),
        "assignee__id": c.assignee_id,
        "assignee__email": account.agents[c.assignee_id - 1]["email"] if c.assignee_id else None,
        "team__id": c.team_id, "sender__id": c.contact_id,
        "sender__email": account.contacts[c.contact_id - 1]["email"],
        "sla_policy_id": c.sla_policy_id, "muted": c.muted,
        "custom_attributes": c.custom_attributes or None,
        "additional_attributes": c.additional_attributes or None,
    }


def expected_message(m: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": m["id"], "conversation_id": m["conversation_id"], "inbox_id": m["inbox_id"],
        "message_type": m["message_type"],
        "message_type_name": MESSAGE_TYPE_NAMES[m["message_type"]],
        "content": m["content"], "content_type": m["content_type"], "status": m["status"],
        "private": m["private"], "created_at": _ts(m["created_at"]),
        "sender_type": m["sender_type"], "sender_id": m["sender_id"],
        "source_id": m["source_id"],
        "deleted": bool(m["content_attributes"].get("deleted")),
        "content_attributes": m["content_attributes"] or None,
    }


@dataclass
class Differences:
    missing: list[Any] = field(default_factory=list)
    unknown: list[Any] = field(default_factory=list)
    duplicated: list[Any] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    checked: int = 0

    def assert_none(self, what: str) -> None:
        problems = {k: v[:5] for k, v in (("missing", self.missing), ("unknown", self.unknown),
                                          ("duplicated", self.duplicated), ("wrong", self.wrong))
                    if v}
        assert not problems, f"{what}: {problems}"
        assert self.checked, f"{what}: nothing was compared"


def _rows(connection: Any, sql: str) -> list[dict[str, Any]]:
    cursor = connection.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _compare(expected: dict[Any, dict[str, Any]], loaded: list[dict[str, Any]],
             times: tuple[str, ...], json_columns: tuple[str, ...], label: str) -> Differences:
    result = Differences()
    counts = Counter(row["id"] for row in loaded)
    result.duplicated = sorted(k for k, n in counts.items() if n > 1)
    by_id = {row["id"]: row for row in loaded}
    result.unknown = sorted(set(by_id) - set(expected))
    for key, want in expected.items():
        row = by_id.get(key)
        if row is None:
            result.missing.append(key)
            continue
        result.checked += 1
        got = {}
        for column in want:
            value = row.get(column)
            if column in times:
                value = _loaded_ts(value)
            elif column in json_columns:
                value = _json(value) or None
            got[column] = value
        if got != want:
            diff = {c: (want[c], got[c]) for c in want if want[c] != got[c]}
            result.wrong.append(f"{label} {key}: {diff}")
    return result


CONVERSATION_TIMES = ("created_at", "updated_at", "last_activity_at", "timestamp",
                      "first_reply_created_at", "waiting_since", "snoozed_until",
                      "agent_last_seen_at", "contact_last_seen_at")


def assert_exact(connection: Any, account: Account, dataset: str = "chatwoot") -> None:
    """Every conversation, label, SLA event, message and attachment equals the account's."""
    with account.lock:
        conversations = dict(account.snapshot())
    expected = {c.display_id: expected_conversation(account, c) for c in conversations.values()}
    loaded = _rows(connection, f"select * from {dataset}.conversations")
    _compare(expected, loaded, CONVERSATION_TIMES,
             ("custom_attributes", "additional_attributes"), "conversation").assert_none(
        "conversations")

    labels = Counter((r["conversation_id"], r["value"]) for r in _rows(
        connection, f"select conversation_id, value from {dataset}.conversations__labels"))
    assert labels == Counter((c.display_id, label) for c in conversations.values()
                             for label in c.labels), "conversations__labels"
    events = sorted((r["conversation_id"], r["id"], r["event_type"], _loaded_ts(r["created_at"]))
                    for r in _rows(connection, "select conversation_id, id, event_type, created_at"
                                               f" from {dataset}.conversations__sla_events"))
    assert events == sorted((c.display_id, e["id"], e["event_type"], _ts(e["created_at"]))
                            for c in conversations.values() for e in c.sla_events), \
        "conversations__sla_events"

    messages = {m["id"]: expected_message(m) for c in conversations.values() for m in c.messages}
    _compare(messages, _rows(connection, f"select * from {dataset}.messages"), ("created_at",),
             ("content_attributes",), "message").assert_none("messages")
    attachments = sorted((r["message_id"], r["id"], r["data_url"], r["file_size"]) for r in _rows(
        connection, f"select message_id, id, data_url, file_size from {dataset}.messages__attachments"))
    assert attachments == sorted((m["id"], a["id"], a["data_url"], a["file_size"])
                                 for c in conversations.values() for m in c.messages
                                 for a in m["attachments"]), "messages__attachments"
