"""Genesys notifications into rows, and the durable spool they wait in: expected values are
written out by hand from the documents' shapes (../shared/api-docs/genesys-*)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from sources.genesys.helpers.rows import event_row, listed_row, message_id
from sources.kit.spool import Spool, SpoolPosition

OBSERVED = "2026-12-04T08:00:00+00:00"


def test_the_flat_shape_of_the_page_loads_every_field() -> None:
    message = {"channel": "/v2/me/interactions", "id": "77", "data": {
        "messageTypeName": "InteractionStateMessage", "id": "000A1B", "channel": "email",
        "email_object": {"ToAddress": "support@example.com", "FromAddress": "ann@example.org",
                         "CCAddresses": "", "Subject": "Parcel", "Text": "hi",
                         "StructuredText": "<p>hi</p>", "MimeType": "text/plain",
                         "StructuredTextMimeType": "text/html"},
        "interactionType": "Email", "interactionSubType": "InboundNew",
        "receivedAt": "2026-11-30T09:00:12.000Z", "state": "Invited",
        "capabilities": ["Accept", "Reject"], "userData": {"b": 2, "a": 1},
        "currentQueue": "Billing"}}

    assert event_row(message, OBSERVED) == {
        "message_id": "77", "channel": "/v2/me/interactions", "notification_type": None,
        "observed_at": OBSERVED, "message_type_name": "InteractionStateMessage",
        "interaction_id": "000A1B", "media_channel": "email",
        "email_object__to_address": "support@example.com",
        "email_object__from_address": "ann@example.org", "email_object__cc_addresses": "",
        "email_object__subject": "Parcel", "email_object__text": "hi",
        "email_object__structured_text": "<p>hi</p>", "email_object__mime_type": "text/plain",
        "email_object__structured_text_mime_type": "text/html",
        "interaction_type": "Email", "interaction_sub_type": "InboundNew",
        "received_at": "2026-11-30T09:00:12+00:00", "state": "Invited",
        "capabilities": ["Accept", "Reject"], "user_data": '{"a":1,"b":2}',
        "current_queue": "Billing", "extra": None}


def test_the_8_5_2_shape_odd_key_case_and_unknown_fields_lose_nothing() -> None:
    message = {"channel": "/v2/me/emails", "id": "78", "data": {
        "messageType": "EmailStateChangeMessage", "notificationType": "StatusChange",
        "email": {"id": "000A1C", "state": "Processing", "interactionSubType": "InboundNew",
                  "toAddress": "support@example.com", "subject": "Refund",
                  "receivedAt": "not a time", "capabilities": ["Complete"]},
        "serverNode": "gws-2"}}
    dirty = {"channel": "/v2/me/interactions", "id": "79", "data": {
        "id": "000A1D", "STATE": "SomethingNew", "InteractionSubType": "OutboundReply",
        "EmailObject": {"Subject": "Re: Refund", "Signature": "--"},
        "mediaServerTimestamp": 1790000000}}

    row = event_row(message, OBSERVED)
    assert (row["message_type_name"], row["notification_type"], row["interaction_id"],
            row["state"], row["email_object__to_address"], row["email_object__subject"],
            row["received_at"], row["capabilities"]) == (
        "EmailStateChangeMessage", "StatusChange", "000A1C", "Processing",
        "support@example.com", "Refund", None, ["Complete"])
    assert json.loads(row["extra"]) == {"receivedAt": "not a time",
                                        "_envelope": {"serverNode": "gws-2"}}
    row = event_row(dirty, OBSERVED)
    assert (row["interaction_id"], row["state"], row["interaction_sub_type"],
            row["email_object__subject"]) == ("000A1D", "SomethingNew", "OutboundReply",
                                              "Re: Refund")
    assert json.loads(row["extra"]) == {"EmailObject.Signature": "--",
                                        "mediaServerTimestamp": 1790000000}


def test_a_message_without_an_id_is_named_by_a_hash_of_channel_and_payload() -> None:
    message = {"channel": "/v2/me/interactions", "data": {"id": "X", "state": "Invited"}}
    body = '{"channel":"/v2/me/interactions","data":{"id":"X","state":"Invited"}}'

    assert message_id(message) == "sha256:" + hashlib.sha256(body.encode()).hexdigest()[:32]
    assert message_id(dict(message)) == message_id(message)
    assert message_id({**message, "data": {"id": "X", "state": "Processing"}}) != message_id(message)
    assert listed_row({"state": "Invited"}) is None and listed_row("uri") is None


def test_the_spool_reads_on_from_a_position_skips_a_torn_line_and_drops_loaded_segments(
        tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", segment_bytes=40)
    spool.append([{"n": 1}, {"n": 2}])
    spool.append([{"n": 3, "pad": "x" * 40}])       # the segment is full: the next starts one
    spool.append([{"n": 4}])

    read = list(spool.read(SpoolPosition()))
    assert [record["n"] for _, record in read] == [1, 2, 3, 4]
    assert oct((tmp_path / "spool").stat().st_mode & 0o777) == "0o700"
    after_two = read[1][0]
    assert [r["n"] for _, r in spool.read(after_two)] == [3, 4]
    assert SpoolPosition.parse(str(after_two)) == after_two

    # a crash in the middle of a write leaves a line without its newline: not a record
    last = spool.segments()[-1]
    with open(tmp_path / "spool" / f"{last:010d}.jsonl", "ab") as handle:
        handle.write(b'{"n": 5')
    assert [r["n"] for _, r in spool.read(read[-1][0])] == []
    spool.close()
    restarted = Spool(tmp_path / "spool", segment_bytes=40)
    restarted.append([{"n": 6}])                     # a new segment after the torn one
    assert [r["n"] for _, r in restarted.read(read[-1][0])] == [6]

    position = list(restarted.read(SpoolPosition()))[-1][0]
    segments = restarted.segments()
    assert restarted.discard_before(position) == len(segments) - 1 == 2
    assert restarted.segments() == [position.segment]
    assert os.listdir(tmp_path / "spool") == [f"{position.segment:010d}.jsonl"]
