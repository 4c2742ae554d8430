"""The Chatwoot side of the shared HTTP layer: the account's API root, its token, its lists."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Optional

import httpx

from sources.kit.auth import HeaderToken
from sources.kit.errors import ConfigurationError, UnexpectedPayload
from sources.kit.http import ApiClient, RetryPolicy, checked_base_url, shared_budget
from sources.kit.pages import Record
from sources.chatwoot.settings import (
    CONVERSATIONS_PATH,
    MESSAGE_ID_CEILING,
    MESSAGES_PATH,
    THREAD_CHUNK,
)

AUTH_HINT = ("check sources.chatwoot.api_access_token (Profile settings > Access Token of a user"
             " who can see every inbox) and sources.chatwoot.account_id")
HOST_HINT = "Check sources.chatwoot.base_url (e.g. https://app.chatwoot.com or your own host)"


def account_root(base_url: str, account_id: Any, allow_insecure_http: bool = False) -> str:
    """`{base_url}/api/v1/accounts/{account_id}`, with both settings checked."""
    try:
        number = int(str(account_id).strip())
    except ValueError:
        number = 0
    if number < 1:
        raise ConfigurationError(
            "sources.chatwoot.account_id must be the account's number (the digits after"
            f" /app/accounts/ in Chatwoot's address bar), got {account_id!r}")
    root = checked_base_url(base_url, "sources.chatwoot.base_url",
                            allow_insecure_http=allow_insecure_http).rstrip("/")
    if root.endswith("/api/v1") or "/accounts/" in root:
        raise ConfigurationError(
            "sources.chatwoot.base_url is the instance's address alone (e.g."
            f" https://app.chatwoot.com); ccelt adds /api/v1/accounts/{{account_id}}, got {base_url!r}")
    return f"{root}/api/v1/accounts/{number}"


class ChatwootApi:
    """Reads one account's conversations and messages through one `ApiClient`."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client

    @classmethod
    def connect(cls, base_url: str, account_id: Any, api_access_token: str, *,
                requests_per_second: Optional[float], timeout: float,
                retry: RetryPolicy = RetryPolicy(), allow_insecure_http: bool = False,
                transport: Optional[httpx.BaseTransport] = None) -> ChatwootApi:
        if not api_access_token or not str(api_access_token).strip():
            raise ConfigurationError(
                "sources.chatwoot.api_access_token is empty: set it in .dlt/secrets.toml or as"
                " SOURCES__CHATWOOT__API_ACCESS_TOKEN")
        root = account_root(base_url, account_id, allow_insecure_http)
        client = ApiClient(
            root, HeaderToken("api_access_token", str(api_access_token).strip()),
            shared_budget((root, "chatwoot"), requests_per_second), vendor="Chatwoot",
            auth_hint=AUTH_HINT, host_hint=HOST_HINT, retry=retry, timeout=timeout,
            transport=transport)
        return cls(client)

    @property
    def requests_per_second(self) -> Optional[float]:
        interval = self.client.budget.configured_interval
        return 1.0 / interval if interval else None

    def conversations(self, params: Mapping[str, Any], *,
                      label: str = CONVERSATIONS_PATH) -> tuple[list[Record], dict[str, Any]]:
        """One answer of the conversation list: its rows and its `meta` counts."""
        response = self.client.get(CONVERSATIONS_PATH, params, label=label)
        body = response.data
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or not isinstance(data.get("payload"), list):
            raise UnexpectedPayload(
                f"Chatwoot GET /{CONVERSATIONS_PATH} returned {type(body).__name__} without"
                " data.payload, expected {\"data\": {\"meta\": ..., \"payload\": [...]}}")
        meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
        return data["payload"], meta

    def page(self, number: int, params: Mapping[str, Any], *,
             label: str = CONVERSATIONS_PATH) -> tuple[list[Record], dict[str, Any]]:
        return self.conversations({**params, "page": str(number)}, label=label)

    def thread(self, display_id: int) -> Iterator[list[Record]]:
        """Every message of a conversation, oldest first, 1,000 a request.

        `after` and `before` together return the ids in [after, before), created-at order,
        at most 1,000 (`MessageFinder#messages_between`); Chatwoot's message ids and creation
        times rise together, so the next chunk starts after the highest id read.
        """
        after = 0
        path = MESSAGES_PATH.format(id=display_id)
        while True:
            response = self.client.get(path, {"after": str(after), "before": str(MESSAGE_ID_CEILING)},
                                       label=MESSAGES_PATH)
            body = response.data
            payload = body.get("payload") if isinstance(body, dict) else None
            if not isinstance(payload, list):
                raise UnexpectedPayload(
                    f"Chatwoot GET /{path} returned {type(body).__name__} without a payload"
                    " list, expected {\"meta\": ..., \"payload\": [...]}")
            if payload:
                yield payload
            ids = [m["id"] for m in payload if isinstance(m, dict) and isinstance(m.get("id"), int)]
            if len(payload) < THREAD_CHUNK or not ids:
                return
            after = max(ids) + 1
