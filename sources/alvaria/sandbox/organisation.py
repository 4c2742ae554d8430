"""A fake Alvaria Cloud organisation: work types, agents, and a live e-mail queue.

The queue is what the EmailQueue API shows: the e-mails active now, each in one of the
documented states, moving as agents work — arrivals, routing, drafts, reviews, transfers,
reassignments, wrap-up and completion — with `eventSequenceNumber` and `lastModifiedTime`
moving on every change. Unlike the API, the organisation remembers: every e-mail's versions
(`history`) and the event counter (`tick`) at which it arrived and left, so tests can say
what was active when, and what really changed.

E-mail ids come from sequence blocks cached per server node (two nodes), so a new e-mail's
id may be lower than ids already queued: the list, ordered by id, takes arrivals anywhere
in it, not only at its end. That order is the sandbox's reading of an undocumented one
(docs/alvaria-tables.md, "How a snapshot is read").
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Optional

Record = dict[str, Any]

SAMPLE: Record = {
    # the documents' sample item, word for word
    "id": "42235", "threadId": "247958000", "umId": "01-0010010000-190415-184140862-00034",
    "contactId": "5504", "interactionId": "5504", "workTypeId": "111",
    "workHandlerId": "208ddce3f41ec82", "sentTime": "2019-04-15T18:37:01.000Z",
    "receivedTime": "2019-04-15T18:41:40.000Z", "startTime": "2019-04-15T18:41:40.874Z",
    "queuedTime": "2019-04-15T18:41:40.874Z", "activeTime": "2019-04-15T20:02:20.213Z",
    "lastModifiedTime": "2019-04-15T20:02:49.446Z", "eventSequenceNumber": "77143977",
    "state": "Queued", "emailType": "InboundEmail",
    "emailObjectId": "email/1c8e-20190415-184140/111-0",
    "replyEmailObjectId": "email/fe1f-20190415-200249/111-1",
    "fromAddress": "customer@gmail.com", "toAddress": "service01@orgname.com",
    "subject": "Follow-up email to confirm my appointment",
    "workHandlerName": "doe, jane", "workTypeName": "Service01",
}
WORK_TYPE_NAMES = ("Service01", "Billing", "Claims", "Retention", "Escalations", "Sales",
                   "Returns", "Complaints")
FIRST = ("jane", "omar", "li", "ana", "kofi", "marta", "raj", "yuki", "sven", "amara", "diego",
         "ines")
LAST = ("doe", "haddad", "wei", "silva", "mensah", "novak", "patel", "sato", "berg", "okafor",
        "ruiz", "costa")
SUBJECTS = ("Where is my order?", "Refund for invoice {n}", "Change of address",
            "Claim {n}: photos attached", "Cancel my subscription", "Complaint about delivery",
            "Question about my bill", "Appointment {n} confirmation")
WORKING = ("Active", "DraftActive", "ReviewActive", "TransferredActive", "ReassignedActive")
WAITING = ("Queued", "Queued2", "Reassigned", "Transferred", "Review")


@dataclass(frozen=True)
class Version:
    tick: int
    sequence: int
    state: str
    handler: Optional[str]
    work_type: str


@dataclass
class Email:
    fields: Record
    arrived_tick: int
    left_tick: Optional[int] = None
    history: list[Version] = field(default_factory=list)

    @property
    def id(self) -> str:
        return str(self.fields["id"])

    @property
    def state(self) -> str:
        return str(self.fields["state"])


@dataclass(frozen=True)
class OrganisationSize:
    emails: int = 60
    """E-mails active when the organisation is made."""
    work_types: int = 5
    agents: int = 10


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")


class Organisation:
    """The organisation's work types, agents and live queue; thread-safe through `lock`."""

    CHURN = ("arrive", "route", "work", "resume", "reassign", "complete")

    def __init__(self, seed: int = 7, size: OrganisationSize = OrganisationSize(),
                 org_id: str = "acme") -> None:
        self.org_id = org_id
        self.rng = random.Random(seed)
        self.lock = threading.RLock()
        self.tick = 0
        self.sequence = 77_143_977
        self.work_types = {str(111 + i): WORK_TYPE_NAMES[i % len(WORK_TYPE_NAMES)]
                           for i in range(max(1, size.work_types))}
        self.agents = {"208ddce3f41ec82": "doe, jane"}
        while len(self.agents) < max(1, size.agents):
            name = f"{self.rng.choice(LAST)}, {self.rng.choice(FIRST)}"
            self.agents[f"{self.rng.getrandbits(56):014x}"] = name
        self._next_ids = [42_300, 43_000]       # the two nodes' sequence blocks
        self.active: dict[str, Email] = {}
        self.gone: dict[str, Email] = {}
        self._add(dict(SAMPLE), tick=0)
        self.sequence = 77_144_000
        for _ in range(max(0, size.emails - 1)):
            self._seed_email()

    # -- reading ---------------------------------------------------------------------------
    def listing(self) -> list[Email]:
        """The active e-mails in the list's order: by id."""
        return sorted(self.active.values(), key=lambda e: int(e.id))

    def everyone(self) -> dict[str, Email]:
        return {**self.gone, **self.active}

    # -- changes ---------------------------------------------------------------------------
    def churn(self, count: int, kinds: tuple[str, ...] = CHURN) -> list[str]:
        """`count` changes of the given kinds, each to a random e-mail that can take it."""
        changed: list[str] = []
        with self.lock:
            for _ in range(count):
                kind = self.rng.choice(kinds)
                email = self._apply(kind)
                if email is not None:
                    changed.append(email.id)
        return changed

    def churn_before(self, position: int, count: int, arrivals: bool = True) -> list[str]:
        """`count` completions (and `arrivals`: `count` arrivals) ahead of `position` in the
        list: what moves every later e-mail while a client pages from there."""
        changed: list[str] = []
        with self.lock:
            for _ in range(count):
                listing = self.listing()
                ahead = [e for e in listing[:position] if e.id != SAMPLE["id"]]
                if ahead:
                    email = self.rng.choice(ahead)
                    self._leave(email)
                    changed.append(email.id)
                listing = self.listing()
                if arrivals and 0 < position < len(listing):
                    changed.append(self.arrive(below=int(listing[position].id)).id)
        return changed

    def arrive(self, below: Optional[int] = None, email_type: str = "InboundEmail") -> Email:
        with self.lock:
            now = time.time()
            work_type = self.rng.choice(list(self.work_types))
            record = self._new_record(self._allocate_id(below), work_type, now, email_type)
            if email_type == "ManualOutboundEmail":
                handler = self.rng.choice(list(self.agents))
                record.update(state="DraftActive", workHandlerId=handler,
                              activeTime=iso(now), receivedTime=None, sentTime=None)
            self.tick += 1
            return self._add(record, self.tick)

    def _apply(self, kind: str) -> Optional[Email]:
        if kind == "arrive":
            return self.arrive(email_type=self.rng.choice(
                ("InboundEmail",) * 6 + ("ManualOutboundEmail", "CampaignOutboundEmail")))
        movable = [e for e in self.listing() if e.id != SAMPLE["id"]]
        if kind == "route":
            return self._pick(movable, ("Queued", "Queued2"), self._route)
        if kind == "work":
            return self._pick(movable, ("Active", "DraftActive", "TransferredActive",
                                        "ReassignedActive"), self._work)
        if kind == "resume":
            return self._pick(movable, ("Draft", "Review", "Transferred", "Reassigned",
                                        "ReassignedDraft"), self._resume)
        if kind == "reassign":
            return self._pick(movable, ("Queued", "Queued2", "Active", "Draft"), self._reassign)
        if kind == "complete":
            return self._pick(movable, ("Wrap", "ReviewActive", "DraftActive", "Active"),
                              self._leave)
        raise ValueError(f"unknown churn kind {kind!r}; known: {self.CHURN}")

    def _pick(self, emails: list[Email], states: tuple[str, ...], change: Any) -> Optional[Email]:
        candidates = [e for e in emails if e.state in states]
        if not candidates:
            return None
        email = self.rng.choice(candidates)
        change(email)
        return email

    def _route(self, email: Email) -> None:
        handler = self.rng.choice(list(self.agents))
        state = "ReassignedActive" if email.state == "Reassigned" else "Active"
        self._set(email, state=state, workHandlerId=handler, activeTime=iso(time.time()))

    def _work(self, email: Email) -> None:
        outcome = self.rng.choice(("Wrap", "Wrap", "Draft", "Review", "Transferred", "Queued2"))
        if outcome == "Transferred":
            others = [w for w in self.work_types if w != email.fields["workTypeId"]] or [
                email.fields["workTypeId"]]
            self._set(email, state="Transferred", workHandlerId=None,
                      workTypeId=self.rng.choice(others), queuedTime=iso(time.time()))
        elif outcome in ("Review", "Queued2"):
            self._set(email, state=outcome, workHandlerId=None, queuedTime=iso(time.time()))
        else:
            if outcome == "Draft":
                self.fields_reply(email)
            self._set(email, state=outcome)

    def _resume(self, email: Email) -> None:
        state = {"Draft": "DraftActive", "Review": "ReviewActive",
                 "Transferred": "TransferredActive", "Reassigned": "ReassignedActive",
                 "ReassignedDraft": "DraftActive"}[email.state]
        handler = email.fields.get("workHandlerId") or self.rng.choice(list(self.agents))
        self._set(email, state=state, workHandlerId=handler, activeTime=iso(time.time()))

    def _reassign(self, email: Email) -> None:
        if self.rng.random() < 0.5:
            others = [w for w in self.work_types if w != email.fields["workTypeId"]] or [
                email.fields["workTypeId"]]
            self._set(email, state="Reassigned", workHandlerId=None,
                      workTypeId=self.rng.choice(others), queuedTime=iso(time.time()))
        else:
            self._set(email, state="ReassignedDraft",
                      workHandlerId=self.rng.choice(list(self.agents)))

    def fields_reply(self, email: Email) -> None:
        email.fields["replyEmailObjectId"] = (
            f"email/{self.rng.getrandbits(16):04x}-{time.strftime('%Y%m%d-%H%M%S')}"
            f"/{email.fields['workTypeId']}-1")

    def _leave(self, email: Email) -> None:
        self.tick += 1
        email.left_tick = self.tick
        del self.active[email.id]
        self.gone[email.id] = email

    def _set(self, email: Email, **changes: Any) -> None:
        self.tick += 1
        self.sequence += self.rng.randint(1, 40)   # the sequence counts the org's other events
        for key, value in changes.items():
            if value is None:
                email.fields.pop(key, None)
            else:
                email.fields[key] = value
        email.fields["eventSequenceNumber"] = str(self.sequence)
        email.fields["lastModifiedTime"] = iso(time.time())
        self._remember(email)

    # -- making e-mails --------------------------------------------------------------------
    def _add(self, record: Record, tick: int) -> Email:
        if "eventSequenceNumber" not in record:
            self.sequence += self.rng.randint(1, 40)
            record["eventSequenceNumber"] = str(self.sequence)
        record = {k: v for k, v in record.items() if v is not None}
        email = Email(record, arrived_tick=tick)
        self.active[email.id] = email
        self._remember(email)
        return email

    def _remember(self, email: Email) -> None:
        f = email.fields
        email.history.append(Version(self.tick, int(f["eventSequenceNumber"]), f["state"],
                                     f.get("workHandlerId"), f["workTypeId"]))

    def _seed_email(self) -> None:
        """An e-mail that arrived in the last hours and got somewhere in its journey."""
        arrived = time.time() - self.rng.uniform(60, 8 * 3600)
        record = self._new_record(self._allocate_id(None), self.rng.choice(list(self.work_types)),
                                  arrived, self.rng.choice(("InboundEmail",) * 8 + (
                                      "CampaignOutboundEmail",)))
        email = self._add(record, tick=0)
        for _ in range(self.rng.choice((0, 0, 1, 1, 2, 3))):
            kinds = {"Queued": self._route, "Queued2": self._route, "Active": self._work,
                     "Draft": self._resume, "Review": self._resume, "Transferred": self._resume,
                     "Reassigned": self._route, "ReassignedDraft": self._resume}
            step = kinds.get(email.state)
            if step is None:
                break
            step(email)
        # what happened before the organisation was made is not history the tests can see
        self.tick = 0
        email.history = [Version(0, v.sequence, v.state, v.handler, v.work_type)
                         for v in email.history[-1:]]

    def _new_record(self, email_id: int, work_type: str, moment: float,
                    email_type: str) -> Record:
        thread = self.rng.randint(247_000_000, 249_999_999)
        stamp = time.strftime("%y%m%d-%H%M%S", time.gmtime(moment))
        customer = f"{self.rng.choice(FIRST)}.{self.rng.choice(LAST)}{self.rng.randint(1, 99)}"
        return {
            "id": str(email_id), "threadId": str(thread),
            "umId": f"01-0010010000-{stamp}{self.rng.randint(0, 999):03d}-{self.rng.randint(0, 99999):05d}",
            "contactId": str(self.rng.randint(5000, 99999)),
            "interactionId": str(self.rng.randint(5000, 99999)),
            "workTypeId": work_type,
            "sentTime": iso(moment - self.rng.uniform(5, 600)),
            "receivedTime": iso(moment), "startTime": iso(moment), "queuedTime": iso(moment),
            "lastModifiedTime": iso(moment), "state": "Queued", "emailType": email_type,
            "emailObjectId": f"email/{self.rng.getrandbits(16):04x}-{stamp}/{work_type}-0",
            "fromAddress": f"{customer}@example.com",
            "toAddress": f"{self.work_types[work_type].lower()}@{self.org_id}.example",
            "subject": self.rng.choice(SUBJECTS).format(n=self.rng.randint(1000, 9999)),
        }

    def _allocate_id(self, below: Optional[int]) -> int:
        taken = self.everyone()
        if below is not None:
            low = min([int(i) for i in self.active] + [below]) - 50
            for _ in range(200):
                candidate = self.rng.randint(max(1, low), below - 1)
                if str(candidate) not in taken:
                    return candidate
        node = self.rng.randrange(len(self._next_ids))
        while str(self._next_ids[node]) in taken:
            self._next_ids[node] += 1
        email_id = self._next_ids[node]
        self._next_ids[node] += 1
        return email_id

    def render(self, email: Email, extended: bool) -> Record:
        """The e-mail as the list shows it; names only with `getExtendedInfo=true`."""
        item = dict(email.fields)
        if extended:
            handler = item.get("workHandlerId")
            if handler and handler in self.agents:
                item["workHandlerName"] = self.agents[handler]
            item["workTypeName"] = self.work_types.get(item["workTypeId"], "")
            if email.id == SAMPLE["id"]:
                item["workHandlerName"] = SAMPLE["workHandlerName"]
        else:
            item.pop("workHandlerName", None)
            item.pop("workTypeName", None)
        return item
