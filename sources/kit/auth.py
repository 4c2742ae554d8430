"""How a source proves who it is: one `httpx.Auth` per vendor scheme.

Each strategy is an httpx auth flow, so the client, its budget and its retries stay the same
for every vendor and only this object changes:

* `basic` (UJET): HTTP Basic on every request.
* `HeaderToken` (Chatwoot's `api_access_token`): a secret in a header of its own.
* `OAuth2ClientCredentials` (Alvaria): a bearer token from a token endpoint, cached, renewed
  before it expires and once when the API answers 401 (revoked early, clock skew).
* `SessionCookie` (Genesys Workspace): sign in once with Basic, then send the session cookie
  and the CSRF header the sign-in returned; sign in again once when the session dies.

dlt's `rest_client.auth` has bearer, API-key, basic and OAuth2 classes, but they are
`requests` auth objects and this kit speaks httpx (docs/decisions.md, "Auth strategies").
None of these classes keeps a secret in its repr.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator, Mapping
from typing import Any, Optional

import httpx

from sources.kit.errors import AuthenticationError

logger = logging.getLogger(__name__)


def basic(username: str, password: str) -> httpx.Auth:
    """HTTP Basic on every request."""
    return httpx.BasicAuth(username, password)


class HeaderToken(httpx.Auth):
    """A secret sent as the value of one header, e.g. `api_access_token: <token>`."""

    def __init__(self, header: str, token: str) -> None:
        self.header = header
        self._token = token

    def __repr__(self) -> str:
        return f"HeaderToken(header={self.header!r}, token=***)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[self.header] = self._token
        yield request


class OAuth2ClientCredentials(httpx.Auth):
    """OAuth2's client-credentials grant with a cached bearer token.

    The client authenticates to `token_url` with HTTP Basic, as RFC 6749 section 2.3.1 asks
    servers to accept; a server that refuses it (400 `invalid_client` or 401) is asked again
    with `client_id` and `client_secret` as form fields, and the working way is kept. The token
    is renewed `renew_before` seconds before `expires_in` runs out, and once more when the API
    answers 401 anyway; a second 401 is the API's answer.

    Args:
        token_url: the tenant's token endpoint.
        scope: the scope asked for, e.g. `emailqueueapi`.
        renew_before: seconds of a token's life given up to avoid using it as it expires.
        hint: what to check when the token endpoint refuses, naming the vendor's settings.
        clock: `time.monotonic` (tests pass their own).
    """

    requires_response_body = True

    def __init__(self, token_url: str, client_id: str, client_secret: str, *,
                 scope: Optional[str] = None, renew_before: float = 60.0,
                 hint: str = "check client_id, client_secret and token_url",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = client_secret
        self.scope = scope
        self.renew_before = renew_before
        self.hint = hint
        self._clock = clock
        self._token: Optional[str] = None
        self._expires_at = 0.0
        self._form_credentials = False
        """True once the server refused Basic client authentication and took form fields."""
        self._lock = threading.Lock()
        self.tokens_fetched = 0

    def __repr__(self) -> str:
        return (f"OAuth2ClientCredentials(token_url={self.token_url!r},"
                f" client_id={self.client_id!r}, client_secret=***)")

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        # a sync flow runs in its caller's thread from start to end, so the lock may be held
        # across the token request: parallel resources wait for one token, not fetch many
        with self._lock:
            if self._token is None or self._clock() >= self._expires_at:
                yield from self._fetch_token()
            token = self._token
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code != 401:
            return
        with self._lock:
            if self._token == token:   # nobody renewed it meanwhile
                logger.info("the API refused the bearer token (401); fetching a new one")
                yield from self._fetch_token()
            token = self._token
        request.headers["Authorization"] = f"Bearer {token}"
        yield request

    def _fetch_token(self) -> Generator[httpx.Request, httpx.Response, None]:
        response = yield self._token_request(form=self._form_credentials)
        if not self._form_credentials and (response.status_code == 401 or (
                response.status_code == 400 and "invalid_client" in response.text)):
            logger.info("the token endpoint refused HTTP Basic client authentication;"
                        " sending the client credentials as form fields")
            response = yield self._token_request(form=True)
            if response.status_code == 200:
                self._form_credentials = True
        if response.status_code != 200:
            raise AuthenticationError(
                f"the OAuth2 token endpoint {httpx.URL(self.token_url).host} refused the client"
                f" credentials (HTTP {response.status_code}): {self.hint}")
        try:
            body = response.json()
            token = str(body["access_token"])
            lifetime = float(body.get("expires_in") or 3600)
        except (ValueError, KeyError, TypeError):
            raise AuthenticationError(
                f"the OAuth2 token endpoint {httpx.URL(self.token_url).host} answered without"
                " an access_token") from None
        self._token = token
        # a short-lived token (minutes) gives up a tenth of its life, not a whole minute
        self._expires_at = self._clock() + lifetime - min(self.renew_before, lifetime / 10)
        self.tokens_fetched += 1

    def _token_request(self, *, form: bool) -> httpx.Request:
        data = {"grant_type": "client_credentials"}
        if self.scope:
            data["scope"] = self.scope
        headers = {"Accept": "application/json"}
        if form:
            data.update(client_id=self.client_id, client_secret=self._client_secret)
        else:
            headers["Authorization"] = httpx.BasicAuth(
                self.client_id, self._client_secret)._auth_header
        return httpx.Request("POST", self.token_url, data=data, headers=headers)


class SessionCookie(httpx.Auth):
    """A server-side session: sign in with Basic once, then send its cookie and CSRF header.

    The sign-in is a GET of `login_url` with HTTP Basic; the answer sets the session cookie
    (e.g. `JSESSIONID`) and may name a CSRF header (`X-CSRF-HEADER: X-CSRF-TOKEN`) and its value
    (`X-CSRF-TOKEN: ...`), sent on every later request. When the session dies (timeout,
    failover) the API answers 401, or 403 for a CSRF token of the dead session: this signs in
    again once and repeats the request. `generation` counts sign-ins, so a caller holding
    session-bound state (a CometD client id) knows when it must start over.
    """

    requires_response_body = True
    RENEW_ON = (401, 403)

    def __init__(self, login_url: str, username: str, password: str,
                 hint: str = "check the username and password") -> None:
        self.login_url = login_url
        self.username = username
        self.hint = hint
        self._basic = httpx.BasicAuth(username, password)
        self._headers: dict[str, str] = {}
        self._lock = threading.Lock()
        self.generation = 0

    def __repr__(self) -> str:
        return f"SessionCookie(login_url={self.login_url!r}, username={self.username!r}, password=***)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        with self._lock:
            if not self._headers and not (yield from self._sign_in()):
                return   # the server failed the sign-in (5xx, 429): its answer is this one's
            generation, headers = self.generation, dict(self._headers)
        request.headers.update(headers)
        response = yield request
        if response.status_code not in self.RENEW_ON:
            return
        with self._lock:
            if self.generation == generation:
                logger.info("the session ended (HTTP %d); signing in again", response.status_code)
                self._headers = {}
                if not (yield from self._sign_in()):
                    return
            headers = dict(self._headers)
        request.headers.update(headers)
        yield request

    def _sign_in(self) -> Generator[httpx.Request, httpx.Response, bool]:
        """Signs in; False when the server failed (not refused) it, so that the caller's
        retries try again: a 503 during a failover says nothing about the password."""
        login = httpx.Request("GET", self.login_url, headers={"Accept": "application/json"})
        response = yield next(self._basic.auth_flow(login))
        if response.status_code >= 500 or response.status_code == 429:
            logger.info("signing in at %s failed (HTTP %d); the request is retried",
                        httpx.URL(self.login_url).host, response.status_code)
            return False
        if response.status_code != 200:
            raise AuthenticationError(
                f"signing in at {httpx.URL(self.login_url).host} failed (HTTP"
                f" {response.status_code}): {self.hint}")
        cookies = _set_cookies(response.headers)
        if not cookies:
            raise AuthenticationError(
                f"signing in at {httpx.URL(self.login_url).host} set no session cookie")
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
        csrf_name = response.headers.get("X-CSRF-HEADER")
        csrf_value = response.headers.get("X-CSRF-TOKEN")
        if csrf_name and csrf_value:
            headers[csrf_name] = csrf_value
        self._headers = headers
        self.generation += 1
        return True


def _set_cookies(headers: Mapping[str, Any]) -> dict[str, str]:
    cookies: dict[str, str] = {}
    for value in headers.get_list("set-cookie") if hasattr(headers, "get_list") else []:
        name, _, rest = value.partition("=")
        cookies[name.strip()] = rest.split(";", 1)[0].strip()
    return cookies
