"""The kit's auth strategies and plain-HTTP refusal, against httpx mock transports."""

from __future__ import annotations

import base64
import json
import socket
from urllib.parse import parse_qs

import httpx
import pytest

from sources.kit.auth import HeaderToken, OAuth2ClientCredentials, SessionCookie
from sources.kit.errors import AuthenticationError, ConfigurationError, RequestFailed
from sources.kit.http import ApiClient, RateBudget, RetryPolicy, checked_base_url

BASE = "https://tenant.example.com/api"
TOKEN_URL = "https://login.example.com/oauth/token"


def client(handler, auth: httpx.Auth, **kwargs) -> ApiClient:  # type: ignore[no-untyped-def]
    return ApiClient(BASE, auth, RateBudget(None), vendor="Vendor", auth_hint="check it",
                     transport=httpx.MockTransport(handler), **kwargs)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_header_token_and_static_headers_go_on_every_request_and_not_in_the_repr() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[])

    auth = HeaderToken("api_access_token", "tok-secret-123")
    api = client(handler, auth, headers={"x-api-key": "key-456"})
    api.get("conversations")
    api.get("conversations", {"page": "2"})

    assert [(r.headers["api_access_token"], r.headers["x-api-key"]) for r in seen] == [
        ("tok-secret-123", "key-456")] * 2
    assert "tok-secret-123" not in repr(auth)


def token_endpoint(lifetimes: list[int], basic_ok: bool = True):  # type: ignore[no-untyped-def]
    """A token endpoint that hands out token-1, token-2, ... and records each request."""
    issued: list[dict] = []

    def answer(request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        header = request.headers.get("Authorization", "")
        via_basic = header == "Basic " + base64.b64encode(b"client-a:shh-client-secret").decode()
        via_form = form.get("client_id") == "client-a" and form.get("client_secret") == "shh-client-secret"
        issued.append({"form": form, "basic": via_basic})
        if not ((via_basic and basic_ok) or via_form):
            return httpx.Response(400, json={"error": "invalid_client"})
        number = sum(1 for i in issued if i.get("granted")) + 1
        issued[-1]["granted"] = True
        return httpx.Response(200, json={"access_token": f"token-{number}", "token_type": "bearer",
                                         "expires_in": lifetimes[min(number, len(lifetimes)) - 1]})
    return answer, issued


def test_oauth2_fetches_one_token_with_basic_client_auth_and_reuses_it_until_it_nearly_expires() -> None:
    answer, issued = token_endpoint([3600, 3600])
    bearers: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if str(request.url) == TOKEN_URL:
            return answer(request)
        bearers.append(request.headers["Authorization"])
        return httpx.Response(200, json={"ok": True})

    clock = Clock()
    auth = OAuth2ClientCredentials(TOKEN_URL, "client-a", "shh-client-secret",
                                   scope="emailqueueapi", renew_before=60, clock=clock)
    api = client(handler, auth)
    api.get("emails")
    clock.now += 3600 - 61          # one second before the margin: still the same token
    api.get("emails")
    clock.now += 1                  # inside the last minute of its life: renewed first
    api.get("emails")

    assert bearers == ["Bearer token-1", "Bearer token-1", "Bearer token-2"]
    assert [i["form"] for i in issued] == [{"grant_type": "client_credentials",
                                            "scope": "emailqueueapi"}] * 2
    assert all(i["basic"] for i in issued)
    assert "shh-client-secret" not in repr(auth)


def test_a_short_lived_token_gives_up_a_tenth_of_its_life_not_the_whole_minute() -> None:
    answer, issued = token_endpoint([20, 20])
    bearers: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if str(request.url) == TOKEN_URL:
            return answer(request)
        bearers.append(request.headers["Authorization"])
        return httpx.Response(200, json={"ok": True})

    clock = Clock()
    api = client(handler, OAuth2ClientCredentials(TOKEN_URL, "client-a", "shh-client-secret",
                                                  renew_before=60, clock=clock))
    api.get("emails")
    clock.now += 17.9               # 20 s minus a tenth: still the first token
    api.get("emails")
    clock.now += 0.2
    api.get("emails")

    assert bearers == ["Bearer token-1", "Bearer token-1", "Bearer token-2"]


def test_oauth2_renews_once_on_a_401_and_then_reports_the_apis_refusal() -> None:
    answer, issued = token_endpoint([3600])
    accepted = {"token-2"}
    bearers: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if str(request.url) == TOKEN_URL:
            return answer(request)
        bearers.append(request.headers["Authorization"])
        ok = request.headers["Authorization"].removeprefix("Bearer ") in accepted
        return httpx.Response(200 if ok else 401, json={})

    api = client(handler, OAuth2ClientCredentials(TOKEN_URL, "client-a", "shh-client-secret",
                                                  clock=Clock()))
    api.get("emails")
    assert bearers == ["Bearer token-1", "Bearer token-2"]

    accepted.clear()
    with pytest.raises(AuthenticationError, match="HTTP 401"):
        api.get("emails")
    assert bearers[2:] == ["Bearer token-2", "Bearer token-3"]   # one renewal, not a loop
    assert len(issued) == 3


def test_oauth2_falls_back_to_form_fields_when_basic_client_auth_is_refused_and_keeps_them() -> None:
    answer, issued = token_endpoint([1], basic_ok=False)
    clock = Clock()

    def handler(request: httpx.Request) -> httpx.Response:
        return answer(request) if str(request.url) == TOKEN_URL else httpx.Response(200, json={})

    api = client(handler, OAuth2ClientCredentials(TOKEN_URL, "client-a", "shh-client-secret",
                                                  renew_before=0, clock=clock))
    api.get("emails")
    clock.now += 5
    api.get("emails")

    assert [("client_secret" in i["form"], i.get("granted", False)) for i in issued] == [
        (False, False), (True, True), (True, True)]


def test_oauth2_names_the_token_host_when_the_credentials_are_wrong() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "invalid_client"})

    api = client(handler, OAuth2ClientCredentials(TOKEN_URL, "client-a", "wrong", clock=Clock()))
    with pytest.raises(AuthenticationError, match="login.example.com refused") as error:
        api.get("emails")
    assert "wrong" not in str(error.value)


def test_a_session_cookie_is_signed_in_once_sent_with_its_csrf_header_and_renewed_when_it_dies() -> None:
    sessions = {"live": "s-1"}
    logins: list[str] = []
    posts: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v2/me":
            logins.append(request.headers.get("Authorization", ""))
            if request.headers.get("Authorization") != "Basic " + base64.b64encode(b"agent:pw-789").decode():
                return httpx.Response(401)
            sessions["live"] = f"s-{len(logins)}"
            return httpx.Response(200, json={"user": "agent"}, headers=[
                ("Set-Cookie", f"JSESSIONID={sessions['live']}; Path=/; HttpOnly"),
                ("X-CSRF-HEADER", "X-CSRF-TOKEN"), ("X-CSRF-TOKEN", f"csrf-{sessions['live']}")])
        cookie = request.headers.get("Cookie", "")
        if cookie != f"JSESSIONID={sessions['live']}":
            return httpx.Response(401)
        if request.headers.get("X-CSRF-TOKEN") != f"csrf-{sessions['live']}":
            return httpx.Response(403, json={"message": "Missing or invalid Csrf token"})
        posts.append(json.loads(request.content))
        return httpx.Response(200, json=[{"successful": True}])

    auth = SessionCookie("https://tenant.example.com/api/v2/me", "agent", "pw-789")
    api = client(handler, auth)
    api.post("v2/notifications", [{"channel": "/meta/connect"}])
    api.post("v2/notifications", [{"channel": "/meta/connect", "n": 2}])
    sessions["live"] = "expired"          # the server dropped the session (timeout, failover)
    api.post("v2/notifications", [{"channel": "/meta/connect", "n": 3}])

    assert len(logins) == 2 and auth.generation == 2
    assert [p[0].get("n") for p in posts] == [None, 2, 3]
    assert "pw-789" not in repr(auth)


def test_a_wrong_password_fails_the_sign_in_naming_the_host() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401)

    api = client(handler, SessionCookie("https://tenant.example.com/api/v2/me", "agent", "bad",
                                        hint="check sources.x.password"))
    with pytest.raises(AuthenticationError, match="signing in at tenant.example.com failed.*"
                                                  "check sources.x.password"):
        api.get("v2/me/interactions")


def test_a_sign_in_the_server_fails_is_retried_not_taken_for_a_wrong_password() -> None:
    answers = iter([503, 200])
    logins: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/me"):
            status = next(answers)
            logins.append(status)
            if status != 200:
                return httpx.Response(status, text="<html>Service Unavailable</html>")
            return httpx.Response(200, json={}, headers={"Set-Cookie": "JSESSIONID=abc; Path=/"})
        assert request.headers["Cookie"] == "JSESSIONID=abc"
        return httpx.Response(200, json={"interactions": []})

    auth = SessionCookie("https://tenant.example.com/api/v2/me", "agent", "pw", hint="check x.y")
    api = client(handler, auth, retry=RetryPolicy(max_attempts=3, backoff_base=0.0),
                 sleep=lambda s: None)

    assert api.get("v2/me/interactions").data == {"interactions": []}
    assert logins == [503, 200] and auth.generation == 1


@pytest.mark.parametrize("url", ["http://127.0.0.1:8765/api", "http://localhost/api",
                                 "https://acme.example.com/api/"])
def test_https_and_loopback_base_urls_are_accepted(url: str) -> None:
    assert checked_base_url(url, "sources.x.base_url") == url.rstrip("/")


def test_plain_http_off_this_machine_is_refused_unless_allowed() -> None:
    with pytest.raises(ConfigurationError, match=r"sources.ujet.base_url http://acme.example.com"
                                                 r"/api is plain HTTP.*sources.ujet.allow_insecure_http"):
        checked_base_url("http://acme.example.com/api", "sources.ujet.base_url")
    assert checked_base_url("http://acme.example.com/api", "sources.ujet.base_url",
                            allow_insecure_http=True) == "http://acme.example.com/api"
    with pytest.raises(ConfigurationError, match="must start with https://"):
        checked_base_url("ftp://acme.example.com", "sources.ujet.base_url")


def resolver_failure(code: int, text: str):  # type: ignore[no-untyped-def]
    """A transport whose every request fails to resolve the host as the resolver says."""
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        try:
            raise socket.gaierror(code, text)
        except socket.gaierror as cause:
            raise httpx.ConnectError(f"[Errno {code}] {text}", request=request) from cause
    return handler, calls


def test_a_host_name_that_does_not_exist_fails_after_one_retry_naming_the_host_and_settings() -> None:
    handler, calls = resolver_failure(socket.EAI_NONAME, "Name or service not known")
    api = ApiClient("https://acme-typo.example.com/api", None, RateBudget(None), vendor="UJET",
                    auth_hint="", host_hint="Check sources.ujet.subdomain.",
                    transport=httpx.MockTransport(handler), sleep=lambda s: None,
                    retry=RetryPolicy(max_attempts=6))

    with pytest.raises(RequestFailed) as failed:
        api.get("calls")

    assert len(calls) == 2     # not the 6 attempts of a transient failure
    assert "the host name acme-typo.example.com does not exist" in str(failed.value)
    assert "Check sources.ujet.subdomain." in str(failed.value)


def test_a_resolver_that_cannot_answer_now_is_retried_like_any_connection_failure() -> None:
    handler, calls = resolver_failure(socket.EAI_AGAIN, "Temporary failure in name resolution")
    api = ApiClient("https://acme.example.com/api", None, RateBudget(None), vendor="UJET",
                    auth_hint="", transport=httpx.MockTransport(handler), sleep=lambda s: None,
                    retry=RetryPolicy(max_attempts=4))

    with pytest.raises(RequestFailed, match="connection to acme.example.com failed"):
        api.get("calls")

    assert len(calls) == 4
