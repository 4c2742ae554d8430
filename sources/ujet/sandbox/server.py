"""The sandbox's HTTP face: UJET's manager API on 127.0.0.1, awkward parts included.

Basic auth (username = subdomain, password = token), every documented endpoint under
`/manager/api/v1`, Rails-style pagination headers (`Link`, `Total`, `Per-Page`), a silent cap
on `per`, a per-customer rate limit answered with 429 and `Retry-After`, and switches for
what real tenants do to a client: records that change while it pages, more records on one
`updated_at` than fit on a page, ties returned in no stable order, inclusive or exclusive
`[from]`/`[to]`, 5xx answers, truncated bodies and dropped connections.
"""

from __future__ import annotations

from datetime import datetime

import base64
import json
import logging
import math
import random
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Optional
from urllib.parse import parse_qsl, urlencode, urlsplit

from sources.kit.sandbox import FaultSchedule, LoopbackServer, send
from sources.ujet.sandbox.frozen import FrozenTenant
from sources.ujet.sandbox.query import Bounds, QueryError, paginate, select
from sources.ujet.sandbox.tenant import CONTACT_KINDS, Tenant

logger = logging.getLogger(__name__)

API_ROOT = "/manager/api/v1/"
FAULT_KINDS = ("500", "502", "503", "truncated", "partial_json", "reset", "html")


@dataclass
class SandboxOptions:
    """Switches for the sandbox's behaviour. The defaults are a well-behaved tenant."""

    subdomain: str = "sandbox"
    api_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    default_per: int = 25
    max_per: int = 100
    """`per` above this is silently lowered, as real servers do."""
    from_inclusive: bool = True
    to_inclusive: bool = True
    pagination_headers: bool = True
    """Send `Link`, `Total` and `Per-Page`. Off, a client must find the end by itself."""
    shuffle_ties: bool = False
    """Return records with equal sort values in a different order on every request."""
    requests_per_second: Optional[float] = None
    """The tenant's rate limit; None for none. The vendor documents 1 per second."""
    burst: int = 1
    retry_after: Optional[float] = None
    """Seconds announced in `Retry-After`; None for the whole seconds until a slot frees."""
    churn_per_request: int = 0
    """Contacts changed after every page of calls, chats or emails is served."""
    fault_rate: float = 0.0
    """Share of requests answered with a random fault from `fault_kinds`."""
    fault_every: int = 0
    """Answer every n-th request with the next fault of `fault_kinds`, in turn (0: never)."""
    fail_after: Optional[int] = None
    """Answer every request after the n-th with the first of `fault_kinds` (an outage)."""
    fault_kinds: tuple[str, ...] = ("500", "503", "truncated", "partial_json", "reset")
    seed: int = 1
    latency: float = 0.0
    """Seconds every response is delayed by, to imitate a network."""
    latin1_endpoints: tuple[str, ...] = ()
    """Endpoints whose bodies are encoded in Latin-1 instead of UTF-8 (bytes a client
    cannot decode as UTF-8 wherever a record has non-ASCII text)."""

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
    arrived_at: Optional[datetime] = None
    """The tenant's clock when the request arrived: what tests measure a run's window by."""

    def param(self, name: str) -> Optional[str]:
        return next((value for key, value in self.params if key == name), None)


class _TokenBucket:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.capacity = rate, float(burst)
        self.tokens, self.updated = float(burst), time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> Optional[float]:
        """None when a request may pass; else seconds until one may."""
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return None
            return (1 - self.tokens) / self.rate


class SandboxServer(LoopbackServer):
    """Serves a `Tenant` (or a `FrozenTenant`) over HTTP on 127.0.0.1 in a background thread.

    Use as a context manager, or `start()` / `stop()`. `base_url` is what a client sets as
    `sources.ujet.base_url`; `options.subdomain` and `options.api_token` are its credentials.
    """

    thread_name = "ujet-sandbox"
    requests: list[LoggedRequest]

    def __init__(self, tenant: Optional[Tenant | FrozenTenant] = None,
                 options: Optional[SandboxOptions] = None,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.frozen = tenant if isinstance(tenant, FrozenTenant) else None
        """The big lists of a tenant that does not change, answered from compact copies."""
        self.tenant = tenant.views if isinstance(tenant, FrozenTenant) else tenant or Tenant()
        self.options = options or SandboxOptions()
        if self.frozen is not None and self.options.churn_per_request:
            raise ValueError("a frozen tenant cannot churn: its records do not change")
        self._rng = random.Random(self.options.seed)
        self._bucket = (_TokenBucket(self.options.requests_per_second, self.options.burst)
                        if self.options.requests_per_second else None)
        super().__init__(_handler_for(self), host, port)
        self.faults = FaultSchedule(self.options, self._rng, self._log_lock)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_ROOT.rstrip('/')}"

    # -- answering --------------------------------------------------------------------------
    def answer(self, path: str, params: list[tuple[str, str]],
               authorization: Optional[str]) -> _Answer:
        if self._bucket is not None and (wait := self._bucket.take()) is not None:
            retry_after = self.options.retry_after
            header = f"{retry_after:g}" if retry_after is not None else str(max(1, math.ceil(wait)))
            return _Answer(429, {"message": "Too Many Requests"}, {"Retry-After": header})
        if not self._authorized(authorization):
            return _Answer(401, {"message": "Unauthorized"},
                           {"WWW-Authenticate": 'Basic realm="Application"'})
        if not path.startswith(API_ROOT):
            return _Answer(404, {"message": "Not Found"})
        fault = self.faults.next()
        if fault in ("500", "502", "503"):
            return _Answer(int(fault), {"message": "Internal Server Error"}, fault=fault)
        if fault == "html":
            return _Answer(200, "<html><body>Down for maintenance</body></html>", fault=fault)
        try:
            answer = self._route(path[len(API_ROOT):].strip("/"), params)
        except QueryError as exc:
            return _Answer(400, {"message": str(exc)})
        answer.fault = fault
        return answer

    def _authorized(self, header: Optional[str]) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return secrets.compare_digest(user, self.options.subdomain) and \
            secrets.compare_digest(password, self.options.api_token)

    def _route(self, endpoint: str, params: list[tuple[str, str]]) -> _Answer:
        tenant = self.tenant
        views: dict[str, Callable[[], Any]] = {
            "agents/current_status": tenant.agents_current_status,
            "menus/current_status": tenant.menus_current_status,
            "menus/tree": lambda: tenant.tree("menus"),
            "teams/tree": lambda: tenant.tree("teams"),
            "user_statuses": lambda: tenant.records("user_statuses"),
            "menus/sla": lambda: tenant.sla(*_sla_params(params), by_group=False),
            "menus/sla_by_queue_groups": lambda: tenant.sla(*_sla_params(params), by_group=True),
        }
        if endpoint in views:
            with tenant.lock:
                return _Answer(200, views[endpoint]())
        if match := re.fullmatch(r"(menus|teams)/(\d+)", endpoint):
            return self._single(match.group(1), int(match.group(2)), params)
        if endpoint in ("agents", "agent_activity_logs", "menus", "teams") + CONTACT_KINDS:
            return self._list(endpoint, params)
        return _Answer(404, {"message": "Not Found"})

    def _single(self, kind: str, record_id: int, params: list[tuple[str, str]]) -> _Answer:
        with self.tenant.lock:
            record = self.tenant.record(kind, record_id)
            with_deleted = dict(params).get("with_deleted", "false").lower() == "true"
            if record is None or (record.get("deleted") and not with_deleted):
                return _Answer(404, {"message": "Not Found"})
            # the documents show a single menu wrapped in a list and a single team bare
            return _Answer(200, [record] if kind == "menus" else record)

    def _list(self, endpoint: str, params: list[tuple[str, str]]) -> _Answer:
        options = self.options
        bounds = Bounds(options.from_inclusive, options.to_inclusive)
        frozen = self.frozen.lists.get(endpoint) if self.frozen else None
        body: Any
        if frozen is not None:
            body, page = frozen.answer(params, bounds, default_per=options.default_per,
                                       max_per=options.max_per)
        else:
            with self.tenant.lock:
                shuffle = random.Random(self._rng.random()) if options.shuffle_ties else None
                selected = select(endpoint, self.tenant.records(endpoint), params, bounds,
                                  sortable=endpoint != "agents", shuffle_ties=shuffle)
                page = paginate(selected, params, default_per=options.default_per,
                                max_per=options.max_per)
                body = json.dumps(page.records, ensure_ascii=False)
                if endpoint in CONTACT_KINDS and options.churn_per_request:
                    # the tenant keeps working while the client pages: ratings, wrap-ups, transfers
                    self.tenant.touch(endpoint, count=options.churn_per_request)
        headers: dict[str, str] = {}
        if options.pagination_headers:
            headers = {"Total": str(page.total), "Per-Page": str(page.per),
                       "Link": _link_header(self.base_url + "/" + endpoint, params, page.page,
                                            page.last_page)}
        return _Answer(200, body, headers)


def _sla_params(params: list[tuple[str, str]]) -> tuple[str, int]:
    values = dict(params)
    channel, minutes = values.get("channel"), values.get("minutes")
    if channel not in ("call", "chat"):
        raise QueryError("channel is required: call or chat")
    if not minutes or not minutes.isdigit() or int(minutes) < 1:
        raise QueryError("minutes is required: a positive number of minutes")
    return channel, int(minutes)


def _link_header(url: str, params: list[tuple[str, str]], page: int, last: int) -> str:
    def link(number: int, rel: str) -> str:
        query = [(k, v) for k, v in params if k != "page"] + [("page", str(number))]
        return f'<{url}?{urlencode(query)}>; rel="{rel}"'

    links = []
    if page > 1:
        links += [link(1, "first"), link(min(page - 1, last), "prev")]
    if page < last:
        links += [link(page + 1, "next"), link(last, "last")]
    return ", ".join(links)


@dataclass
class _Answer:
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


def _handler_for(sandbox: SandboxServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "ujet-sandbox"
        # headers and body go out in two writes; with Nagle on, the body waits for the
        # client's delayed ACK (40 ms a response on Linux), a stall no real API has
        disable_nagle_algorithm = True

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            url = urlsplit(self.path)
            params = parse_qsl(url.query, keep_blank_values=True)
            clock = getattr(sandbox.tenant, "now", None)   # a frozen tenant has no clock
            arrived = clock() if clock else None
            answer = sandbox.answer(url.path, params, self.headers.get("Authorization"))
            if url.path.removeprefix(API_ROOT) in sandbox.options.latin1_endpoints:
                answer.body = answer.encoded().decode("utf-8").encode("latin-1", errors="replace")
            sandbox.log(LoggedRequest(url.path.removeprefix(API_ROOT), tuple(params),
                                       answer.status, answer.fault, arrived))
            if sandbox.options.latency:
                time.sleep(sandbox.options.latency)
            self._send(answer)

        def _send(self, answer: _Answer) -> None:
            body = answer.encoded()
            if answer.fault == "reset":
                # hang up without a word: the client sees the connection drop
                self.close_connection = True
                return
            if answer.fault == "partial_json":
                body = body[: max(1, len(body) // 2)]
            content_type = "text/html" if answer.fault == "html" else "application/json"
            send(self, answer.status, body,
                 {"Content-Type": f"{content_type}; charset=utf-8", **answer.headers},
                 truncated=answer.fault == "truncated")

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            logger.debug("sandbox: " + format, *args)

    return Handler
