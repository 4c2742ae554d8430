"""Genesys notifications and listed interactions, shaped into rows (pure functions).

Two shapes arrive (../shared/api-docs/genesys-behaviour.md): the flat
`InteractionStateMessage` of the 8.5.0/8.5.1 page on `/v2/me/interactions`, and the 8.5.2
`EmailStateChangeMessage` on `/v2/me/emails`, whose interaction sits under `data.email` with
its e-mail fields flat and camel-cased. Keys come in varied case (`EmailObject`,
`InteractionSubType`, `STATE`), so known fields are found by their folded name (lower case,
no underscores); every other field is kept whole in `extra` (JSON text), so nothing is lost.
"""

from __future__ import annotations

import hashlib
from typing import Any, Optional

import orjson
import pendulum

EMAIL_FIELDS = {
    # folded name -> column
    "toaddress": "email_object__to_address",
    "fromaddress": "email_object__from_address",
    "ccaddresses": "email_object__cc_addresses",
    "ccaddress": "email_object__cc_addresses",
    "bccaddress": "email_object__bcc_addresses",
    "subject": "email_object__subject",
    "text": "email_object__text",
    "structuredtext": "email_object__structured_text",
    "mimetype": "email_object__mime_type",
    "structuredtextmimetype": "email_object__structured_text_mime_type",
}
INTERACTION_FIELDS = {
    "id": "interaction_id",
    "state": "state",
    "interactiontype": "interaction_type",
    "interactionsubtype": "interaction_sub_type",
    "messagetypename": "message_type_name",
    "channel": "media_channel",
    "currentqueue": "current_queue",
    "parentinteractionid": "parent_interaction_id",
}
EMAIL_OBJECT_KEYS = ("emailobject", "email")
"""Folded names of the nested e-mail object (8.5.1 `email_object`, some servers `EmailObject`)."""

LEAVING_STATES = frozenset({"Completed", "Revoked", "Transferred", "PlacedInQueue", "Rejected",
                            "Sent", "Cancelled", "Deleted", "Stopped"})
"""States in which an interaction leaves the user's list. Only a list tells for sure; an
event in one of these marks the interaction as left until a later event or list says
otherwise."""


def fold(key: str) -> str:
    return key.replace("_", "").replace("-", "").lower()


def message_id(message: dict[str, Any]) -> str:
    """The Bayeux message `id`; when absent, a stable hash of the channel and the payload
    (a redelivery is byte-for-byte the same message, so it hashes the same)."""
    given = message.get("id")
    if given is not None and str(given) != "":
        return str(given)
    body = orjson.dumps({"channel": message.get("channel"), "data": message.get("data")},
                        option=orjson.OPT_SORT_KEYS)
    return "sha256:" + hashlib.sha256(body).hexdigest()[:32]


def interaction_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The columns of one interaction in either shape; unknown keys into `extra`."""
    row: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in body.items():
        folded = fold(key)
        if folded in INTERACTION_FIELDS:
            column = INTERACTION_FIELDS[folded]
            row[column] = None if value is None else str(value)
        elif folded in EMAIL_OBJECT_KEYS and isinstance(value, dict):
            for email_key, email_value in value.items():
                column = EMAIL_FIELDS.get(fold(email_key))
                if column:
                    row[column] = _text(email_value)
                else:
                    extra[f"{key}.{email_key}"] = email_value
        elif folded in EMAIL_FIELDS:
            row[EMAIL_FIELDS[folded]] = _text(value)
        elif folded == "userdata":
            row["user_data"] = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode() \
                if value is not None else None
        elif folded == "capabilities":
            row["capabilities"] = [str(c) for c in value] if isinstance(value, list) else []
        elif folded == "receivedat":
            row["received_at"] = _timestamp(value)
            if row["received_at"] is None and value is not None:
                extra[key] = value
        else:
            extra[key] = value
    row["extra"] = orjson.dumps(extra, option=orjson.OPT_SORT_KEYS).decode() if extra else None
    return row


def event_row(message: dict[str, Any], observed_at: str) -> dict[str, Any]:
    """One notification (a Bayeux data message) as an `interaction_events` row."""
    data = message.get("data")
    body: dict[str, Any] = data if isinstance(data, dict) else {"value": data}
    notification_type = None
    envelope_type = None
    nested = next((k for k in body if fold(k) == "email" and isinstance(body[k], dict)), None)
    if nested is not None and any(fold(k) == "messagetype" for k in body):
        # the 8.5.2 shape: {"messageType": "EmailStateChangeMessage", "email": {...}}
        outer = {fold(k): v for k, v in body.items()}
        envelope_type = outer.get("messagetype")
        notification_type = outer.get("notificationtype")
        inner = dict(body[nested])
        rest = {k: v for k, v in body.items()
                if k != nested and fold(k) not in ("messagetype", "notificationtype")}
        if rest:
            inner["_envelope"] = rest
        body = inner
    row = interaction_fields(body)
    if envelope_type is not None:
        row["message_type_name"] = str(envelope_type)
    row.update(message_id=message_id(message), channel=message.get("channel"),
               notification_type=None if notification_type is None else str(notification_type),
               observed_at=observed_at)
    return row


def listed_row(item: Any) -> Optional[dict[str, Any]]:
    """One interaction of `GET /me/interactions?fields=*` (the notification shape)."""
    if not isinstance(item, dict):
        return None
    row = interaction_fields(item)
    return row if row.get("interaction_id") else None


def _text(value: Any) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _timestamp(value: Any) -> Optional[str]:
    """An ISO timestamp in UTC, or None when the value is not one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = pendulum.parse(value)
    except (ValueError, TypeError, pendulum.parsing.exceptions.ParserError):
        return None
    if not isinstance(parsed, pendulum.DateTime):
        return None
    return parsed.in_tz("UTC").isoformat()
