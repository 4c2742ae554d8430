"""Hand-made UJET records for tests whose expected results are worked out by hand.

Only the fields the pipeline and the transforms read are filled in, in the shapes of the
vendor's documents; timestamps are UTC in UJET's rendering.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from sources.ujet.sandbox.generate import ts
from sources.ujet.sandbox.tenant import Tenant, TenantSize

Record = dict[str, Any]
STATUS = {"Available": 0, "Break": -2, "Meal": -4, "Offline": -10}


def at(text: str) -> datetime:
    """`2026-03-02 10:00:30` as a UTC instant."""
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def empty_tenant() -> Tenant:
    """A tenant with agents (ids 100-103), queues and teams, but no contacts or activity."""
    tenant = Tenant(size=TenantSize(days=1, agents=4, calls=0, chats=0, emails=0),
                    include_samples=False)
    tenant.collections["agent_activity_logs"].clear()
    return tenant


def add(tenant: Tenant, kind: str, record: Record) -> Record:
    with tenant.lock:
        tenant.collections[kind][record["id"]] = record
    return record


def queue_entry(agent_id: Optional[int], started: str, seconds: int, event: Optional[str],
                menu_path_id: int = 30020, menu_path: str = "Support/Billing",
                lang: str = "en") -> Record:
    start = at(started)
    return {"agent_id": agent_id, "queue_duration": seconds, "menu_path_id": menu_path_id,
            "menu_path": menu_path, "lang": lang, "started_at": ts(start),
            "ended_at": ts(start + timedelta(seconds=seconds)), "service_level_event": event,
            "service_level_target_time": 60}


def handle_segment(channel: str, agent_id: int, started: str, seconds: int, acw: int = 0,
                   hold: int = 0, menu_path_id: int = 30020,
                   menu_path: str = "Support/Billing") -> Record:
    start = at(started)
    segment = {"agent_id": agent_id, f"{channel}_duration": seconds, "acw_duration": acw,
               "menu_path_id": menu_path_id, "menu_path": menu_path, "lang": "en",
               "started_at": ts(start), "ended_at": ts(start + timedelta(seconds=seconds))}
    if channel == "call":
        segment["hold_duration"] = hold
    return segment


def transfer(transfer_id: int, created: str, from_agent: int, to_agent: int) -> Record:
    return {"id": transfer_id, "status": "transferred", "created_at": ts(at(created)),
            "from_agent": {"id": from_agent}, "to_agent": {"id": to_agent}}


def contact(channel: str, contact_id: int, created: str, *, status: str = "finished",
            fail_reason: Optional[str] = "nothing", queue: tuple[Record, ...] = (),
            handle: tuple[Record, ...] = (), transfers: tuple[Record, ...] = (),
            threads: int = 0, agent_id: Optional[int] = None, updated: Optional[str] = None,
            duration: int = 0) -> Record:
    record: Record = {
        "id": contact_id, "lang": "en", "created_at": ts(at(created)),
        "updated_at": ts(at(updated or created)), "assigned_at": None,
        "agent_info": {"id": agent_id, "agent_number": str(agent_id)} if agent_id else None,
        "end_user": {"id": 9000 + contact_id}, "menu_path": {"name": "Billing"},
        "queue_duration": sum(q["queue_duration"] for q in queue),
        f"{channel}_duration": duration, "queue_durations": list(queue),
        "handle_durations": list(handle), "transfers": list(transfers),
    }
    if channel == "email":
        record.update(email_status=status, finished_at=record["updated_at"],
                      email_threads=[{"id": contact_id * 10 + n, "subject": f"Re: {n}",
                                      "direction": "Inbound" if n % 2 == 0 else "Outbound"}
                                     for n in range(threads)])
    else:
        record.update(status=status, fail_reason=fail_reason, ends_at=record["updated_at"],
                      rating=None)
        record[f"{channel}_type"] = ("Voice Inbound (IVR)" if channel == "call"
                                     else "Messaging Inbound (Web Chat)")
    return record


def status_interval(activity_id: int, agent_id: int, status: str, started: str,
                    ended: Optional[str]) -> Record:
    start = at(started)
    end = at(ended) if ended else None
    return {"id": activity_id, "agent_id": agent_id, "activity": "user_status_changed",
            "status": {"id": STATUS[status], "name": status, "color": "green", "wfm_id": 1},
            "started_at": ts(start), "ended_at": ts(end) if end else None,
            "duration": int((end - start).total_seconds()) if end else 0,
            "call_id": None, "chat_id": None, "whodunnit": None}
