"""The one HTTP layer every vendor source uses: auth, a shared request budget, retries.

A source builds one `ApiClient` per tenant and hands it to all its resources, so the
vendor's rate limit is respected across resources and threads. Responses are parsed JSON;
anything that is not (a truncated body, an HTML error page) is retried like a 5xx.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

import httpx
import orjson

logger = logging.getLogger(__name__)


from sources.kit.errors import AuthenticationError, ConfigurationError, RequestFailed


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before giving up on one request.

    Attributes:
        max_attempts: attempts per request for 5xx, timeouts, connection errors and
            unparsable bodies (429s do not count; they have their own limit).
        backoff_base: seconds before the first retry; doubles each attempt.
        backoff_max: ceiling for one backoff sleep.
        max_rate_limited: consecutive 429 answers tolerated for one request.
        max_retry_after: longest `Retry-After` honoured; a longer one fails the request,
            because a scheduled job is better off failing fast and running again.
    """

    max_attempts: int = 6
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_rate_limited: int = 30
    max_retry_after: float = 300.0

    def backoff(self, attempt: int) -> float:
        """Seconds to sleep after failed attempt number `attempt` (1-based), with jitter."""
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        # half fixed, half random: spreads retries of parallel resources apart
        return ceiling / 2 + random.uniform(0, ceiling / 2)


class RateBudget:
    """Spaces requests at least `1 / requests_per_second` apart, across threads.

    Callers pass one at a time through a turnstile: `acquire()` waits for the caller's turn
    and holds the turnstile until the caller says, with `sent()`, that its request has left.
    The spacing counts from that moment, not from when the request was allowed: a request
    that leaves late (the interpreter was busy normalizing) pushes the next one back instead
    of letting two arrive closer together than the vendor allows.

    A vendor's limiter sees a request a little later or sooner than it left, by the jitter
    of the network and of its own servers (a few milliseconds, whatever the rate), and one
    that arrives a hair early costs a whole `Retry-After`: ten requests' worth at 10
    requests/s. So the spacing starts a safety margin above the configured one. A 429 pauses
    every user of the budget for its `Retry-After`, not only the request that got it,
    because the vendor counts requests per customer, not per connection; it also widens the
    margin, and long runs of accepted requests narrow it again to where it started.
    """

    JITTER = 0.002
    """Seconds of network and server jitter the margin allows for from the start."""
    MARGIN = 0.005
    """Share of the configured spacing the margin adds from the start (beside `JITTER`)."""
    MARGIN_AFTER_429 = 0.02
    """Spacing added per 429, as a share of the configured spacing (at least `JITTER`)."""
    WIDEST_AFTER_429 = 2.0
    """However many 429s, requests are never spaced more than twice the configured
    spacing: `Retry-After` says how long to wait; the margin only absorbs jitter."""
    FASTER_AFTER_SUCCESSES = 100
    MARGIN_RELEASED = 0.005
    """Spacing taken away after each `FASTER_AFTER_SUCCESSES` accepted requests."""
    FLOOR_INTERVAL = 0.05
    """Spacing to fall back to when no rate was configured and the server still says 429."""

    def __init__(
        self,
        requests_per_second: Optional[float],
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if requests_per_second is not None and requests_per_second <= 0:
            raise ValueError(f"requests_per_second must be positive, got {requests_per_second}")
        self.configured_interval = 1.0 / requests_per_second if requests_per_second else 0.0
        self.narrowest = (self.configured_interval * (1 + self.MARGIN) + self.JITTER
                          if requests_per_second else 0.0)
        """The spacing with the margin it starts with, and never goes below."""
        self.interval = self.narrowest
        self._clock = clock
        self._sleep = sleep
        self._gate = threading.Lock()
        self._holder: Optional[int] = None
        self._lock = threading.Lock()
        self._last_start = float("-inf")
        self._paused_until = 0.0
        self._accepted = 0

    def acquire(self) -> float:
        """Blocks until it is the caller's turn to send; returns the seconds waited.

        The caller holds the turnstile until it calls `sent()`, which it must do when its
        request leaves or fails to (`ApiClient` does both).
        """
        waited = 0.0
        self._gate.acquire()
        try:
            while True:
                with self._lock:
                    start = max(self._last_start + self.interval, self._paused_until)
                now = self._clock()
                if now >= start:
                    break
                # a 429 during this sleep moves `_paused_until`: the loop looks again
                self._sleep(start - now)
                waited += start - now
        except BaseException:
            self._gate.release()
            raise
        self._holder = threading.get_ident()
        return waited

    def sent(self) -> None:
        """The caller's request has left (or never will): the next one waits from now.

        Does nothing unless the calling thread holds the turnstile, so calling it twice (when
        the request leaves, and again once it is over) is safe.
        """
        if self._holder != threading.get_ident():
            return
        with self._lock:
            self._last_start = self._clock()
        self._holder = None
        self._gate.release()

    def pause_for(self, seconds: float) -> None:
        """Holds back every request for `seconds` from now (a server's `Retry-After`) and
        spaces the following ones a little further apart."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)
            base = max(self.configured_interval, self.FLOOR_INTERVAL)
            wider = max(self.interval, self.FLOOR_INTERVAL) + max(base * self.MARGIN_AFTER_429,
                                                                 self.JITTER)
            self.interval = min(wider, base * self.WIDEST_AFTER_429)
            self._accepted = 0

    def accepted(self) -> None:
        """A request was not refused for its rate; after enough of them, speed back up."""
        with self._lock:
            self._accepted += 1
            if self._accepted >= self.FASTER_AFTER_SUCCESSES and self.interval > self.narrowest:
                self.interval = max(self.narrowest,
                                    self.interval - self.configured_interval * self.MARGIN_RELEASED)
                self._accepted = 0


_budgets: dict[tuple[str, str], RateBudget] = {}
_budgets_lock = threading.Lock()


def shared_budget(tenant_key: tuple[str, str], requests_per_second: Optional[float]) -> RateBudget:
    """Returns the budget of a tenant, creating it on first use.

    Every client for the same `(base_url, username)` in this process shares one budget, so two
    sources pointed at one tenant do not double its request rate.
    """
    with _budgets_lock:
        budget = _budgets.get(tenant_key)
        interval = 1.0 / requests_per_second if requests_per_second else 0.0
        if budget is None or budget.configured_interval != interval:
            budget = _budgets[tenant_key] = RateBudget(requests_per_second)
        return budget


@dataclass
class RequestStats:
    """What the client did, for the run summary. Safe to update from several threads."""

    requests: int = 0
    rate_limited: int = 0
    retries: int = 0
    by_endpoint: Counter[str] = field(default_factory=Counter)
    first_at: Optional[float] = None
    last_at: Optional[float] = None
    """`time.monotonic()` of the first and the latest request."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count_request(self, path: str) -> None:
        with self._lock:
            self.requests += 1
            self.by_endpoint[path] += 1
            self.last_at = time.monotonic()
            if self.first_at is None:
                self.first_at = self.last_at

    def count_rate_limited(self) -> None:
        with self._lock:
            self.rate_limited += 1

    def count_retry(self) -> None:
        with self._lock:
            self.retries += 1

    def snapshot(self) -> RequestStats:
        with self._lock:
            return RequestStats(self.requests, self.rate_limited, self.retries,
                                Counter(self.by_endpoint), self.first_at, self.last_at)

    def since(self, earlier: RequestStats) -> RequestStats:
        """What happened between `earlier` (a snapshot) and now."""
        now = self.snapshot()
        new = now.requests > earlier.requests
        return RequestStats(now.requests - earlier.requests,
                            now.rate_limited - earlier.rate_limited,
                            now.retries - earlier.retries,
                            now.by_endpoint - earlier.by_endpoint,
                            # the first request after `earlier` is known only if it was the
                            # first of all (a process that runs once, as the CLI does)
                            now.first_at if new and earlier.requests == 0 else None,
                            now.last_at if new else None)


PROCESS_STATS = RequestStats()
"""Every request this process made, for summaries that span several clients."""


@dataclass(frozen=True)
class JsonResponse:
    """A parsed successful response."""

    data: Any
    headers: httpx.Headers
    links: Mapping[str, str]
    """`Link` header targets by relation (`next`, `last`, ...); empty if none was sent."""
    undecodable: Optional[bytes] = None
    """The raw body when it was not valid UTF-8: `data` then has U+FFFD where bytes were bad."""


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

UNKNOWN_NAME_RETRIES = 1
"""Tries after a resolver said a host name does not exist (docs/decisions.md, "Connection
errors"): a misspelled subdomain will not start existing within a retry budget, but a
resolver may answer NXDOMAIN once while its upstream recovers, so one retry is allowed."""


def _name_does_not_exist(error: BaseException) -> bool:
    """Whether a connection failed because the resolver said the host name does not exist
    (EAI_NONAME), as opposed to a resolver that could not answer (EAI_AGAIN: temporary)."""
    current: Optional[BaseException] = error
    seen: list[BaseException] = []
    while current is not None and all(current is not s for s in seen):
        seen.append(current)
        if isinstance(current, socket.gaierror):
            return current.errno == socket.EAI_NONAME
        current = current.__cause__ or current.__context__
    text = str(error)
    return "Name or service not known" in text or "nodename nor servname" in text


def checked_base_url(url: str, setting: str, *, allow_insecure_http: bool = False) -> str:
    """`url` without a trailing slash, if it is one a source may send credentials to.

    Plain HTTP would carry the credentials in clear text, so it is refused unless the host is
    this machine (a sandbox) or the user said `allow_insecure_http = true` for this source.

    Raises:
        ConfigurationError: naming `setting`, for anything else.
    """
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(f"{setting} must start with https://, got {url!r}")
    host = httpx.URL(url).host
    if not host:
        raise ConfigurationError(f"{setting} has no host name: {url!r}")
    if url.startswith("http://") and host not in LOOPBACK_HOSTS and not allow_insecure_http:
        section = setting.rsplit(".", 1)[0]
        raise ConfigurationError(
            f"{setting} {url} is plain HTTP: the credentials would travel unencrypted to {host}."
            f" Use https://, or set {section}.allow_insecure_http = true if this network is"
            " trusted")
    if url.startswith("http://") and host not in LOOPBACK_HOSTS:
        logger.warning("%s %s is plain HTTP (allow_insecure_http): credentials travel"
                       " unencrypted", setting, url)
    return url.rstrip("/")


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class ApiClient:
    """Sends requests to one tenant of one vendor with its auth, budget and retries.

    Args:
        base_url: the API root, e.g. `https://acme.ujet.co/manager/api/v1`.
        auth: the vendor's scheme (`sources.kit.auth`); its secrets never appear in
            messages or logs.
        budget: the tenant's shared `RateBudget`.
        vendor: vendor name for messages, e.g. "UJET".
        auth_hint: what to check when the vendor refuses the credentials.
        headers: extra headers on every request (e.g. Alvaria's `x-api-key`).
        host_hint: which settings make the host name, for when it does not exist.
        transport: an httpx transport, for tests (`httpx.MockTransport`).
    """

    def __init__(
        self,
        base_url: str,
        auth: Optional[httpx.Auth],
        budget: RateBudget,
        *,
        vendor: str,
        auth_hint: str,
        headers: Optional[Mapping[str, str]] = None,
        host_hint: str = "Check the configured base URL.",
        retry: RetryPolicy = RetryPolicy(),
        timeout: float = 60.0,
        transport: Optional[httpx.BaseTransport] = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.host = httpx.URL(self.base_url).host
        self.vendor = vendor
        self.auth_hint = auth_hint
        self.host_hint = host_hint
        self.budget = budget
        self.retry = retry
        self.stats = RequestStats()
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url + "/",
            auth=auth,
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "ccelt", **(headers or {})},
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def wait_at_least(self, seconds: float) -> None:
        """Lets a request take `seconds` at least: a long poll the server says it holds that
        long (CometD's `advice.timeout`) must not be cut by our own timeout."""
        if self._http.timeout.read is not None and self._http.timeout.read < seconds:
            logger.info("%s: waiting up to %.0f s for an answer (the server holds requests that"
                        " long)", self.vendor, seconds)
            self._http.timeout = httpx.Timeout(seconds)

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get(self, path: str, params: Optional[Mapping[str, Any]] = None, *,
            label: Optional[str] = None) -> JsonResponse:
        """GETs `path` (relative to the base URL) and returns its parsed JSON body; `label`
        counts it under another name (`conversations/{id}/messages`, not one per id)."""
        return self.request("GET", path, params, label=label)

    def post(self, path: str, json_body: Any = None,
             params: Optional[Mapping[str, Any]] = None) -> JsonResponse:
        """POSTs a JSON body to `path` (e.g. a CometD long poll) and returns the parsed answer."""
        return self.request("POST", path, params, json_body=json_body)

    def request(self, method: str, path: str, params: Optional[Mapping[str, Any]] = None, *,
                json_body: Any = None, label: Optional[str] = None) -> JsonResponse:
        """Sends one request (relative to the base URL) and returns its parsed JSON body.

        Raises:
            AuthenticationError: on 401/403, at once.
            RequestFailed: on any other 4xx at once, or when 5xx, timeouts, connection
                errors, unparsable bodies or 429s outlast the retry policy.
        """
        if path.startswith(("http://", "https://")):
            # a `Link` target: follow it only on this tenant, never send credentials elsewhere
            if not path.startswith(self.base_url + "/"):
                raise RequestFailed(f"{self.vendor} sent a link off the API root: {path}")
            path = path[len(self.base_url) + 1:]
        path = path.lstrip("/")
        endpoint = f"{method} /{path.split('?')[0]}"
        attempt = 0
        rate_limited = 0
        unknown_name = 0
        while True:
            try:
                response = self._send(method, path, params, json_body, label)
            except httpx.TimeoutException as exc:
                problem = f"timed out talking to {self.host} ({type(exc).__name__})"
            except httpx.TransportError as exc:
                if _name_does_not_exist(exc):
                    unknown_name += 1
                    if unknown_name > UNKNOWN_NAME_RETRIES:
                        raise RequestFailed(
                            f"{self.vendor} {endpoint} failed: the host name {self.host} does not"
                            f" exist (the resolver answered 'unknown name' {unknown_name} times;"
                            f" {exc}). {self.host_hint}") from None
                problem = f"connection to {self.host} failed ({type(exc).__name__}: {exc})"
            else:
                status = response.status_code
                if status == 429:
                    rate_limited += 1
                    self.stats.count_rate_limited()
                    PROCESS_STATS.count_rate_limited()
                    wait = self._rate_limit_wait(response, endpoint, rate_limited)
                    logger.info("%s: rate limited (429), waiting %.1fs as asked", endpoint, wait)
                    self.budget.pause_for(wait)
                    continue
                self.budget.accepted()
                if status in (401, 403):
                    raise AuthenticationError(
                        f"{self.vendor} refused the credentials for {endpoint} (HTTP {status}):"
                        f" {self.auth_hint}"
                    )
                if status >= 500:
                    problem = f"HTTP {status}"
                elif status >= 400:
                    raise RequestFailed(
                        f"{self.vendor} rejected {endpoint} with HTTP {status}:"
                        f" {_snippet(response.text)}"
                    )
                else:
                    try:
                        data, undecodable = _parse_json(response.content)
                    except ValueError:
                        problem = f"unparsable JSON body ({len(response.content)} bytes)"
                    else:
                        return JsonResponse(
                            data=data,
                            headers=response.headers,
                            links={
                                rel: link["url"]
                                for rel, link in response.links.items()
                                if rel and "url" in link
                            },
                            undecodable=undecodable,
                        )
            attempt += 1
            if attempt >= self.retry.max_attempts:
                raise RequestFailed(
                    f"{self.vendor} {endpoint} failed {attempt} times; last problem: {problem}"
                )
            delay = self.retry.backoff(attempt)
            self.stats.count_retry()
            PROCESS_STATS.count_retry()
            logger.warning(
                "%s: %s; retry %d of %d in %.1fs",
                endpoint,
                problem,
                attempt,
                self.retry.max_attempts - 1,
                delay,
            )
            self._sleep(delay)

    def _send(self, method: str, path: str, params: Optional[Mapping[str, Any]],
              json_body: Any, label: Optional[str] = None) -> httpx.Response:
        """One request, in its turn of the budget, which it hands on once it was written."""
        self.budget.acquire()
        for stats in (self.stats, PROCESS_STATS):
            stats.count_request(label or path.split("?")[0])
        try:
            return self._http.request(method, path, params=params, json=json_body,
                                      extensions={"trace": self._trace})
        finally:
            # a request that failed before it was written hands the turn on here
            self.budget.sent()

    def _trace(self, event: str, info: Mapping[str, Any]) -> None:
        """httpcore's progress events: the vendor's limiter sees the request once it is on
        the wire, whatever holds this thread after."""
        if event.endswith(("send_request_headers.complete", "send_request_body.complete")):
            self.budget.sent()

    def _rate_limit_wait(self, response: httpx.Response, endpoint: str, count: int) -> float:
        if count > self.retry.max_rate_limited:
            raise RequestFailed(
                f"{self.vendor} {endpoint} was still rate limited (429) after {count - 1} waits;"
                " lower requests_per_second or check what else uses this API credential"
            )
        wait = parse_retry_after(response.headers.get("Retry-After"))
        if wait is None:
            wait = self.retry.backoff(count)
        if wait > self.retry.max_retry_after:
            raise RequestFailed(
                f"{self.vendor} {endpoint} asked to wait {wait:.0f}s (Retry-After), longer than"
                f" the {self.retry.max_retry_after:.0f}s this run is willing to wait"
            )
        return wait


def _parse_json(content: bytes) -> tuple[Any, Optional[bytes]]:
    """Parsed JSON, and the raw body if it had to be decoded leniently.

    A body that is complete JSON except for a few bytes that are not UTF-8 (a name written in
    Latin-1 somewhere upstream) is still the vendor's data: it is decoded with U+FFFD in place
    of the bad bytes, and the caller gets the raw body to keep. Retrying would only get the
    same bytes again.
    """
    try:
        # orjson parses pages several times faster; what it refuses (invalid UTF-8, NaN,
        # integers beyond 64 bits, lone surrogates) is left to the standard parser below
        return orjson.loads(content), None
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(content), None
    except UnicodeDecodeError:
        return json.loads(content.decode("utf-8", errors="replace")), content


def _snippet(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"
