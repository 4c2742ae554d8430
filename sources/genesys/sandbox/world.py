"""A scripted e-mail world of one Genesys Workspace user, and the notifications it emits.

E-mails arrive as invitations, are accepted, replied to (a reply is a new interaction of
subtype `OutboundReply`), sent, transferred, placed in a queue, revoked after inactivity
and completed; `userData` changes re-notify the same state. Each change is one notification
in the flat `InteractionStateMessage` shape of ../shared/api-docs/genesys-workspace-email-
interactions.txt, or (`emails_share`) in the 8.5.2 `EmailStateChangeMessage` shape on
`/v2/me/emails`. The world keeps what the user's list holds now (`listed()`), which is what
`GET /me/interactions?fields=*` returns, and every notification it ever emitted.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any, Optional

import pendulum

INTERACTIONS_CHANNEL = "/v2/me/interactions"
EMAILS_CHANNEL = "/v2/me/emails"

LEAVING_STATES = ("Completed", "Revoked", "Transferred", "PlacedInQueue", "Rejected", "Sent",
                  "Cancelled")
"""States after which an interaction is no longer in the user's list."""
CAPABILITIES = {
    "Invited": ["Accept", "Reject"],
    "Processing": ["Reply", "ReplyAll", "Transfer", "PlaceInQueue", "Complete",
                   "UpdateProperties"],
    "ReplyCreated": ["Cancel", "Send", "PlaceInWorkbin", "UpdateProperties", "LinkAttachment"],
    "OnHold": ["Complete", "UpdateProperties"],
}
QUEUES = ("Inbound", "Billing", "Support-Tier2", "Escalations")


@dataclass
class Interaction:
    id: str
    subtype: str
    state: str
    received_at: str
    email: dict[str, Any]
    user_data: dict[str, Any]
    queue: Optional[str]
    parent_id: Optional[str] = None

    def payload(self) -> dict[str, Any]:
        """The interaction in the flat notification shape (what `fields=*` lists too)."""
        body: dict[str, Any] = {
            "messageTypeName": "InteractionStateMessage", "id": self.id, "channel": "email",
            "email_object": dict(self.email), "interactionType": "Email",
            "interactionSubType": self.subtype, "receivedAt": self.received_at,
            "state": self.state, "capabilities": list(CAPABILITIES.get(self.state, [])),
            "userData": dict(self.user_data),
        }
        if self.queue:
            body["currentQueue"] = self.queue
        if self.parent_id:
            body["parentInteractionId"] = self.parent_id
        return body


@dataclass
class Notification:
    """One message as the server puts it on the wire (`message`), and what the world meant."""

    message: dict[str, Any]
    interaction_id: str
    state: str


@dataclass
class WorldOptions:
    emails_share: float = 0.0
    """Share of notifications sent in the 8.5.2 shape on `/v2/me/emails`."""
    dirty_share: float = 0.0
    """Share of notifications with odd key case, unknown fields and unknown states."""
    missing_id_share: float = 0.0
    """Share of notifications without a Bayeux message `id`."""


@dataclass
class World:
    seed: int = 11
    options: WorldOptions = field(default_factory=WorldOptions)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self.lock = threading.RLock()
        self._interactions: dict[str, Interaction] = {}
        self._next = 0
        self._message_seq = 0
        self.emitted: list[Notification] = []
        self._clock = pendulum.datetime(2026, 11, 30, 9, 0, tz="UTC")

    # ----- what the API shows

    def listed(self) -> list[Interaction]:
        """The interactions in the user's list now."""
        with self.lock:
            return [i for i in self._interactions.values() if i.state not in LEAVING_STATES]

    def interaction(self, interaction_id: str) -> Optional[Interaction]:
        with self.lock:
            return self._interactions.get(interaction_id)

    # ----- changes

    def step(self) -> list[Notification]:
        """One change somewhere in the world, and the notifications it causes."""
        with self.lock:
            self._clock = self._clock.add(seconds=self._rng.randint(1, 40))
            active = self.listed()
            by_state: dict[str, list[Interaction]] = {}
            for interaction in active:
                by_state.setdefault(interaction.state, []).append(interaction)
            choices: list[str] = ["arrive"] * 3
            if by_state.get("Invited"):
                choices += ["accept"] * 4 + ["revoke", "reject"]
            if by_state.get("Processing"):
                choices += ["reply"] * 3 + ["complete"] * 3 + ["transfer", "queue", "user_data",
                                                               "hold"]
            if by_state.get("ReplyCreated"):
                choices += ["send"] * 3 + ["cancel"]
            if by_state.get("OnHold"):
                choices += ["complete"]
            action = self._rng.choice(choices)
            return getattr(self, f"_{action}")(by_state)

    def arrive(self, count: int) -> list[Notification]:
        """`count` new e-mails offered to the user: a longer list (tests, the demo)."""
        with self.lock:
            return [n for _ in range(count) for n in self._arrive({})]

    def steps(self, count: int) -> list[Notification]:
        out: list[Notification] = []
        for _ in range(count):
            out += self.step()
        return out

    def _pick(self, by_state: dict[str, list[Interaction]], *states: str) -> Interaction:
        pool = [i for s in states for i in by_state.get(s, [])]
        return self._rng.choice(pool)

    def _arrive(self, _: dict[str, list[Interaction]]) -> list[Notification]:
        self._next += 1
        interaction_id = f"{self._next:06d}{self._rng.getrandbits(40):010X}"
        customer = f"customer{self._rng.randint(1, 400)}@example.org"
        interaction = Interaction(
            id=interaction_id, subtype="InboundNew", state="Invited",
            received_at=self._clock.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            email={"ToAddress": "support@example.com", "FromAddress": customer,
                   "CCAddresses": "", "Subject": f"Order {self._rng.randint(1000, 9999)}",
                   "Text": f"Hello, this is {customer}. Where is my parcel?",
                   "StructuredText": f"<p>Hello, this is {customer}.</p>",
                   "MimeType": "text/plain", "StructuredTextMimeType": "text/html"},
            user_data={"Priority": self._rng.randint(1, 5), "Segment": self._rng.choice(
                ["gold", "silver", "bronze"])},
            queue=self._rng.choice(QUEUES))
        self._interactions[interaction_id] = interaction
        return [self._notify(interaction)]

    def _set(self, interaction: Interaction, state: str) -> list[Notification]:
        interaction.state = state
        return [self._notify(interaction)]

    def _accept(self, by_state: dict[str, list[Interaction]]) -> list[Notification]:
        return self._set(self._pick(by_state, "Invited"), "Processing")

    def _revoke(self, by_state: dict[str, list[Interaction]]) -> list[Notification]:
        return self._set(self._pick(by_state, "Invited"), "Revoked")

    def _reject(self, by_state: dict[str, list[Interaction]]) -> list[Notification]:
        return self._set(self._pick(by_state, "Invited"), "Rejected")

    def _complete(self, by_state: dict[str, list[Interaction]]) -> list[Notification]:
        return self._set(self._pick(by_state, "Processing", "OnHold"), "Completed")

    def _transfer(self, by_state: dict[str, list[Interaction]]) -> list[Notification]:
        return self._set(self._pick(by_state, "Processing"), "Transferred")

    def _queue(self, by_state: dict[str, list[Interaction]]) -> list[Notification]:
        interaction = self._pick(by_state, "Processing")
        interaction.queue = self._rng.choice(QUEUES)
        return self._set(interaction, "PlacedInQueue")

    def _hold(self, by_state: dict[str, list[Interaction]]) -> list[Notification]:
        # a state the documents never show: clients must load it as data
        return self._set(self._pick(by_state, "Processing"), "OnHold")

    def _user_data(self, by_state: dict[str, list[Interaction]]) -> list[Notification]:
        interaction = self._pick(by_state, "Processing")
        interaction.user_data["Disposition"] = self._rng.choice(["billing", "delivery", "other"])
        interaction.user_data["Touched"] = interaction.user_data.get("Touched", 0) + 1
        return [self._notify(interaction)]   # the same state, notified again

    def _reply(self, by_state: dict[str, list[Interaction]]) -> list[Notification]:
        original = self._pick(by_state, "Processing")
        self._next += 1
        reply = Interaction(
            id=f"{self._next:06d}{self._rng.getrandbits(40):010X}", subtype="OutboundReply",
            state="ReplyCreated", received_at=self._clock.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            email={"ToAddress": original.email["FromAddress"],
                   "FromAddress": original.email["ToAddress"], "CCAddresses": "",
                   "Subject": "Re: " + original.email["Subject"], "Text": "",
                   "StructuredText": "", "MimeType": "text/plain",
                   "StructuredTextMimeType": "text/html"},
            user_data={}, queue=original.queue, parent_id=original.id)
        self._interactions[reply.id] = reply
        return [self._notify(reply)]

    def _send(self, by_state: dict[str, list[Interaction]]) -> list[Notification]:
        return self._set(self._pick(by_state, "ReplyCreated"), "Sent")

    def _cancel(self, by_state: dict[str, list[Interaction]]) -> list[Notification]:
        return self._set(self._pick(by_state, "ReplyCreated"), "Cancelled")

    # ----- the wire

    def _notify(self, interaction: Interaction) -> Notification:
        self._message_seq += 1
        payload = interaction.payload()
        rng, options = self._rng, self.options
        if rng.random() < options.emails_share:
            channel = EMAILS_CHANNEL
            data: dict[str, Any] = {
                "messageType": "EmailStateChangeMessage", "notificationType": "StatusChange",
                "email": {"id": interaction.id, "state": interaction.state,
                          "interactionType": "Email", "interactionSubType": interaction.subtype,
                          "receivedAt": interaction.received_at,
                          "capabilities": payload["capabilities"],
                          "userData": payload["userData"], **_lower_first(interaction.email)}}
            if interaction.queue:
                data["email"]["currentQueue"] = interaction.queue
        else:
            channel = INTERACTIONS_CHANNEL
            data = payload
            if rng.random() < options.dirty_share:
                data = _dirty(payload, rng)
        message: dict[str, Any] = {"channel": channel, "data": data}
        if rng.random() >= options.missing_id_share:
            message["id"] = str(10_000 + self._message_seq)
        notification = Notification(message, interaction.id, interaction.state)
        self.emitted.append(notification)
        return notification


def _lower_first(email: dict[str, Any]) -> dict[str, Any]:
    """8.5.2 writes e-mail fields in camel case (`toAddress`, `subject`)."""
    return {key[:1].lower() + key[1:]: value for key, value in email.items()}


def _dirty(payload: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """What real servers send beside the documented shape: other key case, new fields."""
    out = dict(payload)
    if rng.random() < 0.5:
        out["InteractionSubType"] = out.pop("interactionSubType")
        out["EmailObject"] = out.pop("email_object")
    else:
        out["STATE"] = out.pop("state")
        out["userdata"] = out.pop("userData")
    out["mediaServerTimestamp"] = rng.randint(1_700_000_000, 1_800_000_000)
    out["routingHints"] = {"strategy": "Email_Default", "tries": rng.randint(1, 3)}
    return out
