"""The sandbox tenant: its records, the views the API derives from them, and how they change.

Everything here is in memory and guarded by one lock, so the HTTP server's threads, a test
and the churn that changes records while a pipeline pages can all touch it at once.
"""

from __future__ import annotations

import copy
import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from sources.ujet.sandbox.generate import (
    CHANNEL_TYPES,
    ContactFactory,
    Ids,
    Menu,
    Record,
    activity_history,
    activity_row,
    build_reference,
    close_activity,
    load_samples,
    parse_ts,
    pickup_logs,
    ts,
)

CONTACT_KINDS = ("calls", "chats", "emails")
CHANNEL_OF = {"calls": "call", "chats": "chat", "emails": "email"}


@dataclass(frozen=True)
class TenantSize:
    """How much history the tenant has. The defaults make a small contact center's week."""

    days: float = 7
    agents: int = 24
    calls: int = 600
    chats: int = 300
    emails: int = 120


class Tenant:
    """A fake UJET tenant with a week of consistent history, ending now.

    Args:
        seed: makes the generated history reproducible.
        size: how many agents and contacts to generate.
        include_samples: also serve the vendor's own example records.
    """

    def __init__(self, seed: int = 7, size: TenantSize = TenantSize(),
                 include_samples: bool = True) -> None:
        self.lock = threading.RLock()
        self.rng = random.Random(seed)
        self._last_now = datetime.min.replace(tzinfo=timezone.utc)
        now = self.now()
        self.ids = Ids()
        self.reference = build_reference(self.rng, size.agents, now)
        self.factory = ContactFactory(self.reference, self.ids, self.rng)
        self.collections: dict[str, dict[Any, Record]] = {kind: {} for kind in CONTACT_KINDS}
        self.spared: set[Any] = set()
        """Contacts that random late changes (`touch` without `ids`, the churn) leave alone:
        a test's witness whose one change must be the one it made."""
        start = now - timedelta(days=size.days)
        for kind, record in self.history(size, start, now):
            self.collections[kind][record["id"]] = record
        logs = activity_history(self.reference, self.ids, self.rng, start, now)
        logs += pickup_logs(self.reference, self.ids, list(self.collections["calls"].values()), "call")
        logs += pickup_logs(self.reference, self.ids, list(self.collections["chats"].values()), "chat")
        self.collections["agent_activity_logs"] = {row["id"]: row for row in logs}
        self.collections["agents"] = {a["id"]: a for a in self.reference.agents}
        self.collections["teams"] = {t["id"]: t for t in self.reference.teams}
        self.collections["user_statuses"] = {s["id"]: s for s in self.reference.statuses}
        self.collections["menus"] = {m.id: self._menu_record(m) for m in self.reference.menus}
        for agent in self.reference.agents:
            if agent["status"] is None:
                offline = self.reference.status("Offline")
                agent["status"] = {k: offline[k] for k in ("id", "name", "color", "wfm_id")}
        if include_samples:
            self._add_samples()

    def history(self, size: TenantSize, start: datetime, now: datetime) -> Iterable[tuple[str, Record]]:
        """The contacts of `size` created between `start` and `now`, oldest first per kind;
        none has a time after `now` (a conversation still going on at `now` is cut there)."""
        build = {"calls": self.factory.call, "chats": self.factory.chat, "emails": self.factory.email}
        self.factory.horizon = now
        try:
            for kind, count in (("calls", size.calls), ("chats", size.chats), ("emails", size.emails)):
                moments = sorted(start + (now - start) * self.rng.random() for _ in range(count))
                for created_at in moments:
                    yield kind, build[kind](created_at, now)
        finally:
            self.factory.horizon = None

    def _add_samples(self) -> None:
        for kind in ("calls", "chats", "emails", "agents", "agent_activity_logs", "menus", "teams"):
            for record in load_samples(kind):
                self.collections[kind].setdefault(record["id"], record)
        for node in _walk(load_samples("menus_tree")):
            menu = {k: v for k, v in node.items() if k != "children"}
            self.collections["menus"].setdefault(
                menu["id"], {**menu, "agent_assignments": [], "team_assignments": []})
        for node in _walk(load_samples("teams_tree")):
            team = {k: v for k, v in node.items() if k != "children"}
            self.collections["teams"].setdefault(team["id"], {**team, "assignees": []})

    def _menu_record(self, menu: Menu) -> Record:
        record = menu.as_record()
        record["agent_assignments"] = [
            {"lang": "en", "queue_level": "primary",
             "channel_type": CHANNEL_TYPES[menu.channel],
             "assignee": {k: v for k, v in self.reference.agent(agent_id).items()
                          if k in ("id", "agent_number", "first_name", "last_name", "avatar_url")}
             | {"name": "{first_name} {last_name}".format(**self.reference.agent(agent_id))}}
            for agent_id in self.reference.skills.get(menu.id, [])
        ] if menu.channel else []
        record["team_assignments"] = [
            {"lang": "en", "queue_level": "secondary", "channel_type": a["channel_type"],
             "team": copy.deepcopy(self.reference.teams[0])}
            for a in record["agent_assignments"][:1]
        ]
        return record

    # -- time -----------------------------------------------------------------------------
    def now(self) -> datetime:
        """The tenant's clock: UTC wall time at millisecond resolution, never going back."""
        with self.lock:
            moment = datetime.now(timezone.utc)
            moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
            self._last_now = max(self._last_now, moment)
            return self._last_now

    # -- reading --------------------------------------------------------------------------
    def records(self, kind: str) -> list[Record]:
        with self.lock:
            return list(self.collections[kind].values())

    def record(self, kind: str, record_id: Any) -> Optional[Record]:
        with self.lock:
            return self.collections[kind].get(record_id)

    def tree(self, kind: str) -> list[Record]:
        """`menus/tree` or `teams/tree`: live (not deleted) nodes nested under `children`."""
        fields = {"menus": ("id", "name", "parent_id", "position", "deleted", "menu_type",
                            "output_msg", "hidden"),
                  "teams": ("id", "name", "parent_id", "position", "agents_count", "deleted")}[kind]
        with self.lock:
            live = [r for r in self.collections[kind].values() if not r.get("deleted")]
            nodes: dict[Any, Record] = {
                r["id"]: {**{f: r.get(f) for f in fields}, "children": []} for r in live}
            roots: list[Record] = []
            for node in sorted(nodes.values(), key=lambda n: (n["position"] or 0, n["id"])):
                parent = nodes.get(node["parent_id"])
                (parent["children"] if parent else roots).append(node)
            return roots

    def agents_current_status(self) -> list[Record]:
        """Logged-in agents and the status they are in."""
        with self.lock:
            return [
                {"id": a["id"], "status": a["status"]["name"], "status_id": a["status"]["id"],
                 "status_updated_at": a["status_updated_at"],
                 "on_hold": False, "on_hold_duration": 0}
                for a in self.collections["agents"].values()
                if a.get("online") and a.get("status")
            ]

    def menus_current_status(self) -> list[Record]:
        """Queues with contacts waiting now, with how long they have waited."""
        with self.lock:
            now = self.now()
            groups: dict[tuple[int, str, str], list[Record]] = {}
            for kind, comm in (("calls", "Call"), ("chats", "Chat")):
                for contact in self.collections[kind].values():
                    if contact.get("status") == "queued" and contact.get("selected_menu"):
                        key = (contact["selected_menu"]["id"], contact["lang"], comm)
                        groups.setdefault(key, []).append(contact)
            rows = []
            for (menu_id, lang, comm), waiting in sorted(groups.items()):
                waits = [int((now - parse_ts(c["queued_at"] or c["created_at"])).total_seconds())
                         for c in waiting]
                oldest = min(waiting, key=lambda c: c["queued_at"] or c["created_at"])
                menu = self.reference.menu(menu_id)
                rows.append({
                    "menu_id": menu_id, "lang": lang, "menu_path_id": menu.path_id(lang),
                    "menu_path": menu.path, "comm_type": comm, "in_queue_count": len(waiting),
                    "oldest_in_queue": oldest["queued_at"] or oldest["created_at"],
                    "oldest_duration_in_queue": max(waits), "total_queue_duration": sum(waits),
                    "average_queue_duration": sum(waits) // len(waits)})
            return rows

    def sla(self, channel: str, minutes: int, by_group: bool) -> list[Record]:
        """Share of queue entries answered within target, over the last `minutes`."""
        kind = {"call": "calls", "chat": "chats"}[channel]
        with self.lock:
            since = self.now() - timedelta(minutes=minutes)
            counts: dict[tuple[int, str], list[int]] = {}
            for contact in self.collections[kind].values():
                for segment in contact.get("queue_durations") or []:
                    event = segment.get("service_level_event")
                    ended = segment.get("ended_at")
                    if event in ("in_sla", "not_in_sla") and ended and parse_ts(ended) >= since:
                        tally = counts.setdefault((segment["menu_path_id"], segment["lang"]), [0, 0])
                        tally[0 if event == "in_sla" else 1] += 1

            def percent(tallies: Iterable[list[int]]) -> Optional[float]:
                met = missed = 0
                for tally in tallies:
                    met, missed = met + tally[0], missed + tally[1]
                return round(100.0 * met / (met + missed), 1) if met + missed else None

            queues = self.reference.queues(channel)
            if by_group:
                return [
                    {"queue_group_id": group["id"], "queue_group_name": group["name"],
                     "sla": percent(t for (path_id, _), t in counts.items()
                                    if path_id // 10 in group["menu_ids"])}
                    for group in self.reference.queue_groups
                    if any(q.id in group["menu_ids"] for q in queues)
                ]
            return [
                {"menu_path_id": q.path_id(lang), "lang": lang, "menu_path": q.path,
                 "sla": percent([counts.get((q.path_id(lang), lang), [0, 0])])}
                for q in queues for lang in ("en", "es")
            ]

    # -- changing ---------------------------------------------------------------------------
    def touch(self, kind: str, count: int = 1, ids: Optional[Iterable[Any]] = None,
              at: Optional[datetime] = None) -> list[Any]:
        """Applies a late change (rating, wrap-up, transfer, corrected segment, ticket) to
        `count` random ended contacts, or to `ids`; returns the ids changed."""
        with self.lock:
            pool = self.collections[kind]
            if ids is None:
                ended = [i for i, r in pool.items()
                         if (r.get("ends_at") or r.get("finished_at")) and i not in self.spared]
                ids = self.rng.sample(ended, k=min(count, len(ended)))
            ids = list(ids)
            for record_id in ids:
                self.factory.change(pool[record_id], CHANNEL_OF[kind], at or self.now())
            return ids

    def create(self, kind: str, count: int = 1) -> list[Any]:
        """Contacts that arrived 3 to 7 minutes ago and have ended by now (or still wait);
        returns their ids. Their pickups are logged when they happened, so their activity
        logs carry times from those minutes: inside the default lookback of a run that
        follows, as in a tenant a pipeline reads every few minutes."""
        with self.lock:
            build = {"calls": self.factory.call, "chats": self.factory.chat,
                     "emails": self.factory.email}[kind]
            now = self.now()
            created = []
            self.factory.horizon = now
            try:
                for _ in range(count):
                    record = build(now - timedelta(seconds=self.rng.randint(200, 420)), now)
                    record["updated_at"] = ts(now)
                    self.collections[kind][record["id"]] = record
                    created.append(record)
            finally:
                self.factory.horizon = None
            for record in created:
                if kind != "emails":
                    for log in pickup_logs(self.reference, self.ids, [record], CHANNEL_OF[kind]):
                        self.collections["agent_activity_logs"][log["id"]] = log
            return [r["id"] for r in created]

    def remove_segment(self, kind: str, record_id: Any, field: str = "handle_durations") -> Record:
        """The vendor drops one element of a nested array (e.g. a double-counted segment)."""
        with self.lock:
            record = self.collections[kind][record_id]
            removed: Record = record[field].pop()
            record["updated_at"] = ts(self.now())
            return removed

    def late_commit(self, kind: str, count: int, age: timedelta) -> list[Any]:
        """Changes that become visible only now but carry an `updated_at` of `age` ago, as
        when the vendor commits a transaction late."""
        return self.touch(kind, count=count, at=self.now() - age)

    def tie(self, kind: str, count: int, at: Optional[datetime] = None) -> list[Any]:
        """Gives `count` contacts one and the same `updated_at` (a bulk update)."""
        with self.lock:
            moment = at or self.now()
            ids = self.rng.sample(list(self.collections[kind]), k=count)
            for record_id in ids:
                self.factory.change(self.collections[kind][record_id], CHANNEL_OF[kind], moment)
            return ids

    def add_field(self, kind: str, name: str, value: Any, count: int = 1) -> list[Any]:
        """The vendor ships a new field on some records (schema drift)."""
        with self.lock:
            ids = self.rng.sample(list(self.collections[kind]), k=count)
            now = ts(self.now())
            for record_id in ids:
                self.collections[kind][record_id][name] = value
                if "updated_at" in self.collections[kind][record_id]:
                    self.collections[kind][record_id]["updated_at"] = now
            return ids

    def advance_activity(self) -> tuple[list[Any], list[Any]]:
        """Every online agent changes status now: their open log closes and a new one opens.
        Returns (ids closed, ids opened)."""
        with self.lock:
            now = self.now()
            logs = self.collections["agent_activity_logs"]
            generated_agents = {a["id"] for a in self.reference.agents}
            open_rows = [r for r in logs.values()
                         if r["ended_at"] is None and r["activity"] == "user_status_changed"
                         and r["agent_id"] in generated_agents]
            latest: dict[int, Record] = {}
            for row in open_rows:
                if row["started_at"] >= latest.get(row["agent_id"], {"started_at": ""})["started_at"]:
                    latest[row["agent_id"]] = row
            closed, opened = [], []
            for agent_id, row in sorted(latest.items()):
                close_activity(row, now)
                closed.append(row["id"])
                agent = self.reference.agent(agent_id)
                status = self.rng.choice(["Available", "Break", "Unavailable"])
                new = activity_row(self.reference, self.ids, agent, "user_status_changed", status, now)
                logs[new["id"]] = new
                opened.append(new["id"])
                agent.update(status=dict(new["status"]), status_updated_at=new["started_at"])
            return closed, opened

    def delete_menu(self, menu_id: int) -> None:
        with self.lock:
            self.collections["menus"][menu_id]["deleted"] = True


def _walk(nodes: list[Record]) -> Iterable[Record]:
    for node in nodes:
        yield node
        yield from _walk(node.get("children") or [])
