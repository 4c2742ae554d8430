"""Realistic, seeded records for the sandbox tenant, shaped like the vendor's documents.

Reference data (statuses, teams, menus, agents, queue groups) is built once; contacts
(calls, chats, emails) and agent activity logs are generated over a time window and stay
consistent with it: every handle segment names an agent who exists and is assigned to the
queue, every queue segment a menu path that exists, every `call_picked_up` log a call that
agent handled. The functions that build a contact are reused by the tenant to create and
change contacts while a pipeline reads them.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from importlib import resources
from typing import Any, Optional

Record = dict[str, Any]

FIRST_NAMES = ["Ava", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jon",
               "Kira", "Liam", "Maya", "Nils", "Olga", "Pedro", "Quinn", "Rosa", "Sami", "Tara",
               "Umar", "Vera", "Wen", "Yusuf", "Zoe"]
LAST_NAMES = ["Alvarez", "Brook", "Chen", "Dubois", "Evans", "Fischer", "Garcia", "Haddad",
              "Ito", "Jensen", "Kowalski", "Lopez", "Mensah", "Novak", "Okafor", "Patel"]
LOCATIONS = ["Austin", "Dublin", "Manila", None]
CALL_TYPES = ["Voice Inbound (IVR)", "Voice Inbound (App)", "Voice Callback (Web)", "Voice Outbound"]
CHAT_TYPES = ["Messaging Inbound (App Chat)", "Messaging Inbound (Web Chat)", "Messaging (SMS)"]
CHANNEL_TYPES = {"call": "voice_call", "chat": "chat", "email": "email"}
"""A queue's channel as agents' `channels[].channel_type` and assignments name it."""
SLA_TARGET_SECONDS = 60
SLA_ABANDON_THRESHOLD = 10


def ts(value: datetime) -> str:
    """Renders a timestamp the way UJET does: UTC, milliseconds, `Z`."""
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def load_samples(name: str) -> list[Record]:
    """The vendor's own example records for one collection (see samples/README.md)."""
    text = resources.files(__package__).joinpath("samples").joinpath(f"{name}.json").read_text("utf-8")
    records: list[Record] = json.loads(text)
    return records


@dataclass
class Menu:
    id: int
    name: str
    parent_id: Optional[int]
    position: int
    menu_type: str
    channel: Optional[str]
    """`call`, `chat` or `email` for queues that receive contacts; None for inner nodes."""
    deleted: bool = False
    hidden: Any = False
    path: str = ""

    def as_record(self) -> Record:
        return {
            "id": self.id,
            "name": self.name,
            "parent_id": self.parent_id,
            "position": self.position,
            "deleted": self.deleted,
            "menu_type": self.menu_type,
            "output_msg": f"You selected {self.name}" if self.menu_type == "ivr_menu" else None,
            "hidden": self.hidden,
        }

    def path_id(self, lang: str) -> int:
        """UJET's menu path id: one per menu and language."""
        return self.id * 10 + (0 if lang == "en" else 1)


@dataclass
class Reference:
    """The tenant's configuration: who works where, and which queues exist."""

    statuses: list[Record]
    teams: list[Record]
    menus: list[Menu]
    agents: list[Record]
    queue_groups: list[Record]
    skills: dict[int, list[int]] = field(default_factory=dict)
    """Queue (menu id) -> ids of the agents assigned to it."""

    def queues(self, channel: str) -> list[Menu]:
        return [m for m in self.menus if m.channel == channel and not m.deleted]

    def menu(self, menu_id: int) -> Menu:
        return next(m for m in self.menus if m.id == menu_id)

    def agent(self, agent_id: int) -> Record:
        return next(a for a in self.agents if a["id"] == agent_id)

    def status(self, name: str) -> Record:
        return next(s for s in self.statuses if s["name"] == name)


class Ids:
    """Per-collection id sequences, so new records never collide with old ones."""

    def __init__(self, start: int = 1000) -> None:
        self._counters: dict[str, Iterator[int]] = {}
        self._start = start

    def next(self, kind: str) -> int:
        counter = self._counters.setdefault(kind, itertools.count(self._start))
        return next(counter)


def build_reference(rng: random.Random, agent_count: int, now: datetime) -> Reference:
    statuses = load_samples("user_statuses")
    menus = _menus()
    teams = _teams()
    agents = [_agent(rng, 100 + n, now) for n in range(agent_count)]
    reference = Reference(statuses=statuses, teams=teams, menus=menus, agents=agents,
                          queue_groups=[])
    for agent in agents:
        agent["teams"] = [_team_summary(t) for t in rng.sample(teams, k=rng.randint(1, 2))]
    for queue in menus:
        if queue.channel is None:
            continue
        assigned = rng.sample(agents, k=max(3, len(agents) // 3))
        reference.skills[queue.id] = [a["id"] for a in assigned]
        for agent in assigned:
            agent["channels"].append({"channel_type": CHANNEL_TYPES[queue.channel],
                                      "menu": queue.as_record()})
    for team in teams:
        members = [a for a in agents if any(t["id"] == team["id"] for t in a["teams"])]
        team["assignees"] = [_assignee(a) for a in members]
        team["agents_count"] = len(members)
    reference.queue_groups = [
        {"id": 20, "name": "Billing", "menu_ids": [3002, 3003, 3302]},
        {"id": 24, "name": "Customer Support", "menu_ids": [3005, 3006, 3102, 3201, 3301]},
        {"id": 29, "name": "Sales", "menu_ids": [3007, 3101]},
    ]
    return reference


def _menus() -> list[Menu]:
    rows = [
        # id, name, parent, position, type, channel
        (3000, "Acme Support", None, 0, "ivr_menu", None),
        (3001, "Billing", 3000, 0, "ivr_menu", None),
        (3002, "Refunds", 3001, 0, "ivr_menu", "call"),
        (3003, "Invoices", 3001, 1, "ivr_menu", "call"),
        (3004, "Technical", 3000, 1, "ivr_menu", None),
        (3005, "Internet", 3004, 0, "ivr_menu", "call"),
        (3006, "Mobile", 3004, 1, "ivr_menu", "call"),
        (3007, "Sales", 3000, 2, "ivr_menu", "call"),
        (3100, "Acme App", None, 1, "mobile_menu", None),
        (3101, "Orders", 3100, 0, "mobile_menu", "chat"),
        (3102, "Account", 3100, 1, "mobile_menu", "chat"),
        (3200, "Acme Web", None, 2, "web_menu", None),
        (3201, "Chat with us", 3200, 0, "web_menu", "chat"),
        (3300, "Acme Email", None, 3, "email_menu", None),
        (3301, "Support Inbox", 3300, 0, "email_menu", "email"),
        (3302, "Billing Inbox", 3300, 1, "email_menu", "email"),
    ]
    menus = [Menu(*row) for row in rows]
    # a queue retired last quarter and an internal one: only `with_deleted` / `hidden[]` show them
    menus.append(Menu(3008, "Old Promotions", 3000, 3, "ivr_menu", None, deleted=True))
    menus.append(Menu(3009, "Internal Test", 3000, 4, "ivr_menu", None, hidden="true"))
    by_id = {m.id: m for m in menus}
    for menu in menus:
        names: list[str] = []
        node: Optional[Menu] = menu
        while node is not None:
            names.append(node.name)
            node = by_id.get(node.parent_id) if node.parent_id else None
        menu.path = "/".join(reversed(names))
    return menus


def _teams() -> list[Record]:
    def team(team_id: int, name: str, parent_id: Optional[int], position: int) -> Record:
        return {"id": team_id, "name": name, "parent_id": parent_id, "position": position,
                "agents_count": 0, "deleted": False, "assignees": []}

    teams = [team(400, "Frontline", None, 0), team(401, "Frontline Nights", 400, 0),
             team(402, "Billing Specialists", None, 1), team(403, "Escalations", 402, 0)]
    retired = team(404, "Pilot Team 2023", None, 2)
    retired["deleted"] = True
    return teams + [retired]


def _agent(rng: random.Random, agent_id: int, now: datetime) -> Record:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    created = now - timedelta(days=rng.randint(60, 900))
    number: Any = rng.choice([str(rng.randint(100, 999)), None, rng.randint(100, 999)])
    return {
        "id": agent_id,
        "email": f"{first}.{last}{agent_id}@acme.example".lower(),
        "roles": ["agent"] if rng.random() < 0.8 else ["agent", "manager"],
        "first_name": first,
        "middle_name": None,
        "last_name": last,
        "avatar_url": f"https://acme.example/avatars/{agent_id}.png",
        "agent_number": number,
        "crm_authenticated": rng.random() < 0.5,
        "status": None,
        "online": False,
        "wrap_up": False,
        "call_count": 0,
        "chat_count": 0,
        "location": rng.choice(LOCATIONS),
        "created_at": ts(created),
        "last_login_time": None,
        "status_updated_at": None,
        "teams": [],
        "channels": [],
    }


def _team_summary(team: Record) -> Record:
    return {k: team[k] for k in ("id", "name", "parent_id", "position", "agents_count", "deleted")}


def _assignee(agent: Record) -> Record:
    return {
        "id": agent["id"],
        "agent_number": agent["agent_number"],
        "name": f"{agent['first_name']} {agent['last_name']}",
        "last_name": agent["last_name"],
        "first_name": agent["first_name"],
        "avatar_url": agent["avatar_url"],
    }


def agent_info(agent: Record) -> Record:
    """The `agent_info` / `from_agent` / `to_agent` shape of an agent."""
    return _assignee(agent)


def menu_path(menu: Menu) -> Record:
    return {"items_count": menu.path.count("/") + 1, "name": menu.name,
            "materialized_path": menu.path}


OPEN_WINDOW = timedelta(minutes=20)
"""Calls and chats that arrived this recently still wait in queue when the tenant is made:
every other outcome (a chat nobody answers times out after 15 minutes) has ended by then."""


class ContactFactory:
    """Builds calls, chats and emails and the changes that happen to them after they end."""

    def __init__(self, reference: Reference, ids: Ids, rng: random.Random) -> None:
        self.reference = reference
        self.ids = ids
        self.rng = rng
        self.horizon: Optional[datetime] = None
        """When set, conversations are cut short so that nothing happens after it."""

    def _seconds_until_horizon(self, start: datetime, wanted: int) -> int:
        if self.horizon is None:
            return wanted
        return max(5, min(wanted, int((self.horizon - start).total_seconds())))

    def _fits(self, moment: datetime) -> bool:
        return self.horizon is None or moment <= self.horizon

    # -- calls ---------------------------------------------------------------------------
    def call(self, created_at: datetime, now: datetime) -> Record:
        rng = self.rng
        queue = rng.choice(self.reference.queues("call"))
        lang = "es" if rng.random() < 0.1 else "en"
        call_id = self.ids.next("calls")
        record = self._contact_base(call_id, queue, lang, created_at)
        menu_seconds = rng.randint(5, 40)
        queued_at = created_at + timedelta(seconds=menu_seconds)
        record.update({
            "parent_id": None,
            "call_type": rng.choice(CALL_TYPES),
            "scheduled_at": None,
            "hold_duration": 0,
            "voip_provider": "voip_provider_twilio",
            "recording_url": None,
            "recording_permission": rng.choice(["not_asked", "recording_permission_granted"]),
            "voicemail_reason": "not_voicemail",
            "deflection": "no_deflection",
            "disconnected_by": "disconnected_by_unknown",
            "fail_details": None,
            "adapter_fail_code": None,
            "adapter_fail_message": None,
            "support_number": "+1512555" + f"{rng.randint(0, 9999):04d}",
            "queue_priority_level": 0,
            "offer_type": rng.choice(["cascade", None]),
            "offer_events": [],
            "answer_type": "manual",
            "outbound_number": None,
            "dispositions": [],
            "recordings": [],
            "consumer_handle_durations": [],
            "consumer_in_menu_durations": [{
                "id": self.ids.next("consumer_durations"), "event": "finished",
                "duration": menu_seconds, "menu_path_id": queue.path_id(lang),
                "menu_path": queue.path, "lang": lang, "started_at": ts(created_at),
                "ended_at": ts(queued_at)}],
            "consumer_event_durations": [],
            "wait_time_sms": [],
            "in_call_sms": [],
        })
        outcome = rng.random()
        if created_at > now - OPEN_WINDOW:
            self._call_in_progress(record, queue, lang, queued_at, now)
        elif outcome < 0.70:
            self._call_handled(record, queue, lang, queued_at)
        elif outcome < 0.82:
            self._call_abandoned(record, queue, lang, queued_at)
        elif outcome < 0.87:
            record.update(status="failed", fail_reason="eu_in_menu_abandoned",
                          adapter_fail_code=20004,
                          adapter_fail_message="This call was abandoned by the customer during menu selection.",
                          ends_at=ts(queued_at), updated_at=ts(queued_at), queued_at=None)
            record["consumer_in_menu_durations"][0]["event"] = "abandoned"
        elif outcome < 0.93:
            ends = queued_at + timedelta(seconds=rng.randint(20, 90))
            record.update(status="voicemail_received", deflection="voicemail",
                          voicemail_reason="deflection", queued_at=ts(queued_at),
                          ends_at=ts(ends), updated_at=ts(ends))
        else:
            ends = queued_at + timedelta(seconds=rng.randint(1, 5))
            record.update(status="failed", fail_reason="voip_conn_timeout",
                          adapter_fail_code=44002,
                          adapter_fail_message="This call is terminated because the connection timed out.",
                          queued_at=ts(queued_at), ends_at=ts(ends), updated_at=ts(ends))
        return record

    def _call_handled(self, record: Record, queue: Menu, lang: str, queued_at: datetime) -> None:
        rng = self.rng
        agent = self.reference.agent(rng.choice(self.reference.skills[queue.id]))
        wait = int(rng.expovariate(1 / 45)) + 1
        assigned = queued_at + timedelta(seconds=wait)
        connected = assigned + timedelta(seconds=rng.randint(2, 6))
        talk = self._seconds_until_horizon(connected, rng.randint(45, 900))
        ends = connected + timedelta(seconds=talk)
        record.update(status="finished", queued_at=ts(queued_at), assigned_at=ts(assigned),
                      connected_at=ts(connected), ends_at=ts(ends), queue_duration=wait,
                      wait_duration=wait, call_duration=talk, agent_info=agent_info(agent),
                      updated_at=ts(ends))
        record["queue_durations"].append(self._queue_segment(agent["id"], queue, lang, queued_at, assigned))
        record["handle_durations"].append(self._handle_segment(
            "call", agent["id"], queue, lang, connected, ends, talk=talk, acw=0))
        record["participants"] += [
            self._participant(record["id"], "end_user", None, record["end_user"]["id"], connected, ends),
            self._participant(record["id"], "agent", agent["id"], None, connected, ends),
        ]
        if rng.random() < 0.6:
            record["recordings"].append(self._recording(record["id"], agent["id"], connected, talk))
        record["consumer_handle_durations"].append({
            "id": self.ids.next("consumer_durations"), "call_duration": talk,
            "hold_duration": 0, "started_at": ts(connected), "ended_at": ts(ends)})
        if record["offer_type"]:
            record["offer_events"].append({"casting_time": ts(queued_at), "group": "Group 1"})
        if rng.random() < 0.35:
            record.update(rating=rng.randint(1, 5), has_feedback=rng.random() < 0.3)
        if rng.random() < 0.15 and self._fits(ends + timedelta(minutes=15)):
            self._transfer(record, "call", agent, ends)
        if rng.random() < 0.1:
            self._virtual_agent(record, "call", queue, lang, record_created(record), queued_at)
        # most wrap-ups are done by the time the tenant is generated; the rest finish later
        wrapped_at = parse_ts(record["updated_at"]) + timedelta(seconds=rng.randint(5, 60))
        if rng.random() < 0.85 and self._fits(wrapped_at):
            self.wrap_up(record, "call", at=wrapped_at)

    def _call_abandoned(self, record: Record, queue: Menu, lang: str, queued_at: datetime) -> None:
        wait = self.rng.randint(2, 240)
        ends = queued_at + timedelta(seconds=wait)
        segment = self._queue_segment(None, queue, lang, queued_at, ends)
        segment["service_level_event"] = "excluded" if wait < SLA_ABANDON_THRESHOLD else "not_in_sla"
        record.update(status="failed", fail_reason="eu_abandoned", adapter_fail_code=20003,
                      adapter_fail_message="This call was abandoned by the customer.",
                      queued_at=ts(queued_at), ends_at=ts(ends), queue_duration=wait,
                      wait_duration=wait, updated_at=ts(ends))
        record["queue_durations"].append(segment)

    def _call_in_progress(self, record: Record, queue: Menu, lang: str,
                          queued_at: datetime, now: datetime) -> None:
        queued_at = min(queued_at, now)
        record.update(status="queued", queued_at=ts(queued_at), updated_at=ts(queued_at))
        # a caller who is still choosing in the menu at `now` has spent until now there
        in_menu = record["consumer_in_menu_durations"][0]
        in_menu.update(ended_at=ts(queued_at), duration=int(
            (queued_at - parse_ts(in_menu["started_at"])).total_seconds()))

    # -- chats ---------------------------------------------------------------------------
    def chat(self, created_at: datetime, now: datetime) -> Record:
        rng = self.rng
        queue = rng.choice(self.reference.queues("chat"))
        lang = "es" if rng.random() < 0.1 else "en"
        record = self._contact_base(self.ids.next("chats"), queue, lang, created_at)
        # the vendor's own example shows a chat_type outside its documented enumeration
        chat_type = "in-app" if rng.random() < 0.03 else rng.choice(CHAT_TYPES)
        record.update({
            "chat_type": chat_type, "first_msg_sent_at": None, "last_msg_sent_at": None,
            "chat_duration": 0, "message_count": 0, "average_response_time": 0,
            "longest_response_time": 0, "consumer_handle_durations": [],
            "consumer_event_durations": [],
        })
        queued_at = created_at + timedelta(seconds=rng.randint(1, 10))
        outcome = rng.random()
        if created_at > now - OPEN_WINDOW:
            record.update(status="queued", queued_at=ts(min(queued_at, now)),
                          updated_at=ts(min(queued_at, now)))
        elif outcome < 0.72:
            agent = self.reference.agent(rng.choice(self.reference.skills[queue.id]))
            wait = int(rng.expovariate(1 / 30)) + 1
            assigned = queued_at + timedelta(seconds=wait)
            length = self._seconds_until_horizon(assigned, rng.randint(120, 1500))
            ends = assigned + timedelta(seconds=length)
            messages = rng.randint(4, 40)
            record.update(status="finished", assigned_at=ts(assigned), ends_at=ts(ends),
                          queue_duration=wait, wait_duration=wait, chat_duration=length,
                          message_count=messages, average_response_time=rng.randint(5, 60),
                          longest_response_time=rng.randint(60, 240),
                          first_msg_sent_at=ts(assigned + timedelta(seconds=3)),
                          last_msg_sent_at=ts(ends), agent_info=agent_info(agent),
                          updated_at=ts(ends))
            record["queue_durations"].append(self._queue_segment(agent["id"], queue, lang, queued_at, assigned))
            record["handle_durations"].append(self._handle_segment(
                "chat", agent["id"], queue, lang, assigned, ends, talk=length, acw=0))
            record["consumer_handle_durations"].append({
                "id": self.ids.next("consumer_durations"), "chat_duration": length,
                "message_count": messages, "response_count": messages // 2,
                "response_time_total": messages * 10, "response_time_max": 60,
                "response_time_avg": 20, "started_at": ts(assigned), "ended_at": ts(ends)})
            if rng.random() < 0.35:
                record.update(rating=rng.randint(1, 5), has_feedback=rng.random() < 0.3)
            if rng.random() < 0.12 and self._fits(ends + timedelta(minutes=15)):
                self._transfer(record, "chat", agent, ends)
            if rng.random() < 0.15:
                self._virtual_agent(record, "chat", queue, lang, created_at, queued_at)
            wrapped_at = parse_ts(record["updated_at"]) + timedelta(seconds=rng.randint(5, 60))
            if rng.random() < 0.85 and self._fits(wrapped_at):
                self.wrap_up(record, "chat", at=wrapped_at)
        elif outcome < 0.86:
            wait = rng.randint(5, 300)
            ends = queued_at + timedelta(seconds=wait)
            segment = self._queue_segment(None, queue, lang, queued_at, ends)
            segment["service_level_event"] = "excluded" if wait < SLA_ABANDON_THRESHOLD else "not_in_sla"
            record["queue_durations"].append(segment)
            record.update(status="canceled", ends_at=ts(ends), queue_duration=wait,
                          wait_duration=wait, updated_at=ts(ends))
        else:
            ends = queued_at + timedelta(seconds=rng.randint(300, 900))
            record.update(status=rng.choice(["no_response", "failed"]),
                          fail_reason=rng.choice(["no_response", "expired"]),
                          ends_at=ts(ends), updated_at=ts(ends))
        return record

    # -- emails --------------------------------------------------------------------------
    def email(self, created_at: datetime, now: datetime) -> Record:
        rng = self.rng
        queue = rng.choice(self.reference.queues("email"))
        lang = "en"
        record = self._contact_base(self.ids.next("emails"), queue, lang, created_at)
        for key in ("photos", "videos", "participants", "virtual_agent",
                    "virtual_agent_deflected_escalations", "virtual_agent_handle_durations",
                    "rating", "has_feedback", "verified", "wait_duration", "fail_reason"):
            record.pop(key, None)
        record.update({
            "email_status": "unopened", "finished_at": None, "email_duration": 0,
            "total_thread_numbers": 1, "email_attachments": [], "email_threads": [],
            "consumer_handle_durations": [],
        })
        record["selected_menu"]["menu_type"] = "email_menu"
        thread_at = created_at
        record["email_threads"].append(self._thread("Inbound", thread_at, subject=f"Case {record['id']}"))
        if created_at > now - timedelta(minutes=10):
            return record
        agent = self.reference.agent(rng.choice(self.reference.skills[queue.id]))
        assigned = created_at + timedelta(seconds=rng.randint(1, 600))
        record["queue_durations"].append({
            "id": self.ids.next("queue_segments"), "agent_id": agent["id"],
            "ended_at": ts(assigned), "lang": lang, "menu_path_id": queue.path_id(lang),
            "menu_path": queue.path, "queue_duration": int((assigned - created_at).total_seconds()),
            "started_at": ts(created_at), "assignment_type": "auto", "status": 1})
        cursor = assigned
        total = 0
        for _ in range(rng.randint(1, 4)):
            work = rng.randint(60, 3600)
            end = cursor + timedelta(seconds=work)
            if end > now:
                break
            record["handle_durations"].append({
                "id": self.ids.next("handle_segments"), "agent_id": agent["id"],
                "email_duration": work, "menu_path_id": queue.path_id(lang),
                "menu_path": queue.path, "lang": lang, "transfer": False, "transfer_id": None,
                "started_at": ts(cursor), "ended_at": ts(end), "assignment_type": "auto",
                "status": 1})
            record["consumer_handle_durations"].append({
                "id": self.ids.next("consumer_durations"), "email_duration": work,
                "started_at": ts(cursor), "ended_at": ts(end),
                "attachments_count": rng.randint(0, 2)})
            record["email_threads"].append(self._thread("Outbound", end, subject=f"Re: Case {record['id']}"))
            total += work
            cursor = end + timedelta(seconds=rng.randint(600, 7200))
            if cursor > now:
                break
        finished = parse_ts(record["email_threads"][-1]["created_at"])
        status = rng.choice(["resolved", "closed", "paused", "active"])
        record.update(assigned_at=ts(assigned), email_duration=total,
                      email_status=status, agent_info=agent_info(agent),
                      total_thread_numbers=len(record["email_threads"]),
                      finished_at=ts(finished) if status in ("resolved", "closed") else None,
                      queue_duration=record["queue_durations"][0]["queue_duration"],
                      updated_at=ts(finished))
        return record

    def _thread(self, direction: str, at: datetime, subject: str) -> Record:
        return {"id": self.ids.next("email_threads"), "subject": subject,
                "attachment_count": self.rng.randint(0, 2), "direction": direction,
                "is_read": direction == "Outbound", "is_draft": False,
                "created_at": ts(at), "updated_at": ts(at)}

    # -- shared pieces -------------------------------------------------------------------
    def _contact_base(self, contact_id: int, queue: Menu, lang: str, created_at: datetime) -> Record:
        selected = queue.as_record()
        ticket = str(self.rng.randint(1000, 99999)) if self.rng.random() < 0.2 else None
        if self.rng.random() < 0.05:
            # real payloads sometimes carry the documented "string" typing of `hidden`
            selected["hidden"] = "false"
        return {
            "id": contact_id, "lang": lang, "status": "selecting",
            "created_at": ts(created_at), "queued_at": None, "assigned_at": None,
            "connected_at": None, "ends_at": None, "updated_at": ts(created_at),
            "wait_duration": 0, "queue_duration": 0, "call_duration": 0,
            "rating": None, "has_feedback": False, "out_ticket_id": ticket,
            "out_ticket_url": f"https://acme.example/tickets/{ticket}" if ticket else None, "verified": self.rng.random() < 0.3, "fail_reason": "nothing",
            "selected_menu": selected, "menu_path": menu_path(queue), "agent_info": None,
            "end_user": {"id": self.rng.randint(5000, 9000),
                         "identifier": f"customer-{self.rng.randint(1, 99999)}",
                         "out_contact_id": str(self.rng.randint(10**8, 10**9))},
            "photos": [], "videos": [], "transfers": [], "handle_durations": [],
            "queue_durations": [], "participants": [], "virtual_agent": None,
            "virtual_agent_deflected_escalations": [], "virtual_agent_handle_durations": [],
        }

    def _queue_segment(self, agent_id: Optional[int], queue: Menu, lang: str,
                       start: datetime, end: datetime, transfer_id: Optional[int] = None) -> Record:
        wait = int((end - start).total_seconds())
        return {
            "id": self.ids.next("queue_segments"), "agent_id": agent_id, "queue_duration": wait,
            "menu_path_id": queue.path_id(lang), "menu_path": queue.path, "lang": lang,
            "transfer": 1 if transfer_id else 0, "transfer_id": transfer_id, "transfer_cold": 0,
            "started_at": ts(start), "ended_at": ts(end),
            "service_level_abandon_time_threshold": SLA_ABANDON_THRESHOLD,
            "service_level_event": "in_sla" if wait <= SLA_TARGET_SECONDS else "not_in_sla",
            "service_level_target_percent": 90, "service_level_target_time": SLA_TARGET_SECONDS,
        }

    def _handle_segment(self, channel: str, agent_id: int, queue: Menu, lang: str,
                        start: datetime, end: datetime, talk: int, acw: int,
                        transfer_id: Optional[int] = None) -> Record:
        segment: Record = {
            "id": self.ids.next("handle_segments"), "agent_id": agent_id,
            "acw_duration": acw, f"{channel}_duration": talk,
            "menu_path_id": queue.path_id(lang), "menu_path": queue.path, "lang": lang,
            "transfer": 1 if transfer_id else 0, "transfer_id": transfer_id,
            "started_at": ts(start), "ended_at": ts(end),
            "assigned_connection_duration": self.rng.randint(2, 10),
        }
        if channel == "call":
            segment.update(bcw_duration=0, hold_duration=0, barged=0, transfer_cold=0, scheduled_at=None)
        else:
            segment.update(response_count=self.rng.randint(2, 20), response_time_total=200,
                           response_time_max=40, response_time_avg=15)
        return segment

    def _participant(self, call_id: int, kind: str, user_id: Optional[int],
                     end_user_id: Optional[int], start: datetime, end: datetime) -> Record:
        return {"id": self.ids.next("participants"), "type": kind, "status": "finished",
                "call_id": call_id, "user_id": user_id, "end_user_id": end_user_id,
                "call_duration": int((end - start).total_seconds()), "hold_duration": None,
                "connected_at": ts(start), "ended_at": ts(end), "fail_reason": "nothing"}

    def _recording(self, call_id: int, agent_id: int, start: datetime, length: int) -> Record:
        redactions = []
        if self.rng.random() < 0.3:
            at = start + timedelta(seconds=self.rng.randint(1, max(1, length - 5)))
            redactions.append({"start": ts(at), "end": ts(at + timedelta(seconds=2)),
                               "duration": 2.0, "start_agent_id": agent_id, "end_agent_id": agent_id})
        return {"id": self.ids.next("recordings"), "call_id": call_id,
                "conference_sid": f"CF{self.rng.getrandbits(64):016x}", "duration": length,
                "recording_type": "default", "redaction_times": redactions, "started_at": ts(start)}

    def _virtual_agent(self, record: Record, channel: str, queue: Menu, lang: str,
                       start: datetime, end: datetime) -> None:
        bot = {"id": 10, "name": "Acme Assistant"}
        record["virtual_agent"] = bot
        record["virtual_agent_handle_durations"].append({
            "id": self.ids.next("va_segments"), "virtual_agent": bot,
            f"{channel}_duration": int((end - start).total_seconds()),
            "escalation_reason": "by_end_user_message", "sentiment": self.rng.randint(10, 95),
            "response_count": self.rng.randint(1, 12), "fallback_response_count": self.rng.randint(0, 2),
            "initiated_by": "end_user", "menu_path_id": queue.path_id(lang), "menu_path": queue.path,
            "lang": lang, "transfer": False, "transfer_id": None,
            "started_at": ts(start), "ended_at": ts(end)})
        record["virtual_agent_deflected_escalations"].append({
            "id": self.ids.next("va_escalations"), "deflection": "none",
            "escalation_id": self.ids.next("va_escalation_ids"),
            "escalation_reason": "by_end_user_message", "escalated_at": ts(end),
            "menu_path_id": queue.path_id(lang), "menu_path": queue.path, "lang": lang,
            "virtual_agent": bot})

    def _transfer(self, record: Record, channel: str, from_agent: Record, at: datetime) -> None:
        """Moves the contact to a second queue and agent after `at`."""
        rng = self.rng
        current = (record.get("selected_menu") or {}).get("id")
        target = rng.choice([q for q in self.reference.queues(channel) if q.id != current]
                            or self.reference.queues(channel))
        candidates = [a for a in self.reference.skills[target.id] if a != from_agent["id"]]
        to_agent = self.reference.agent(rng.choice(candidates or self.reference.skills[target.id]))
        transfer_id = self.ids.next("transfers")
        source_queue = {m.id: m for m in self.reference.menus}.get(current or 0, target)
        queued = at
        assigned = queued + timedelta(seconds=rng.randint(5, 90))
        talk = rng.randint(60, 600)
        ends = assigned + timedelta(seconds=talk)
        lang = record["lang"]
        record["transfers"].append({
            "id": transfer_id, "status": "transferred", "fail_reason": "nothing",
            "created_at": ts(at), "updated_at": ts(assigned),
            "from_menu": menu_path(source_queue), "to_menu": menu_path(target),
            "from_agent": agent_info(from_agent), "to_agent": agent_info(to_agent)})
        record["queue_durations"].append(
            self._queue_segment(to_agent["id"], target, lang, queued, assigned, transfer_id))
        record["handle_durations"].append(self._handle_segment(
            channel, to_agent["id"], target, lang, assigned, ends, talk=talk, acw=0,
            transfer_id=transfer_id))
        if channel == "call":
            record["participants"].append(
                self._participant(record["id"], "agent", to_agent["id"], None, assigned, ends))
            record["call_duration"] += talk
        else:
            record["chat_duration"] += talk
        record.update(agent_info=agent_info(to_agent), ends_at=ts(ends), updated_at=ts(ends))

    # -- what happens to a contact after it ended ----------------------------------------
    def wrap_up(self, record: Record, channel: str, at: datetime) -> None:
        """The last agent finishes after-call work: a wrap-up segment appears."""
        talk_segments = [s for s in record["handle_durations"] if s.get("acw_duration", 0) == 0]
        if not talk_segments or channel == "email":
            return
        last = talk_segments[-1]
        started = parse_ts(last["ended_at"])
        # after-call work takes minutes at most, even when the vendor records it late
        acw = max(1, min(int((at - started).total_seconds()), self.rng.randint(20, 300)))
        # the vendor's own sample records may name unknown queues or none at all
        queue_id = (record.get("selected_menu") or {}).get("id")
        known = {m.id: m for m in self.reference.menus}
        queue = known.get(queue_id or 0) or self.reference.queues(channel)[0]
        segment = self._handle_segment(channel, last["agent_id"], queue, record["lang"],
                                       started, started + timedelta(seconds=acw), talk=0, acw=acw,
                                       transfer_id=last.get("transfer_id"))
        segment["menu_path_id"], segment["menu_path"] = last["menu_path_id"], last["menu_path"]
        record["handle_durations"].append(segment)
        record["updated_at"] = ts(max(at, parse_ts(record["updated_at"])))

    def change(self, record: Record, channel: str, at: datetime) -> str:
        """Applies one realistic late change to an ended contact; returns what it did."""
        rng = self.rng
        options = ["rating", "ticket"]
        if channel != "email" and record["handle_durations"]:
            options += ["wrap_up", "correct_segment"]
        known_agents = {a["id"] for a in self.reference.agents}
        if (channel != "email" and record.get("status") == "finished" and record["handle_durations"]
                and record["handle_durations"][-1]["agent_id"] in known_agents):
            options.append("transfer")
        what = rng.choice(options)
        if what == "rating" and channel != "email":
            record.update(rating=rng.randint(1, 5), has_feedback=rng.random() < 0.5)
            record["consumer_event_durations"] = record.get("consumer_event_durations", []) + [{
                "id": self.ids.next("consumer_durations"), "type": "csat", "event": "finished",
                "duration": rng.randint(3, 30),
                "menu_path_id": next((q["menu_path_id"] for q in record["queue_durations"]), None),
                "menu_path": record["menu_path"]["materialized_path"] if record["menu_path"] else None,
                "lang": record["lang"], "started_at": ts(at), "ended_at": ts(at)}]
        elif what == "wrap_up":
            self.wrap_up(record, channel, at)
        elif what == "correct_segment":
            # the vendor recomputes durations and drops a segment it had double counted
            record["handle_durations"].pop(rng.randrange(len(record["handle_durations"])))
        elif what == "transfer":
            agent_id = record["handle_durations"][-1]["agent_id"]
            self._transfer(record, channel, self.reference.agent(agent_id), at)
        else:
            record["out_ticket_id"] = str(rng.randint(1000, 99999))
            record["out_ticket_url"] = f"https://acme.example/tickets/{record['out_ticket_id']}"
        record["updated_at"] = ts(at)
        return what


def record_created(record: Record) -> datetime:
    return parse_ts(record["created_at"])


def parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


SHIFT_HOURS = (6, 14, 22)
"""Hours (UTC) at which the early, late and night shifts begin."""


def activity_history(reference: Reference, ids: Ids, rng: random.Random,
                     start: datetime, now: datetime) -> list[Record]:
    """Shifts of status changes per agent, from `start` to `now`.

    The contact center is open around the clock in three shifts (early, late, night), each
    agent on one of them. A shift starts up to an hour before its hour and lasts 9 to 10
    hours, so consecutive shifts overlap, and the first agent of each shift works every day:
    whatever the time of day, someone is logged in (a test run at 03:00 UTC sees agents).

    Each shift is a login, a chain of `user_status_changed` rows (each closed when the next
    one starts) and a logout. Agents on shift at `now` have an open row: `ended_at` null,
    `duration` 0, closed later by the tenant.
    """
    logs: list[Record] = []
    working = ["Available", "Available", "Available", "Break", "Meal", "Special Task", "Unavailable"]
    for index, agent in enumerate(reference.agents):
        shift_hour = SHIFT_HOURS[index % len(SHIFT_HOURS)]
        lead = index < len(SHIFT_HOURS)
        day = start.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
        while day <= now:
            if rng.random() < 0.72 or lead:
                shift_start = day + timedelta(hours=shift_hour, minutes=-rng.randint(0, 60))
                shift_end = shift_start + timedelta(minutes=rng.randint(9 * 60, 10 * 60))
                if shift_start < now and shift_end > start:
                    logs += _shift(reference, ids, rng, agent, max(shift_start, start),
                                   shift_end, now, working)
            day += timedelta(days=1)
    return logs


def _shift(reference: Reference, ids: Ids, rng: random.Random, agent: Record,
           begin: datetime, end: datetime, now: datetime, working: list[str]) -> list[Record]:
    rows = [activity_row(reference, ids, agent, "login", "Offline", begin)]
    at = begin
    while at < min(end, now):
        row = activity_row(reference, ids, agent, "user_status_changed", rng.choice(working), at)
        rows.append(row)
        following = at + timedelta(minutes=rng.randint(10, 120))
        if following >= now:
            agent.update(online=True, status={k: reference.status(row["status"]["name"])[k]
                                              for k in ("id", "name", "color", "wfm_id")},
                         status_updated_at=row["started_at"], last_login_time=ts(begin))
            return rows
        close_activity(row, min(following, end))
        at = following
    agent.update(last_login_time=ts(begin), online=False)
    rows.append(activity_row(reference, ids, agent, "logout", "Offline", end))
    return rows


def activity_row(reference: Reference, ids: Ids, agent: Record, activity: str, status: str,
                 at: datetime, call_id: Optional[int] = None, chat_id: Optional[int] = None) -> Record:
    row_status = reference.status(status)
    return {"id": ids.next("agent_activity_logs"), "agent_id": agent["id"],
            "status": {k: row_status[k] for k in ("id", "name", "color", "wfm_id")},
            "started_at": ts(at), "ended_at": None, "duration": 0, "call_id": call_id,
            "chat_id": chat_id, "activity": activity, "whodunnit": None}


def close_activity(row: Record, at: datetime) -> None:
    row["ended_at"] = ts(at)
    row["duration"] = int((at - parse_ts(row["started_at"])).total_seconds())


def pickup_logs(reference: Reference, ids: Ids, contacts: list[Record], channel: str) -> list[Record]:
    """An instantaneous `*_picked_up` log for every handle segment that starts a conversation."""
    logs = []
    for contact in contacts:
        for segment in contact["handle_durations"]:
            if segment.get("acw_duration"):
                continue
            agent = reference.agent(segment["agent_id"])
            logs.append(activity_row(
                reference, ids, agent, f"{channel}_picked_up", "In-call" if channel == "call" else "In-chat",
                parse_ts(segment["started_at"]),
                call_id=contact["id"] if channel == "call" else None,
                chat_id=contact["id"] if channel == "chat" else None))
    return logs
