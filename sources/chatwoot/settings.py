"""Chatwoot endpoints as data, and the source's defaults.

The application API of one account (`{base_url}/api/v1/accounts/{account_id}/`): the
conversation list and each conversation's messages. How the real server answers them, with
the source files it was read from, is in ../shared/api-docs/chatwoot-behaviour.md and
docs/decisions.md ("Chatwoot").
"""

from __future__ import annotations

from typing import Any

DEFAULT_BASE_URL = "https://app.chatwoot.com"
DEFAULT_START_DATE = "2017-01-01T00:00:00Z"
"""Before Chatwoot existed: by default the first run loads the account's whole history."""
DEFAULT_REQUESTS_PER_SECOND = 1.0
"""The issue's default; Chatwoot Cloud allows 3,000 a minute per IP, self-hosted its own."""
DEFAULT_LOOKBACK_SECONDS = 300
"""Added to `updated_within` on every incremental run: the window then starts this long
before the previous run did, covering clock drift, request latency and changes committed
while that run read."""
DEFAULT_TIMEOUT_SECONDS = 60.0
DEFAULT_MAX_ATTEMPTS = 6
DEFAULT_RETRY_BACKOFF_SECONDS = 0.5

CONVERSATIONS_PATH = "conversations"
MESSAGES_PATH = "conversations/{id}/messages"
PAGE_SIZE = 25
"""Chatwoot's `CONVERSATION_RESULTS_PER_PAGE` default; a self-hosted server may set another,
which the reader learns from the longest page it is sent."""
THREAD_CHUNK = 1000
"""Messages one `after`+`before` request returns at most (`MessageFinder#messages_between`)."""
MESSAGE_ID_CEILING = 2**63 - 1
"""A `before` above every message id: `after=0&before=<this>` is the whole thread, oldest
first, 1,000 at a time."""
UNRESOLVED = ("open", "pending", "snoozed")
"""The statuses on which an SLA can still be missed."""

CONVERSATIONS = "conversations"
MESSAGES = "messages"
CONVERSATION_SNAPSHOTS = "conversation_snapshots"

CONVERSATION_TIMES = ("created_at", "updated_at", "last_activity_at", "timestamp",
                      "first_reply_created_at", "waiting_since", "snoozed_until",
                      "agent_last_seen_at", "assignee_last_seen_at", "contact_last_seen_at")
"""Epoch seconds (`updated_at` a float) in the list; 0 stands for none."""
MESSAGE_TYPES = {0: "incoming", 1: "outgoing", 2: "activity", 3: "template"}

_CONTACT = "{name,email,phone_number,identifier,thumbnail,additional_attributes,custom_attributes}"
_AGENT = "{name,available_name,email,thumbnail}"
_MESSAGE = "{content,processed_message_content}"
_SENDER = "{name,available_name,email,phone_number,thumbnail}"

PII_FIELDS: dict[str, tuple[str, ...]] = {
    # contact and agent identities, and what people wrote, as the API sends them (the rows
    # lift `meta.*` later); see docs/privacy.md. The list's copies of the last messages are
    # not loaded, but a quarantined row keeps the record whole, so they are treated too.
    CONVERSATIONS: (
        f"meta.sender.{_CONTACT}",
        f"meta.assignee.{_AGENT}",
        f"messages[].{_MESSAGE}", f"messages[].sender.{_SENDER}",
        f"last_non_activity_message.{_MESSAGE}", f"last_non_activity_message.sender.{_SENDER}",
    ),
    MESSAGES: (
        "content",
        f"sender.{_SENDER}",
        "attachments[].{data_url,thumb_url}",
    ),
}


CONVERSATION_JSON = ("custom_attributes", "additional_attributes", "applied_sla")
SENDER_JSON = ("additional_attributes", "custom_attributes")
MESSAGE_JSON = ("content_attributes",)


def json_columns(*names: str) -> dict[str, dict[str, Any]]:
    """Objects whose keys are the account's own, kept whole as JSON text: one column each,
    not a column per key. Text, not dlt's `json` type: DuckDB's jsonl loader gives every row
    of a `json` column the keys of all rows (`{}` came back `{"plan": null}`)."""
    return {name: {"name": name, "data_type": "text"} for name in names}


CONVERSATION_COLUMNS = {
    **json_columns(*CONVERSATION_JSON, *(f"sender__{name}" for name in SENDER_JSON)),
    **{name: {"name": name, "data_type": "timestamp"} for name in CONVERSATION_TIMES},
}
MESSAGE_COLUMNS = {
    **json_columns("content_attributes"),
    "created_at": {"name": "created_at", "data_type": "timestamp"},
    "deleted": {"name": "deleted", "data_type": "bool"},
    "private": {"name": "private", "data_type": "bool"},
}

SNAPSHOT_COLUMNS: dict[str, dict[str, Any]] = {
    "snapshot_at": {"name": "snapshot_at", "data_type": "timestamp", "nullable": False},
    "conversation_id": {"name": "conversation_id", "data_type": "bigint", "nullable": False},
    "status": {"name": "status", "data_type": "text"},
    "inbox_id": {"name": "inbox_id", "data_type": "bigint"},
    "channel": {"name": "channel", "data_type": "text"},
    "assignee_id": {"name": "assignee_id", "data_type": "bigint"},
    "created_at": {"name": "created_at", "data_type": "timestamp"},
}
"""`conversation_snapshots`: every unresolved conversation at the end of every run."""
