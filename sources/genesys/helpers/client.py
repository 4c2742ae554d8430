"""The Genesys side of the shared HTTP layer: a GWS session (Basic sign-in, cookie, CSRF)
and the Bayeux requests of a CometD long-polling client.

Two `ApiClient`s share the session: one for lists, retried like every source's reads, and
one for CometD whose requests are tried once, because the listener must see a failed
connect (it lists the interactions again after one) and decide itself how to go on.
"""

from __future__ import annotations

import itertools
from typing import Any, Optional

import httpx

from sources.genesys.settings import CONNECTION_TYPE, INTERACTIONS_PATH, ME_PATH, NOTIFICATIONS_PATH
from sources.kit.auth import SessionCookie
from sources.kit.errors import ConfigurationError, UnexpectedPayload
from sources.kit.http import ApiClient, RetryPolicy, checked_base_url, shared_budget

AUTH_HINT = ("check sources.genesys.username and sources.genesys.password (the user must be"
             " able to sign in to Workspace Web Edition)")
HOST_HINT = "Check sources.genesys.base_url"


class GwsApi:
    """One user's GWS session: lists and CometD."""

    def __init__(self, reads: ApiClient, comet: ApiClient, auth: SessionCookie) -> None:
        self.reads, self.comet, self.auth = reads, comet, auth
        self._ids = itertools.count(1)

    @classmethod
    def connect(cls, *, base_url: str, username: str, password: str, timeout: float,
                allow_insecure_http: bool = False, retry: RetryPolicy = RetryPolicy(),
                transport: Optional[httpx.BaseTransport] = None) -> GwsApi:
        for setting, value in (("username", username), ("password", password)):
            if not value or not str(value).strip():
                raise ConfigurationError(
                    f"sources.genesys.{setting} is empty: set it in .dlt/"
                    f"{'secrets' if setting == 'password' else 'config'}.toml or as"
                    f" SOURCES__GENESYS__{setting.upper()}")
        root = checked_base_url(str(base_url or "").strip(), "sources.genesys.base_url",
                                allow_insecure_http=allow_insecure_http)
        auth = SessionCookie(f"{root}/{ME_PATH}", str(username).strip(), str(password),
                             hint=AUTH_HINT)
        budget = shared_budget((root, "genesys"), None)
        common: dict[str, Any] = dict(vendor="Genesys", auth_hint=AUTH_HINT, host_hint=HOST_HINT,
                                      timeout=timeout, transport=transport)
        reads = ApiClient(root, auth, budget, retry=retry, **common)
        comet = ApiClient(root, auth, budget, retry=RetryPolicy(max_attempts=1), **common)
        return cls(reads, comet, auth)

    def close(self) -> None:
        self.reads.close()
        self.comet.close()

    @property
    def generation(self) -> int:
        """Sign-ins so far: a CometD client of an earlier session is dead."""
        return self.auth.generation

    def me(self) -> dict[str, Any]:
        data = self.reads.get(ME_PATH).data
        return data if isinstance(data, dict) else {}

    def interactions(self) -> list[Any]:
        """The interactions in the user's list now, in the notification shape."""
        data = self.reads.get(INTERACTIONS_PATH, {"fields": "*"}).data
        if not isinstance(data, dict) or not isinstance(data.get("interactions"), list):
            raise UnexpectedPayload(
                f"GET {INTERACTIONS_PATH}?fields=* did not answer {{\"interactions\": [...]}}:"
                f" {str(data)[:200]}")
        return list(data["interactions"])

    def bayeux(self, *messages: dict[str, Any]) -> list[dict[str, Any]]:
        """One POST of Bayeux messages; the answer's messages."""
        body = [dict(m, id=str(next(self._ids))) for m in messages]
        data = self.comet.post(NOTIFICATIONS_PATH, body).data
        if isinstance(data, dict):
            data = [data]
        if not isinstance(data, list):
            raise UnexpectedPayload(f"CometD answered {str(data)[:200]}")
        return [m for m in data if isinstance(m, dict)]

    def handshake(self) -> list[dict[str, Any]]:
        return self.bayeux({"channel": "/meta/handshake", "version": "1.0",
                            "minimumVersion": "1.0",
                            "supportedConnectionTypes": [CONNECTION_TYPE]})

    def subscribe(self, client_id: str, channels: list[str]) -> list[dict[str, Any]]:
        return self.bayeux(*({"channel": "/meta/subscribe", "clientId": client_id,
                              "subscription": channel} for channel in channels))

    def poll(self, client_id: str) -> list[dict[str, Any]]:
        return self.bayeux({"channel": "/meta/connect", "clientId": client_id,
                            "connectionType": CONNECTION_TYPE})

    def disconnect(self, client_id: str) -> None:
        self.bayeux({"channel": "/meta/disconnect", "clientId": client_id})
