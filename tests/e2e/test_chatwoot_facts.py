"""Chatwoot conversations in the shared facts, as docs/metrics.md ("Across sources") maps
them: expected rows computed here from the sandbox account, not by the models."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from typing import Any, Optional
from zoneinfo import ZoneInfo

import duckdb

from sources.chatwoot.sandbox.account import Account, Conversation
from tests.e2e.chatwoot_harness import chatwoot  # noqa: F401 (the fixture)
from tests.e2e.marts import assert_marts_equal
from transforms.runner import build
from transforms.settings import TransformSettings

ZONE = "America/New_York"
CHANNELS = {1: "chat", 2: "email", 3: "messaging", 4: "chat"}
"""Inbox -> channel: web widget and API are chat, email is email, WhatsApp is messaging."""
CLASSES = {1: "Channel::WebWidget", 2: "Channel::Email", 3: "Channel::Whatsapp", 4: "Channel::Api"}


def local(epoch: float) -> datetime:
    return datetime.fromtimestamp(int(epoch), timezone.utc).astimezone(ZoneInfo(ZONE))


def interval(epoch: float) -> datetime:
    moment = local(epoch)
    return moment.replace(minute=moment.minute // 15 * 15, second=0, tzinfo=None)


def first_response(c: Conversation) -> Optional[float]:
    if c.first_reply_created_at is None:
        return None
    return float(int(c.first_reply_created_at) - int(c.created_at))


def expected_contact(c: Conversation) -> dict[str, Any]:
    replied = c.first_reply_created_at is not None
    channel = CHANNELS[c.inbox_id]
    return {
        "contact_id": str(c.display_id), "channel": channel, "contact_type": CLASSES[c.inbox_id],
        "status": c.status, "queue_id": str(c.inbox_id),
        # ids are text in the facts: other vendors' are not numbers
        "agent_id": None if c.assignee_id is None else str(c.assignee_id),
        "end_user_id": c.contact_id, "local_date": local(c.created_at).date(),
        "interval_start": interval(c.created_at),
        "ended_at": (datetime.fromtimestamp(int(c.last_activity_at), timezone.utc)
                     if c.status == "resolved" else None),
        "first_response_seconds": first_response(c),
        "is_handled": replied,
        "is_abandoned": (not replied and c.status == "resolved" and channel in ("chat", "messaging")),
        "queue_seconds": None, "transfer_count": 0, "handle_segments": 0,
    }


def service_level(c: Conversation) -> str:
    if any(e["event_type"] == "frt" for e in c.sla_events):
        return "not_in_sla"
    if c.sla_policy_id and c.first_reply_created_at is not None:
        return "in_sla"
    return "excluded"


def normalized(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for key, value in out.items():
        if isinstance(value, datetime) and value.tzinfo is not None:
            out[key] = value.astimezone(timezone.utc)
    return out


def rows(database: Any, sql: str) -> list[dict[str, Any]]:
    with duckdb.connect(str(database), read_only=True) as connection:
        connection.execute("set timezone = 'UTC'")
        cursor = connection.execute(sql)
        names = [d[0] for d in cursor.description]
        return [normalized(dict(zip(names, row))) for row in cursor.fetchall()]


def assert_facts_match(account: Account, database: Any) -> None:
    conversations = account.snapshot()
    columns = ", ".join(expected_contact(next(iter(conversations.values()))))
    loaded = {r["contact_id"]: r for r in rows(
        database, f"select {columns} from contact_center.fct_contacts where source = 'chatwoot'")}
    expected = {str(c.display_id): expected_contact(c) for c in conversations.values()}
    assert set(loaded) == set(expected)
    wrong = {key: {c: (want[c], loaded[key][c]) for c in want if want[c] != loaded[key][c]}
             for key, want in expected.items() if want != loaded[key]}
    assert wrong == {}, list(wrong.items())[:3]

    counts: Counter[tuple[Any, ...]] = Counter()
    for c in conversations.values():
        key = (interval(c.created_at), CHANNELS[c.inbox_id], str(c.inbox_id))
        counts[key + ("entries",)] += 1
        counts[key + ("answered",)] += c.first_reply_created_at is not None
        counts[key + (service_level(c),)] += 1
    loaded_counts: Counter[tuple[Any, ...]] = Counter()
    for r in rows(database, "select interval_start, channel, queue_id, entries, answered, in_sla,"
                            " not_in_sla, sla_excluded from contact_center.fct_queue_interval"
                            " where source = 'chatwoot'"):
        key = (r["interval_start"], r["channel"], r["queue_id"])
        for name, column in (("entries", "entries"), ("answered", "answered"), ("in_sla", "in_sla"),
                             ("not_in_sla", "not_in_sla"), ("excluded", "sla_excluded")):
            if r[column]:
                loaded_counts[key + (name,)] += r[column]
    assert +loaded_counts == +counts


def test_conversations_are_contacts_and_queue_entries_and_incremental_equals_full(chatwoot) -> None:
    cw = chatwoot()
    cw.run(transform=ZONE)
    assert_facts_match(cw.account, cw.database)

    # between two runs' snapshots: one conversation handed from the bot to the agents (pending
    # to open, nobody assigned), one handed to another agent, one assigned
    with cw.account.lock:
        unresolved = sorted((c for c in cw.account.conversations.values()
                             if c.status != "resolved"), key=lambda c: c.display_id)
        handed, reassigned, assigned = (
            next(c for c in unresolved if c.assignee_id is None),
            next(c for c in unresolved if c.assignee_id is not None),
            [c for c in unresolved if c.assignee_id is None][1])
    cw.account.change_status(handed.display_id, "pending")
    for kind in ("new_message", "change_status", "sla_miss", "new_conversation", "receipt"):
        cw.account.churn(4, (kind,))
    summary = cw.run(transform=ZONE)
    cw.account.change_status(handed.display_id, "open")
    cw.account.assign(reassigned.display_id)
    cw.account.assign(assigned.display_id)
    cw.account.churn(6, ("assign", "change_status"))
    cw.run(transform=ZONE)

    assert summary.transform is not None and summary.transform.mode == "incremental"
    assert_facts_match(cw.account, cw.database)
    assert_agent_days_match(cw.account, cw.database)
    assert_backlog_matches(cw.account, cw.database, snapshots=3)
    assert_events_match(cw.account, cw.database)
    build(cw.pipeline(), TransformSettings(ZONE, dataset="contact_center_full"), sources=[cw.raw_source()], full_refresh=True)
    with duckdb.connect(str(cw.database), read_only=True) as connection:
        assert_marts_equal(connection)


def assert_agent_days_match(account: Account, database: Any) -> None:
    """Per agent, local date and channel: the conversations the agent publicly replied in
    that day (handled, contacts handled and segments alike) and those replies; durations and
    transfers null (docs/metrics.md, "Chatwoot in the same facts")."""
    replies: dict[tuple[str, Any, str], dict[int, int]] = {}
    for c in account.snapshot().values():
        for m in c.messages:
            if (m["message_type"] == 1 and m["sender_type"] == "User" and not m["private"]
                    and not m["content_attributes"].get("deleted")):
                key = (str(m["sender_id"]), local(m["created_at"]).date(), CHANNELS[c.inbox_id])
                per_conversation = replies.setdefault(key, {})
                per_conversation[c.display_id] = per_conversation.get(c.display_id, 0) + 1
    expected = {key: {"segments": len(conv), "handled": len(conv), "contacts_handled": len(conv),
                      "messages_sent": sum(conv.values()), "duration_seconds": None,
                      "handle_seconds": None, "aht_seconds": None, "transfers_out": None,
                      "transfers_in": None} for key, conv in replies.items()}
    got = {(r["agent_id"], r["local_date"], r["channel"]): {k: r[k] for k in (
        "segments", "handled", "contacts_handled", "messages_sent", "duration_seconds",
        "handle_seconds", "aht_seconds", "transfers_out", "transfers_in")}
        for r in rows(database, "select * from contact_center.fct_agent_daily"
                                " where source = 'chatwoot'")}
    assert expected and got == expected


def assert_backlog_matches(account: Account, database: Any, snapshots: int) -> None:
    """Each run ends with a snapshot of the unresolved conversations (the last one equal to
    the account now), and `fct_queue_backlog` counts them per inbox and status: waiting
    while nobody is assigned (and not snoozed), in progress otherwise."""
    raw = rows(database, "select * from chatwoot.conversation_snapshots")
    times = sorted({r["snapshot_at"] for r in raw})
    assert len(times) == snapshots
    unresolved = {c.display_id: c for c in account.snapshot().values()
                  if c.status in ("open", "pending", "snoozed")}
    last = {r["conversation_id"]: r for r in raw if r["snapshot_at"] == times[-1]}
    assert set(last) == set(unresolved)
    for key, c in unresolved.items():
        assert (last[key]["status"], last[key]["inbox_id"], last[key]["assignee_id"]) == (
            c.status, c.inbox_id, c.assignee_id), key
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in raw:
        key = (r["snapshot_at"], CHANNELS[r["inbox_id"]], str(r["inbox_id"]), r["status"])
        groups.setdefault(key, []).append(r)
    expected = {}
    for key, members in groups.items():
        waiting = sum(1 for m in members if m["assignee_id"] is None and m["status"] != "snoozed")
        oldest = min(m["created_at"] for m in members)
        expected[key] = (waiting, len(members) - waiting, (key[0] - oldest).total_seconds())
    got = {(r["snapshot_at"], r["channel"], r["queue_id"], r["state"]):
           (r["waiting"], r["in_progress"], r["oldest_age_seconds"])
           for r in rows(database, "select * from contact_center.fct_queue_backlog"
                                   " where source = 'chatwoot'")}
    assert got.keys() == expected.keys()
    for key, (waiting, in_progress, age) in expected.items():
        assert got[key][:2] == (waiting, in_progress), key
        assert abs(got[key][2] - age) < 0.002, key


def assert_events_match(account: Account, database: Any) -> None:
    """docs/metrics.md, "fct_contact_events", Chatwoot column: each conversation's creation,
    public agent replies and resolution at the vendor's times, and what consecutive run
    snapshots show changed (pending to open unassigned: queued; an assignee where there was
    none: accepted; another assignee: transferred) at the snapshot's time."""
    def at(epoch: float) -> datetime:
        return datetime.fromtimestamp(int(epoch), timezone.utc)

    expected: dict[str, list[tuple[Any, ...]]] = {}
    for c in account.snapshot().values():
        events = expected.setdefault(str(c.display_id), [])
        events.append((at(c.created_at), -4, "arrived", "created", None))
        for m in c.messages:
            if (m["message_type"] == 1 and m["sender_type"] == "User" and not m["private"]
                    and not m["content_attributes"].get("deleted")):
                events.append((at(m["created_at"]), m["id"], "replied", "outgoing message",
                               str(m["sender_id"])))
        if c.status == "resolved":
            given_up = c.first_reply_created_at is None and CHANNELS[c.inbox_id] != "email"
            events.append((at(c.last_activity_at), 9e18, "abandoned" if given_up else "completed",
                           "resolved", None if c.assignee_id is None else str(c.assignee_id)))
    previous: dict[str, dict[str, Any]] = {}
    for r in rows(database, "select * from chatwoot.conversation_snapshots order by snapshot_at"):
        key, before = str(r["conversation_id"]), previous.get(str(r["conversation_id"]))
        previous[key] = r
        status, assignee = r["status"], r["assignee_id"]
        agent = None if assignee is None else str(assignee)
        if before and before["status"] == "pending" and status == "open" and assignee is None:
            expected[key].append((r["snapshot_at"], -3, "queued", status, None))
        elif assignee is not None and (before is None or before["assignee_id"] is None):
            expected[key].append((r["snapshot_at"], -2, "accepted", status, agent))
        elif assignee is not None and before["assignee_id"] != assignee:
            expected[key].append((r["snapshot_at"], -2, "transferred", status, agent))
    want = {key: [e[:1] + e[2:] for e in sorted(events, key=lambda e: e[:2])]
            for key, events in expected.items()}
    got: dict[str, list[tuple[Any, ...]]] = {}
    for r in rows(database, "select * from contact_center.fct_contact_events"
                            " where source = 'chatwoot' order by contact_id, event_number"):
        got.setdefault(r["contact_id"], []).append(
            (r["event_at"], r["event"], r["vendor_state"], r["agent_id"]))
        assert r["event_number"] == len(got[r["contact_id"]])
    assert got == want
    kinds = {e[1] for events in got.values() for e in events}
    assert {"arrived", "replied", "accepted", "transferred", "queued", "completed"} <= kinds, kinds
