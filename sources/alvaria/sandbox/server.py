"""The sandbox's HTTP face: Alvaria's EmailQueue API and a token endpoint, on 127.0.0.1.

* `POST /oauth2/token`: the client-credentials grant (scope `emailqueueapi`), the client
  authenticated by HTTP Basic or, where `basic_refused`, only by form fields; tokens live
  `token_lifetime` seconds and `revoke_tokens()` ends them all early.
* `GET /via/v2/organizations/{org_id}/emailQueue/emails`: the active e-mails by id,
  `startIndex`/`maxResults` with a silent cap (`page_cap`), `totalItems` after the filters,
  every documented filter (`emailType`, `state` and `workTypeId` repeated or
  comma-separated, `workHandlerId`, `umId` with `*` and `?` wildcards), `getExtendedInfo`
  adding `workHandlerName` and `workTypeName`; 400s in the documented `ErrorResponse` shape.
* In front, an API gateway as Alvaria's `x-api-key` suggests: a missing or wrong key is 403
  `{"message": "Forbidden"}`, a missing, expired or revoked token 401
  `{"message": "Unauthorized"}`, the rate limit 429 `{"message": "Too Many Requests"}`
  without `Retry-After` (or, with `retry_after`, an `ErrorResponse` with one); faults are
  500/503 `ErrorResponse`s, a 502 HTML page from the gateway, truncated bodies, slow answers.
* `churn_per_request` changes the queue after each page served, `churn_before_offset`
  completes and adds e-mails ahead of the page just served (`complete_before_offset` only
  completes them): what shifts a paging client.
"""

from __future__ import annotations

import base64
import json
import random
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from http.server import BaseHTTPRequestHandler
from typing import Any, Optional
from urllib.parse import parse_qsl, urlsplit

from sources.alvaria.sandbox.organisation import Organisation
from sources.alvaria.settings import EMAIL_TYPES, STATES
from sources.kit.sandbox import FaultSchedule, FixedWindow, LoopbackServer, send

logger = logging.getLogger(__name__)

TOKEN_PATH = "/oauth2/token"
FAULT_KINDS = ("500", "502", "503", "truncated", "slow")
DEFAULT_PAGE = 100
"""`maxResults` when the client sends none."""


@dataclass
class SandboxOptions:
    """Switches for the sandbox's behaviour. The defaults are a well-behaved organisation."""

    client_id: str = "ccelt-sandbox"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    api_key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    token_lifetime: float = 3600.0
    basic_refused: bool = False
    """The token endpoint takes the client's credentials only as form fields."""
    revoke_every: int = 0
    """Revoke every token after each this many pages served (0: never)."""
    page_cap: int = 100
    """Items a page holds at most, whatever `maxResults` asks: the silent cap."""
    requests_per_second: Optional[float] = None
    retry_after: bool = False
    churn_per_request: int = 0
    churn_kinds: tuple[str, ...] = Organisation.CHURN
    churn_before_offset: int = 0
    """Completions and arrivals ahead of the page just served, after each page."""
    complete_before_offset: int = 0
    """Completions alone ahead of the page just served, after each page."""
    fault_rate: float = 0.0
    fault_every: int = 0
    fault_kinds: tuple[str, ...] = ("500", "503", "truncated")
    fail_after: Optional[int] = None
    """Answer every list request after the n-th with the first of `fault_kinds` (an outage)."""
    slow_seconds: float = 0.5
    seed: int = 1

    def __post_init__(self) -> None:
        unknown = set(self.fault_kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {FAULT_KINDS}")


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    params: tuple[tuple[str, str], ...]
    status: int
    fault: Optional[str] = None
    tick: int = 0
    """The organisation's event counter when the answer was made (before any churn after it)."""
    ids: tuple[str, ...] = ()
    """The e-mails the answer listed."""

    def param(self, name: str) -> Optional[str]:
        return next((value for key, value in self.params if key == name), None)


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    fault: Optional[str] = None
    ids: tuple[str, ...] = ()
    tick: int = 0

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


def error_response(code: int, message: str, scope: str = "", reason: str = "") -> Answer:
    """The documented `ErrorResponse`."""
    errors = [{"scope": scope, "reason": reason or message, "message": message}]
    return Answer(code, {"code": code, "message": message, "errors": errors})


class SandboxServer(LoopbackServer):
    """Serves an `Organisation` over HTTP on 127.0.0.1 in a background thread."""

    thread_name = "alvaria-sandbox"
    requests: list[LoggedRequest]

    def __init__(self, organisation: Optional[Organisation] = None,
                 options: Optional[SandboxOptions] = None, port: int = 0) -> None:
        self.organisation = organisation or Organisation()
        self.options = options or SandboxOptions()
        self._window = (FixedWindow(self.options.requests_per_second)
                        if self.options.requests_per_second else None)
        self._tokens: dict[str, float] = {}
        self._tokens_lock = threading.Lock()
        self.tokens_issued = 0
        self._pages_served = 0
        super().__init__(_handler_for(self), "127.0.0.1", port)
        self.faults = FaultSchedule(self.options, random.Random(self.options.seed),
                                     self._log_lock)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What `sources.alvaria.base_url` is set to."""
        return f"{self.origin}/via/v2/organizations/{{org_id}}"

    @property
    def token_url(self) -> str:
        return self.origin + TOKEN_PATH

    @property
    def emails_path(self) -> str:
        return f"/via/v2/organizations/{self.organisation.org_id}/emailQueue/emails"

    def source_args(self) -> dict[str, Any]:
        """The source's settings that point it at this sandbox."""
        return dict(org_id=self.organisation.org_id, base_url=self.base_url,
                    token_url=self.token_url, client_id=self.options.client_id,
                    client_secret=self.options.client_secret, api_key=self.options.api_key)

    def revoke_tokens(self) -> None:
        """Every token issued so far stops working (a key rotation, an admin's revocation)."""
        with self._tokens_lock:
            self._tokens.clear()

    # -- answering ---------------------------------------------------------------------------
    def answer(self, method: str, path: str, params: list[tuple[str, str]],
               headers: Any, body: bytes) -> Answer:
        if path == TOKEN_PATH:
            return self._token(method, headers, body)
        if self._window is not None and not self._window.allows():
            if self.options.retry_after:
                answer = error_response(429, "Too Many Requests", reason="rateLimitExceeded")
                answer.headers["Retry-After"] = "1"
                return answer
            return Answer(429, {"message": "Too Many Requests"})
        if not secrets.compare_digest(headers.get("x-api-key") or "", self.options.api_key):
            return Answer(403, {"message": "Forbidden"})
        if not self._token_valid(headers.get("Authorization") or ""):
            return Answer(401, {"message": "Unauthorized"})
        if path != self.emails_path:
            return error_response(404, "not found", scope="path")
        if method != "GET":
            return error_response(405, "Method Not Allowed", scope="method")
        fault = self.faults.next()
        if fault in ("500", "503"):
            return error_response(int(fault), "Internal Server Error" if fault == "500"
                                  else "Service Unavailable")
        if fault == "502":
            return Answer(502, "<html><head><title>502 Bad Gateway</title></head><body>"
                          "<center><h1>502 Bad Gateway</h1></center></body></html>",
                          {"Content-Type": "text/html"}, fault=fault)
        answer = self._emails(params)
        answer.fault = fault
        if answer.status == 200:
            self._churn(params, len(answer.ids))
            self._pages_served += 1
            if self.options.revoke_every and self._pages_served % self.options.revoke_every == 0:
                self.revoke_tokens()
        return answer

    def _token(self, method: str, headers: Any, body: bytes) -> Answer:
        if method != "POST":
            return Answer(405, {"error": "invalid_request"})
        form = dict(parse_qsl(body.decode(errors="replace")))
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        authorization = headers.get("Authorization") or ""
        if authorization.startswith("Basic "):
            if self.options.basic_refused:
                return Answer(401, {"error": "invalid_client"})
            try:
                client_id, _, client_secret = base64.b64decode(
                    authorization[6:]).decode().partition(":")
            except ValueError:
                return Answer(401, {"error": "invalid_client"})
        if form.get("grant_type") != "client_credentials":
            return Answer(400, {"error": "unsupported_grant_type"})
        if not (client_id == self.options.client_id and secrets.compare_digest(
                client_secret or "", self.options.client_secret)):
            return Answer(401, {"error": "invalid_client"})
        if "emailqueueapi" not in (form.get("scope") or "").split():
            return Answer(400, {"error": "invalid_scope"})
        token = secrets.token_urlsafe(32)
        with self._tokens_lock:
            self._tokens[token] = time.monotonic() + self.options.token_lifetime
            self.tokens_issued += 1
        return Answer(200, {"access_token": token, "token_type": "Bearer",
                            "expires_in": int(self.options.token_lifetime),
                            "scope": "emailqueueapi"})

    def _token_valid(self, authorization: str) -> bool:
        token = authorization.removeprefix("Bearer ").strip()
        with self._tokens_lock:
            expires = self._tokens.get(token)
        return expires is not None and time.monotonic() < expires

    def _emails(self, params: list[tuple[str, str]]) -> Answer:
        query = dict(params)
        try:
            start = _integer(query.get("startIndex"), "startIndex", 0, minimum=0)
            wanted = _integer(query.get("maxResults"), "maxResults", DEFAULT_PAGE, minimum=1)
            states = _listed(params, "state")
            types = _listed(params, "emailType")
            work_types = _listed(params, "workTypeId")
        except ValueError as exc:
            return error_response(400, str(exc), scope=str(exc).split(" ")[0], reason="invalid")
        for name, values, allowed in (("state", states, STATES), ("emailType", types, EMAIL_TYPES)):
            bad = [v for v in values if v not in allowed]
            if bad:
                return error_response(400, f"{name} {bad[0]!r} is not one of {', '.join(allowed)}",
                                      scope=name, reason="invalid")
        extended = (query.get("getExtendedInfo") or "").lower() == "true"
        handler = query.get("workHandlerId")
        um_pattern = _wildcard(query["umId"]) if query.get("umId") else None
        organisation = self.organisation
        with organisation.lock:
            chosen = [e for e in organisation.listing()
                      if (not states or e.state in states)
                      and (not types or e.fields.get("emailType") in types)
                      and (not work_types or e.fields.get("workTypeId") in work_types)
                      and (not handler or e.fields.get("workHandlerId") == handler)
                      and (um_pattern is None or fnmatchcase(str(e.fields.get("umId")), um_pattern))]
            page = chosen[start:start + min(wanted, self.options.page_cap)]
            items = [organisation.render(e, extended) for e in page]
            tick = organisation.tick
        body = {"kind": "via#emailList", "totalItems": len(chosen),
                "lastIndexReturned": start + len(items) - 1 if items else start,
                "version": "20.0", "items": items}
        return Answer(200, body, ids=tuple(e.id for e in page), tick=tick)

    def _churn(self, params: list[tuple[str, str]], served: int) -> None:
        options = self.options
        if options.churn_per_request:
            self.organisation.churn(options.churn_per_request, options.churn_kinds)
        position = int(dict(params).get("startIndex") or 0) + served
        if options.churn_before_offset:
            self.organisation.churn_before(position, options.churn_before_offset)
        if options.complete_before_offset:
            self.organisation.churn_before(position, options.complete_before_offset,
                                           arrivals=False)


def _integer(value: Optional[str], name: str, default: int, minimum: int) -> int:
    if value in (None, ""):
        return default
    if not re.fullmatch(r"\d+", value) or int(value) < minimum:
        raise ValueError(f"{name} must be an integer of at least {minimum}, got {value!r}")
    return int(value)


def _listed(params: list[tuple[str, str]], name: str) -> list[str]:
    """An `array[string]` parameter, repeated (`state=A&state=B`) or comma-separated."""
    return [part for key, value in params if key == name for part in value.split(",") if part]


def _wildcard(pattern: str) -> str:
    """`umId` wildcards (`*` any run, `?` one character, SQL's `%` and `_` too) as fnmatch's."""
    escaped = re.sub(r"([\[\]])", r"[\1]", pattern)
    return escaped.replace("%", "*").replace("_", "?")


def _handler_for(sandbox: SandboxServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "alvaria-sandbox"
        disable_nagle_algorithm = True

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self._serve("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._serve("POST")

        def _serve(self, method: str) -> None:
            url = urlsplit(self.path)
            params = parse_qsl(url.query, keep_blank_values=True)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            answer = sandbox.answer(method, url.path, params, self.headers, body)
            sandbox.log(LoggedRequest(method, url.path, tuple(params), answer.status,
                                      answer.fault, answer.tick, answer.ids))
            if answer.fault == "slow":
                time.sleep(sandbox.options.slow_seconds)
            send(self, answer.status, answer.encoded(), answer.headers,
                 truncated=answer.fault == "truncated")

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            logger.debug("alvaria sandbox: " + format, *args)

    return Handler
