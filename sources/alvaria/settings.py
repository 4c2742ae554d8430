"""Alvaria EmailQueue endpoints as data, and the source's defaults.

One list, `GET {base_url}/emailQueue/emails` (../shared/api-docs/alvaria-emailqueue-api.txt):
the e-mails active in the organisation *now*, `startIndex`/`maxResults` paged, behind an
OAuth2 client-credentials token (scope `emailqueueapi`) and an `x-api-key`. The API keeps no
history, so the source's tables are built from what each run sees (docs/alvaria-tables.md).
"""

from __future__ import annotations

from typing import Any

DEFAULT_BASE_URL = "https://{org_id}.via.aspect-cloud.net/via/v2/organizations/{org_id}"
EMAILS_PATH = "emailQueue/emails"
TOKEN_SCOPE = "emailqueueapi"
DEFAULT_REQUESTS_PER_SECOND = 5.0
"""Alvaria publishes no rate limit for this API; five a second reads a queue of 5,000
e-mails in about a second at a 1,000-item cap, and a 429 slows the budget down anyway."""
DEFAULT_PAGE_SIZE = 1000
"""`maxResults` asked for. The server may cap it silently; the reader pages by what it was
sent, never by what it asked for."""
DEFAULT_TIMEOUT_SECONDS = 60.0
DEFAULT_MAX_ATTEMPTS = 6
DEFAULT_RETRY_BACKOFF_SECONDS = 0.5
DEFAULT_MAX_PASSES = 3
"""Reads of the whole list one run may make when a read cannot prove itself complete."""
PAGE_OVERLAP = 2
"""E-mails each page re-reads from the page before: what ties the pages of one read together
when the list moves under it (docs/alvaria-tables.md, "How a snapshot is read")."""

EMAILS = "emails"
EMAIL_SNAPSHOTS = "email_snapshots"
EMAIL_STATE_CHANGES = "email_state_changes"
SNAPSHOTS = "snapshots"

STATES = ("Invalid", "Queued", "Queued2", "Active", "Wrap", "Review", "ReviewActive", "Draft",
          "DraftActive", "Transferred", "TransferredActive", "Reassigned", "ReassignedDraft",
          "ReassignedActive")
EMAIL_TYPES = ("InboundEmail", "ManualOutboundEmail", "CampaignOutboundEmail")

FIELDS: dict[str, str] = {
    # API name -> column, in the documented order
    "id": "id", "threadId": "thread_id", "umId": "um_id", "contactId": "contact_id",
    "interactionId": "interaction_id", "workTypeId": "work_type_id",
    "workHandlerId": "work_handler_id", "sentTime": "sent_time",
    "receivedTime": "received_time", "startTime": "start_time", "queuedTime": "queued_time",
    "activeTime": "active_time", "lastModifiedTime": "last_modified_time",
    "eventSequenceNumber": "event_sequence_number", "state": "state", "emailType": "email_type",
    "emailObjectId": "email_object_id", "replyEmailObjectId": "reply_email_object_id",
    "fromAddress": "from_address", "toAddress": "to_address", "subject": "subject",
    "workHandlerName": "work_handler_name", "workTypeName": "work_type_name",
}
IDS = ("id", "thread_id", "um_id", "contact_id", "interaction_id", "work_type_id",
       "work_handler_id")
"""Identifiers, kept as text: the documents send them as strings (`string(int32)`)."""
TIMES = ("sent_time", "received_time", "start_time", "queued_time", "active_time",
         "last_modified_time")
SNAPSHOT_FIELDS = ("id", "thread_id", "interaction_id", "work_type_id", "work_handler_id",
                   "state", "email_type", *TIMES, "event_sequence_number")
"""What `email_snapshots` keeps of each e-mail: the queue's shape, no addresses or subjects."""

PII_FIELDS: dict[str, tuple[str, ...]] = {
    # the customer's and the agent's identities, and what the e-mail is about
    EMAILS: ("fromAddress", "toAddress", "subject", "workHandlerName"),
}

_TEXT: dict[str, Any] = {"data_type": "text"}
_TIME: dict[str, Any] = {"data_type": "timestamp"}
EMAIL_COLUMNS: dict[str, dict[str, Any]] = {
    **{name: {"name": name, **_TEXT} for name in FIELDS.values()},
    **{name: {"name": name, **_TIME} for name in TIMES},
    "id": {"name": "id", "data_type": "text", "nullable": False, "primary_key": True},
    "event_sequence_number": {"name": "event_sequence_number", "data_type": "bigint"},
    "first_seen_at": {"name": "first_seen_at", **_TIME},
    "last_seen_at": {"name": "last_seen_at", **_TIME},
    "is_active": {"name": "is_active", "data_type": "bool"},
    "left_queue_at": {"name": "left_queue_at", **_TIME},
}
SNAPSHOT_ROW_COLUMNS: dict[str, dict[str, Any]] = {
    "snapshot_at": {"name": "snapshot_at", **_TIME, "nullable": False},
    **{name: dict(EMAIL_COLUMNS[name], primary_key=False) for name in SNAPSHOT_FIELDS},
}
CHANGE_COLUMNS: dict[str, dict[str, Any]] = {
    "id": {"name": "id", **_TEXT, "nullable": False},
    "observed_at": {"name": "observed_at", **_TIME, "nullable": False},
    **{name: {"name": name, **_TEXT} for name in (
        "from_state", "to_state", "from_handler", "to_handler", "from_work_type_id",
        "to_work_type_id")},
    "event_sequence_number": {"name": "event_sequence_number", "data_type": "bigint"},
}
READ_COLUMNS: dict[str, dict[str, Any]] = {
    "snapshot_at": {"name": "snapshot_at", **_TIME, "nullable": False},
    "total_items": {"name": "total_items", "data_type": "bigint"},
    "total_items_at_end": {"name": "total_items_at_end", "data_type": "bigint"},
    "emails_captured": {"name": "emails_captured", "data_type": "bigint"},
    "passes": {"name": "passes", "data_type": "bigint"},
    "requests": {"name": "requests", "data_type": "bigint"},
    "consistent": {"name": "consistent", "data_type": "bool"},
    "relinked_pages": {"name": "relinked_pages", "data_type": "bigint"},
    "shifted_pages": {"name": "shifted_pages", "data_type": "bigint"},
    "page_cap": {"name": "page_cap", "data_type": "bigint"},
    "read_seconds": {"name": "read_seconds", "data_type": "double"},
}
