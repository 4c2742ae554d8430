"""The sandbox account: a Chatwoot account's conversations and messages, and how they change.

Everything is in memory under one lock, so the HTTP server's threads, a test and the churn
that changes conversations while a client pages can all touch it at once. Timestamps are
epoch floats on the real clock, as Chatwoot keeps them (microseconds in Postgres); the API
renders most as whole seconds. Which change moves which timestamp follows
`../shared/api-docs/chatwoot-behaviour.md` (`Message belongs_to :conversation, touch: true`):

| change                                         | updated_at | last_activity_at |
|------------------------------------------------|------------|------------------|
| a new message (and the activity message of a   | moves      | moves            |
| status, label, assignee, team or priority change)                              |
| a delivery receipt, a deletion, an edit         | moves      | -                |
| custom or additional attributes                 | moves      | -                |
| an SLA miss, "last seen"                        | -          | -                |
"""

from __future__ import annotations

import copy
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Optional

Record = dict[str, Any]

STATUSES = ("open", "resolved", "pending", "snoozed")
INBOXES: tuple[tuple[int, str, str], ...] = (
    (1, "Website", "Channel::WebWidget"),
    (2, "Support email", "Channel::Email"),
    (3, "WhatsApp", "Channel::Whatsapp"),
    (4, "Partner API", "Channel::Api"),
)
LABELS = ("billing", "bug", "refund", "vip", "feedback", "onboarding")
PRIORITIES = (None, "low", "medium", "high", "urgent")
DELETED_CONTENT = "This message was deleted"
INCOMING, OUTGOING, ACTIVITY, TEMPLATE = 0, 1, 2, 3


@dataclass(frozen=True)
class AccountSize:
    """How much history the account has. The defaults make a small support team's fortnight."""

    days: float = 14
    conversations: int = 120
    agents: int = 8
    contacts: int = 90
    long_threads: int = 2
    """Conversations with hundreds of messages (more than one page of the messages endpoint)."""
    long_thread_messages: int = 260


@dataclass
class Conversation:
    display_id: int
    uuid: str
    inbox_id: int
    contact_id: int
    status: str
    created_at: float
    updated_at: float
    last_activity_at: float
    priority: Optional[str] = None
    assignee_id: Optional[int] = None
    team_id: Optional[int] = None
    labels: list[str] = field(default_factory=list)
    custom_attributes: dict[str, Any] = field(default_factory=dict)
    additional_attributes: dict[str, Any] = field(default_factory=dict)
    first_reply_created_at: Optional[float] = None
    waiting_since: Optional[float] = None
    snoozed_until: Optional[float] = None
    agent_last_seen_at: Optional[float] = None
    contact_last_seen_at: Optional[float] = None
    muted: bool = False
    sla_policy_id: Optional[int] = None
    sla_events: list[Record] = field(default_factory=list)
    messages: list[Record] = field(default_factory=list)


class Account:
    """A fake Chatwoot account with consistent history ending now.

    Args:
        seed: makes the generated history reproducible (times are relative to now).
        size: how many conversations, agents and contacts.
    """

    account_id = 1

    def __init__(self, seed: int = 7, size: AccountSize = AccountSize()) -> None:
        self.lock = threading.RLock()
        self.rng = random.Random(seed)
        self.size = size
        self._last_time = 0.0
        self._message_ids = 1000
        self._attachment_ids = 500
        self._sla_event_ids = 100
        self.agents = [self._agent(i) for i in range(1, size.agents + 1)]
        self.teams = [{"id": 1, "name": "Tier 1", "description": "first line",
                       "allow_auto_assign": True, "account_id": self.account_id},
                      {"id": 2, "name": "Billing", "description": "money matters",
                       "allow_auto_assign": False, "account_id": self.account_id}]
        self.contacts = [self._contact(i) for i in range(1, size.contacts + 1)]
        self.sla_policies = [
            {"id": 1, "name": "Standard", "first_response_time_threshold": 3600,
             "next_response_time_threshold": 7200, "resolution_time_threshold": 86400},
            {"id": 2, "name": "VIP", "first_response_time_threshold": 600,
             "next_response_time_threshold": 1200, "resolution_time_threshold": 14400},
        ]
        self.conversations: dict[int, Conversation] = {}
        self._generate()

    # -- the clock ---------------------------------------------------------------------------
    def now(self) -> float:
        """The server's clock: real time, strictly increasing (no two changes share a value)."""
        with self.lock:
            value = max(time.time(), self._last_time + 0.000001)
            self._last_time = value
            return round(value, 6)

    # -- reference data ----------------------------------------------------------------------
    def _agent(self, number: int) -> Record:
        first = ("Ana", "Ben", "Chen", "Dara", "Eli", "Femi", "Gus", "Hana", "Ivo", "Jun")[number % 10]
        return {"id": number, "name": f"{first} Agent{number}", "available_name": f"{first}",
                "email": f"agent{number}@acme.test", "role": "administrator" if number == 1 else "agent",
                "availability_status": "online", "confirmed": True, "account_id": self.account_id,
                "thumbnail": "", "auto_offline": True}

    def _contact(self, number: int) -> Record:
        return {"id": number, "name": f"Customer {number}", "email": f"customer{number}@example.com",
                "phone_number": f"+1555000{number:04d}", "identifier": f"cust-{number}",
                "thumbnail": "", "blocked": False, "availability_status": "offline",
                "additional_attributes": {"city": self.rng.choice(("Lisbon", "Austin", "Pune"))},
                "custom_attributes": {}, "created_at": int(time.time() - 86400 * 60),
                "last_activity_at": None}

    # -- generated history --------------------------------------------------------------------
    def _generate(self) -> None:
        size, rng = self.size, self.rng
        start = time.time() - size.days * 86400
        span = size.days * 86400
        created = sorted(start + rng.random() * span * 0.95 for _ in range(size.conversations))
        long_ones = set(rng.sample(range(size.conversations), min(size.long_threads,
                                                                  size.conversations)))
        for index, moment in enumerate(created):
            messages = (size.long_thread_messages if index in long_ones
                        else rng.choice((1, 2, 3, 4, 6, 8, 12, 20)))
            self._generated_conversation(index + 1, moment, messages)
        # imports create some conversations in one go: equal timestamps, no tie-breaker
        if len(created) > 8:
            tied = self.conversations[5].created_at
            for display_id in (6, 7):
                conversation = self.conversations[display_id]
                conversation.created_at = tied
        self._last_time = time.time()

    def _generated_conversation(self, display_id: int, created: float, count: int) -> None:
        rng = self.rng
        latest = time.time() - 120     # generated history ends before now, whatever its size
        inbox_id = rng.choice(INBOXES)[0]
        conversation = Conversation(
            display_id=display_id, uuid=str(uuid.UUID(int=rng.getrandbits(128))),
            inbox_id=inbox_id, contact_id=rng.randrange(1, len(self.contacts) + 1),
            status="open", created_at=created, updated_at=created, last_activity_at=created,
            priority=rng.choice(PRIORITIES),
            custom_attributes={"plan": rng.choice(("free", "pro", "enterprise"))},
            additional_attributes={"browser": {"name": "Firefox"}} if inbox_id == 1 else {},
            sla_policy_id=rng.choice((None, None, 1, 2)))
        self.conversations[display_id] = conversation
        moment = created
        for number in range(count):
            moment += rng.uniform(20, 900) if count < 100 else rng.uniform(5, 60)
            moment = min(moment, latest - (count - number) * 0.01)
            kind = INCOMING if number == 0 or rng.random() < 0.45 else OUTGOING
            private = kind == OUTGOING and rng.random() < 0.1
            self._add_message(conversation, kind, moment, private=private,
                              attachment=rng.random() < 0.06)
            if number == 1 and rng.random() < 0.7:
                conversation.assignee_id = rng.randrange(1, len(self.agents) + 1)
                self._add_message(conversation, ACTIVITY, moment + 1,
                                  content=f"Assigned to {self.agents[conversation.assignee_id - 1]['name']}")
        if rng.random() < 0.5:
            conversation.labels = sorted(rng.sample(LABELS, rng.randrange(1, 3)))
        if rng.random() < 0.3:
            conversation.team_id = rng.choice((1, 2))
        final = rng.random()
        moment = min(conversation.last_activity_at + rng.uniform(30, 600), latest)
        if moment < time.time() - 2 * 86400:
            # a support team closes almost everything within days: what is older is resolved,
            # but for a few left pending or snoozed
            final = final * 0.55 / 0.93 if final < 0.93 else 0.55 + (final - 0.93) / 0.07 * 0.25
        if final < 0.55 and moment < time.time() - 3600:
            self._set_status(conversation, "resolved", moment)
            if rng.random() < 0.08:   # reopened by the customer, resolved again
                self._add_message(conversation, INCOMING, moment + 300)
                self._set_status(conversation, "resolved", moment + 900)
        elif final < 0.7:
            self._set_status(conversation, "pending", moment)
        elif final < 0.8:
            conversation.snoozed_until = moment + 86400
            self._set_status(conversation, "snoozed", moment)
        for message in conversation.messages:
            if message["message_type"] == OUTGOING and not message["private"]:
                message["status"] = rng.choice(("sent", "delivered", "read", "read"))
        if conversation.sla_policy_id and rng.random() < 0.3:
            self._sla_event(conversation, "frt", conversation.created_at + 3600)
        conversation.agent_last_seen_at = conversation.last_activity_at
        conversation.contact_last_seen_at = conversation.last_activity_at if rng.random() < 0.5 else None

    # -- changes (each moves the timestamps Chatwoot moves) -----------------------------------
    def _add_message(self, conversation: Conversation, kind: int, moment: float, *,
                     content: Optional[str] = None, private: bool = False,
                     attachment: bool = False) -> Record:
        self._message_ids += 1
        if kind == INCOMING:
            sender_type, sender_id = "Contact", conversation.contact_id
        elif kind in (OUTGOING, TEMPLATE):
            sender_type = "User"
            sender_id = conversation.assignee_id or 1
        else:
            sender_type, sender_id = None, None
        message: Record = {
            "id": self._message_ids, "content": content or self._text(kind),
            "account_id": self.account_id, "inbox_id": conversation.inbox_id,
            "conversation_id": conversation.display_id, "message_type": kind,
            "content_type": "text", "status": "sent", "private": private,
            "created_at": moment, "sender_type": sender_type, "sender_id": sender_id,
            "source_id": f"wamid.{self._message_ids}" if conversation.inbox_id == 3 else None,
            "content_attributes": {}, "external_source_ids": {}, "additional_attributes": {},
            "attachments": []}
        if attachment:
            self._attachment_ids += 1
            message["attachments"].append({
                "id": self._attachment_ids, "message_id": message["id"], "file_type": "image",
                "account_id": self.account_id, "extension": "png",
                "data_url": f"https://files.example.com/{self._attachment_ids}.png",
                "thumb_url": f"https://files.example.com/{self._attachment_ids}-thumb.png",
                "file_size": 1000 + self._attachment_ids})
        conversation.messages.append(message)
        conversation.updated_at = max(conversation.updated_at, moment)
        conversation.last_activity_at = max(conversation.last_activity_at, moment)
        if kind == INCOMING:
            if conversation.waiting_since is None:
                conversation.waiting_since = moment
            if conversation.status in ("resolved", "snoozed"):
                # an incoming message reopens the conversation, with an activity message
                conversation.status, conversation.snoozed_until = "open", None
                self._add_message(conversation, ACTIVITY, moment + 0.001,
                                  content="Conversation was reopened")
        elif kind == OUTGOING and not private:
            conversation.waiting_since = None
            if conversation.first_reply_created_at is None:
                conversation.first_reply_created_at = moment
        return message

    def _text(self, kind: int) -> str:
        if kind == ACTIVITY:
            return "Conversation was marked resolved by Ana"
        words = ("order", "refund", "login", "invoice", "shipping", "thanks", "please", "help")
        return " ".join(self.rng.choice(words) for _ in range(self.rng.randrange(3, 14)))

    def _set_status(self, conversation: Conversation, status: str, moment: float) -> None:
        conversation.status = status
        if status != "snoozed":
            conversation.snoozed_until = None
        self._add_message(conversation, ACTIVITY, moment,
                          content=f"Conversation was marked {status}")

    def _sla_event(self, conversation: Conversation, event_type: str, moment: float) -> None:
        self._sla_event_ids += 1
        conversation.sla_events.append({
            "id": self._sla_event_ids, "event_type": event_type,
            "meta": {"sla_policy_id": conversation.sla_policy_id},
            "created_at": int(moment), "updated_at": int(moment)})

    def _pick(self, unresolved: bool = False, with_sla: bool = False) -> Optional[Conversation]:
        candidates = [c for c in self.conversations.values()
                      if (not unresolved or c.status != "resolved")
                      and (not with_sla or c.sla_policy_id)]
        return self.rng.choice(candidates) if candidates else None

    def new_message(self, incoming: Optional[bool] = None) -> Optional[int]:
        """A customer writes or an agent replies: moves the conversation to the list's top."""
        with self.lock:
            conversation = self._pick()
            if conversation is None:
                return None
            kind = INCOMING if (incoming if incoming is not None else self.rng.random() < 0.5) else OUTGOING
            self._add_message(conversation, kind, self.now(), attachment=self.rng.random() < 0.1)
            return conversation.display_id

    def change_status(self, display_id: Optional[int] = None,
                      status: Optional[str] = None) -> Optional[int]:
        """A conversation's status changes: a random one to a random status unless named."""
        with self.lock:
            conversation = (self.conversations[display_id] if display_id is not None
                            else self._pick())
            if conversation is None:
                return None
            status = status or self.rng.choice([s for s in STATUSES if s != conversation.status])
            if status == "snoozed":
                conversation.snoozed_until = self.now() + 3600
            self._set_status(conversation, status, self.now())
            return conversation.display_id

    def assign(self, display_id: Optional[int] = None) -> Optional[int]:
        """An unresolved conversation (a random one unless named) is assigned, or handed to
        another agent: Chatwoot notes it as an activity message, as it does on creation."""
        with self.lock:
            conversation = (self.conversations[display_id] if display_id is not None
                            else self._pick(unresolved=True))
            if conversation is None:
                return None
            others = [n for n in range(1, len(self.agents) + 1) if n != conversation.assignee_id]
            conversation.assignee_id = self.rng.choice(others)
            self._add_message(conversation, ACTIVITY, self.now(),
                              content=f"Assigned to {self.agents[conversation.assignee_id - 1]['name']}")
            return conversation.display_id

    def change_labels(self) -> Optional[int]:
        with self.lock:
            conversation = self._pick()
            if conversation is None:
                return None
            label = self.rng.choice(LABELS)
            labels = set(conversation.labels) ^ {label}
            conversation.labels = sorted(labels)
            self._add_message(conversation, ACTIVITY, self.now(), content=f"Label {label} changed")
            return conversation.display_id

    def change_attributes(self) -> Optional[int]:
        """A custom attribute changes: `updated_at` moves, `last_activity_at` does not."""
        with self.lock:
            conversation = self._pick()
            if conversation is None:
                return None
            conversation.custom_attributes = {**conversation.custom_attributes,
                                              "order_id": self.rng.randrange(10_000, 99_999)}
            conversation.updated_at = self.now()
            return conversation.display_id

    def receipt(self) -> Optional[int]:
        """A sent message is delivered or read: only the conversation's `updated_at` moves."""
        with self.lock:
            for _ in range(20):
                conversation = self._pick()
                if conversation is None:
                    return None
                waiting = [m for m in conversation.messages if m["message_type"] == OUTGOING
                           and not m["private"] and m["status"] in ("sent", "delivered")]
                if waiting:
                    message = self.rng.choice(waiting)
                    message["status"] = "delivered" if message["status"] == "sent" else "read"
                    conversation.updated_at = self.now()
                    return conversation.display_id
            return None

    def delete_message(self) -> Optional[int]:
        """An agent deletes a message: it stays, emptied and flagged; `updated_at` moves."""
        with self.lock:
            for _ in range(20):
                conversation = self._pick()
                if conversation is None:
                    return None
                live = [m for m in conversation.messages if m["message_type"] in (INCOMING, OUTGOING)
                        and not m["content_attributes"].get("deleted")]
                if live:
                    message = self.rng.choice(live)
                    message["content"] = DELETED_CONTENT
                    message["content_attributes"] = {**message["content_attributes"], "deleted": True}
                    message["attachments"] = []
                    conversation.updated_at = self.now()
                    return conversation.display_id
            return None

    def sla_miss(self) -> Optional[int]:
        """An SLA is missed on an unresolved conversation: no timestamp moves."""
        with self.lock:
            conversation = self._pick(unresolved=True, with_sla=True)
            if conversation is None:
                return None
            self._sla_event(conversation, self.rng.choice(("frt", "nrt", "rt")), self.now())
            return conversation.display_id

    def seen(self) -> Optional[int]:
        """An agent opens the conversation: "last seen" moves, no other timestamp does."""
        with self.lock:
            conversation = self._pick()
            if conversation is None:
                return None
            conversation.agent_last_seen_at = self.now()
            return conversation.display_id

    def new_conversation(self) -> int:
        with self.lock:
            display_id = max(self.conversations, default=0) + 1
            moment = self.now()
            inbox_id = self.rng.choice(INBOXES)[0]
            conversation = Conversation(
                display_id=display_id, uuid=str(uuid.UUID(int=self.rng.getrandbits(128))),
                inbox_id=inbox_id, contact_id=self.rng.randrange(1, len(self.contacts) + 1),
                status="open", created_at=moment, updated_at=moment, last_activity_at=moment,
                sla_policy_id=self.rng.choice((None, 1)))
            self.conversations[display_id] = conversation
            self._add_message(conversation, INCOMING, moment)
            return display_id

    CHURN = ("new_message", "change_status", "assign", "change_labels", "change_attributes",
             "receipt", "delete_message", "sla_miss", "new_conversation")

    def churn(self, count: int = 1, kinds: tuple[str, ...] = CHURN) -> list[int]:
        """`count` changes of the kinds named, at random: what agents do while a client reads."""
        changed = []
        with self.lock:
            for _ in range(count):
                result = getattr(self, self.rng.choice(kinds))()
                if result is not None:
                    changed.append(result)
        return changed

    # -- what the API shows --------------------------------------------------------------------
    def snapshot(self) -> dict[int, Conversation]:
        """A deep copy of every conversation, for tests to compare a warehouse with."""
        with self.lock:
            return copy.deepcopy(self.conversations)
