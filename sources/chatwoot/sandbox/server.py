"""The sandbox's HTTP face: Chatwoot's application API for one account, on 127.0.0.1.

`GET /api/v1/accounts/{account_id}/conversations` and `.../conversations/{id}/messages` as
Chatwoot's finders answer them (`app/finders/conversation_finder.rb`, `message_finder.rb`,
`app/models/concerns/sort_handler.rb`; docs/decisions.md says which version): open
conversations unless `status` says otherwise, 25 a page and no page size, `last_activity_at`
descending with no tie-breaker, `updated_within` answered whole and unpaginated, `meta`
counts taken before the assignee filter, the single last message in the list, epoch seconds
with a float `updated_at`, `meta.assignee` and `meta.team` absent when unset. Errors as
Chatwoot's: 401 `{"error":"Invalid Access Token"}`, 404 for an unknown team or
conversation, and 429 with a text body `Retry later` and no `Retry-After`.
"""

from __future__ import annotations

import json
import logging
import random
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler
from typing import Any, Optional
from urllib.parse import parse_qsl, urlsplit

from sources.kit.sandbox import FaultSchedule, FixedWindow, LoopbackServer, send
from sources.chatwoot.sandbox.account import (
    ACTIVITY,
    INBOXES,
    Account,
    Conversation,
    Record,
)

logger = logging.getLogger(__name__)

PAGE_SIZE = 25
"""`CONVERSATION_RESULTS_PER_PAGE`, Chatwoot's default."""
MESSAGES_LATEST, MESSAGES_AFTER, MESSAGES_BETWEEN = 20, 100, 1000
FAULT_KINDS = ("500", "502", "503", "truncated", "slow")
SORTS = {
    # sort_by: (key, descending); Chatwoot orders by these columns alone
    "last_activity_at_desc": ("last_activity_at", True),
    "last_activity_at_asc": ("last_activity_at", False),
    "latest": ("last_activity_at", True),
    "created_at_desc": ("created_at", True),
    "created_at_asc": ("created_at", False),
    "sort_on_created_at": ("created_at", False),
    "priority_desc": ("priority", True),
    "priority_asc": ("priority", False),
    "waiting_since_desc": ("waiting_since", True),
    "waiting_since_asc": ("waiting_since", False),
}
PRIORITY_RANK = {None: 0, "low": 1, "medium": 2, "high": 3, "urgent": 4}


@dataclass
class SandboxOptions:
    """Switches for the sandbox's behaviour. The defaults are a well-behaved account."""

    api_access_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    user_id: int = 1
    """The agent the token belongs to (`assignee_type=me`)."""
    requests_per_second: Optional[float] = None
    """A fixed window of this many requests a second, as rack-attack counts; None for none."""
    churn_per_request: int = 0
    """Changes agents make after every page of the conversation list is served."""
    churn_kinds: tuple[str, ...] = Account.CHURN
    fault_rate: float = 0.0
    fault_every: int = 0
    fault_kinds: tuple[str, ...] = ("500", "503", "truncated")
    slow_seconds: float = 0.5
    seed: int = 1
    latency: float = 0.0

    def __post_init__(self) -> None:
        unknown = set(self.fault_kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {FAULT_KINDS}")


@dataclass(frozen=True)
class LoggedRequest:
    path: str
    params: tuple[tuple[str, str], ...]
    status: int
    fault: Optional[str] = None
    arrived_at: float = 0.0

    def param(self, name: str) -> Optional[str]:
        return next((value for key, value in self.params if key == name), None)


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    fault: Optional[str] = None

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body, ensure_ascii=False).encode()


class SandboxServer(LoopbackServer):
    """Serves an `Account` over HTTP on 127.0.0.1 in a background thread."""

    thread_name = "chatwoot-sandbox"
    requests: list[LoggedRequest]

    def __init__(self, account: Optional[Account] = None,
                 options: Optional[SandboxOptions] = None, port: int = 0) -> None:
        self.account = account or Account()
        self.options = options or SandboxOptions()
        self._rng = random.Random(self.options.seed)
        self._window = (FixedWindow(self.options.requests_per_second)
                        if self.options.requests_per_second else None)
        super().__init__(_handler_for(self), "127.0.0.1", port)
        self.faults = FaultSchedule(self.options, self._rng, self._log_lock)

    @property
    def base_url(self) -> str:
        """What `sources.chatwoot.base_url` is set to: the API lives under `/api/v1/...`."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_root(self) -> str:
        return f"/api/v1/accounts/{self.account.account_id}/"

    # -- answering ---------------------------------------------------------------------------
    def answer(self, path: str, params: list[tuple[str, str]], token: Optional[str]) -> Answer:
        if self._window is not None and not self._window.allows():
            return Answer(429, "Retry later\n", {"Content-Type": "text/plain"})
        if token is None:
            return Answer(401, {"errors": ["You need to sign in or sign up before continuing."]})
        if not secrets.compare_digest(token, self.options.api_access_token):
            return Answer(401, {"error": "Invalid Access Token"})
        if not path.startswith(self.api_root):
            return Answer(404, {"error": "Resource could not be found"})
        fault = self.faults.next()
        if fault in ("500", "502", "503"):
            return Answer(int(fault), {"error": "Internal Server Error"}, fault=fault)
        endpoint = path[len(self.api_root):].strip("/")
        if endpoint == "conversations":
            answer = self._conversations(params)
            if answer.status == 200 and self.options.churn_per_request:
                self.account.churn(self.options.churn_per_request, self.options.churn_kinds)
        elif match := re.fullmatch(r"conversations/(\d+)/messages", endpoint):
            answer = self._messages(int(match.group(1)), params)
        else:
            answer = Answer(404, {"error": "Resource could not be found"})
        answer.fault = fault
        return answer

    def _conversations(self, params: list[tuple[str, str]]) -> Answer:
        query = dict(params)
        labels = [v for k, v in params if k in ("labels[]", "labels")]
        account = self.account
        with account.lock:
            if query.get("team_id") and int(query["team_id"]) not in {t["id"] for t in account.teams}:
                return Answer(404, {"error": "Resource could not be found"})
            now = time.time()
            chosen = [c for c in account.conversations.values()
                      if _matches(c, query, labels)]
            counts = {
                "mine_count": sum(c.assignee_id == self.options.user_id for c in chosen),
                "unassigned_count": sum(c.assignee_id is None for c in chosen),
                "assigned_count": sum(c.assignee_id is not None for c in chosen),
                "all_count": len(chosen),
            }
            assignee = query.get("assignee_type")
            if assignee == "me":
                chosen = [c for c in chosen if c.assignee_id == self.options.user_id]
            elif assignee == "assigned":
                chosen = [c for c in chosen if c.assignee_id is not None]
            elif assignee == "unassigned":
                chosen = [c for c in chosen if c.assignee_id is None]
            chosen = _sorted(chosen, query.get("sort_by"), random.Random(self._rng.random()))
            if query.get("updated_within", "").strip():
                try:
                    seconds = int(query["updated_within"])
                except ValueError:
                    seconds = 0
                page = [c for c in chosen if c.updated_at > now - seconds]
            else:
                number = _page_number(query.get("page"))
                page = chosen[(number - 1) * PAGE_SIZE: number * PAGE_SIZE]
            payload = [render_conversation(account, c) for c in page]
        return Answer(200, {"data": {"meta": counts, "payload": payload}})

    def _messages(self, display_id: int, params: list[tuple[str, str]]) -> Answer:
        query = dict(params)
        account = self.account
        with account.lock:
            conversation = account.conversations.get(display_id)
            if conversation is None:
                return Answer(404, {"error": "Resource could not be found"})
            messages = sorted(conversation.messages, key=lambda m: m["created_at"])
            after, before = _int_or_none(query.get("after")), _int_or_none(query.get("before"))
            if after is not None and before is not None:
                chosen = [m for m in messages if after <= m["id"] < before][:MESSAGES_BETWEEN]
            elif before is not None:
                chosen = [m for m in messages if m["id"] < before][-MESSAGES_LATEST:]
            elif after is not None:
                chosen = [m for m in messages if m["id"] > after][:MESSAGES_AFTER]
            else:
                chosen = messages[-MESSAGES_LATEST:]
            payload = [render_message(account, conversation, m) for m in chosen]
            contact = account.contacts[conversation.contact_id - 1]
            meta = {"labels": conversation.labels, "contact": _contact_view(contact),
                    "assignee": _agent_view(account, conversation.assignee_id),
                    "agent_last_seen_at": _epoch(conversation.agent_last_seen_at)}
        return Answer(200, {"meta": meta, "payload": payload})


def _matches(conversation: Conversation, query: dict[str, str], labels: list[str]) -> bool:
    if not query.get("q"):      # a search ignores the status filter
        status = query.get("status") or "open"
        if status != "all" and conversation.status != status:
            return False        # an unknown status matches nothing, as `where(status:)` would
    if query.get("inbox_id") and str(conversation.inbox_id) != query["inbox_id"]:
        return False
    if query.get("team_id") and str(conversation.team_id) != query["team_id"]:
        return False
    if labels and not set(labels) & set(conversation.labels):
        return False
    return True


def _sorted(conversations: list[Conversation], sort_by: Optional[str],
            rng: random.Random) -> list[Conversation]:
    """Ordered by one column and nothing else: equal values come in no stable order."""
    column, descending = SORTS.get(sort_by or "", SORTS["last_activity_at_desc"])

    def value(c: Conversation) -> float:
        if column == "priority":
            return PRIORITY_RANK[c.priority]
        if column == "waiting_since":
            return c.waiting_since if c.waiting_since is not None else time.time()
        return float(getattr(c, column))

    shuffled = list(conversations)
    rng.shuffle(shuffled)       # Postgres returns ties in whatever order its plan meets them
    return sorted(shuffled, key=value, reverse=descending)


def _page_number(value: Optional[str]) -> int:
    try:
        number = int(value or 1)
    except ValueError:
        return 1
    return number if number >= 1 else 1


def _int_or_none(value: Optional[str]) -> Optional[int]:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _epoch(value: Optional[float]) -> int:
    """`.to_i` of a time Chatwoot may not have: nil.to_i is 0."""
    return int(value) if value is not None else 0


def _iso(value: float) -> str:
    return datetime.fromtimestamp(value, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _contact_view(contact: Record) -> Record:
    return {key: contact[key] for key in (
        "additional_attributes", "availability_status", "email", "id", "name", "phone_number",
        "blocked", "identifier", "thumbnail", "custom_attributes", "last_activity_at",
        "created_at")}


def _agent_view(account: Account, agent_id: Optional[int]) -> Optional[Record]:
    if agent_id is None:
        return None
    agent = account.agents[agent_id - 1]
    return {"id": agent["id"], "account_id": account.account_id,
            "availability_status": agent["availability_status"],
            "auto_offline": agent["auto_offline"], "confirmed": agent["confirmed"],
            "email": agent["email"], "available_name": agent["available_name"],
            "name": agent["name"], "role": agent["role"], "thumbnail": agent["thumbnail"]}


def _sender(account: Account, message: Record) -> Optional[Record]:
    if message["sender_type"] == "Contact":
        contact = account.contacts[message["sender_id"] - 1]
        return {"id": contact["id"], "name": contact["name"], "type": "contact",
                "email": contact["email"], "phone_number": contact["phone_number"],
                "thumbnail": ""}
    if message["sender_type"] == "User":
        agent = account.agents[message["sender_id"] - 1]
        return {"id": agent["id"], "name": agent["name"], "available_name": agent["available_name"],
                "type": "user", "availability_status": agent["availability_status"],
                "thumbnail": ""}
    return None


def render_message(account: Account, conversation: Conversation, message: Record, *,
                   in_list: bool = False) -> Record:
    """A message as the messages endpoint shows it (`in_list`: as the list's `messages` holds
    it, `push_event_data`, whose `updated_at` is an ISO string)."""
    view: Record = {
        "id": message["id"], "content": message["content"], "inbox_id": message["inbox_id"],
        "conversation_id": conversation.display_id, "message_type": message["message_type"],
        "content_type": message["content_type"], "status": message["status"],
        "content_attributes": message["content_attributes"],
        "created_at": int(message["created_at"]), "private": message["private"],
        "source_id": message["source_id"], "sender_type": message["sender_type"],
        "sender_id": message["sender_id"], "sender": _sender(account, message),
    }
    if message["attachments"]:
        view["attachments"] = [dict(a) for a in message["attachments"]]
    if in_list:
        view.update(account_id=account.account_id, updated_at=_iso(message["created_at"]),
                    external_source_ids={}, additional_attributes={},
                    processed_message_content=message["content"], sentiment={})
    return view


def render_conversation(account: Account, c: Conversation) -> Record:
    """A conversation as the list shows it (`_conversation.json.jbuilder`)."""
    meta: Record = {"sender": _contact_view(account.contacts[c.contact_id - 1]),
                    "channel": next(kind for inbox, _, kind in INBOXES if inbox == c.inbox_id),
                    "hmac_verified": False}
    if c.assignee_id is not None:
        meta["assignee"] = _agent_view(account, c.assignee_id)
    if c.team_id is not None:
        team = next(t for t in account.teams if t["id"] == c.team_id)
        meta["team"] = dict(team)
    last = max(c.messages, key=lambda m: m["created_at"]) if c.messages else None
    non_activity = [m for m in c.messages if m["message_type"] != ACTIVITY]
    last_non_activity = max(non_activity, key=lambda m: m["created_at"]) if non_activity else None
    policy = next((p for p in account.sla_policies if p["id"] == c.sla_policy_id), None)
    return {
        "meta": meta,
        "id": c.display_id,
        "messages": [render_message(account, c, last, in_list=True)] if last else [],
        "account_id": account.account_id,
        "uuid": c.uuid,
        "additional_attributes": c.additional_attributes,
        "agent_last_seen_at": _epoch(c.agent_last_seen_at),
        "assignee_last_seen_at": _epoch(c.agent_last_seen_at if c.assignee_id else None),
        "can_reply": True,
        "contact_last_seen_at": _epoch(c.contact_last_seen_at),
        "custom_attributes": c.custom_attributes,
        "inbox_id": c.inbox_id,
        "labels": list(c.labels),
        "muted": c.muted,
        "snoozed_until": _epoch(c.snoozed_until) if c.snoozed_until else None,
        "status": c.status,
        "created_at": int(c.created_at),
        "updated_at": c.updated_at,
        "timestamp": int(c.last_activity_at),
        "first_reply_created_at": _epoch(c.first_reply_created_at),
        "unread_count": 0,
        "last_non_activity_message": (render_message(account, c, last_non_activity, in_list=True)
                                      if last_non_activity else None),
        "last_activity_at": int(c.last_activity_at),
        "priority": c.priority,
        "waiting_since": _epoch(c.waiting_since),
        "sla_policy_id": c.sla_policy_id,
        "applied_sla": ({"id": c.display_id, "sla_id": policy["id"], "sla_status": "active",
                         "sla_name": policy["name"]} if policy else {}),
        "sla_events": [dict(e) for e in c.sla_events],
    }


def _handler_for(sandbox: SandboxServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "chatwoot-sandbox"
        disable_nagle_algorithm = True

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            url = urlsplit(self.path)
            params = parse_qsl(url.query, keep_blank_values=True)
            arrived = time.time()
            answer = sandbox.answer(url.path, params, self.headers.get("api_access_token"))
            sandbox.log(LoggedRequest(url.path.removeprefix(sandbox.api_root), tuple(params),
                                      answer.status, answer.fault, arrived))
            if sandbox.options.latency:
                time.sleep(sandbox.options.latency)
            if answer.fault == "slow":
                time.sleep(sandbox.options.slow_seconds)
            send(self, answer.status, answer.encoded(), answer.headers,
                 truncated=answer.fault == "truncated")

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            logger.debug("chatwoot sandbox: " + format, *args)

    return Handler
