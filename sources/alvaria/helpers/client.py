"""The Alvaria side of the shared HTTP layer: the organisation's API root, its OAuth2 token
and API key, and one page of the e-mail list."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

import httpx

from sources.alvaria.settings import EMAILS_PATH, TOKEN_SCOPE
from sources.kit.auth import OAuth2ClientCredentials
from sources.kit.errors import ConfigurationError, UnexpectedPayload
from sources.kit.http import ApiClient, RetryPolicy, checked_base_url, shared_budget
from sources.kit.pages import Record

AUTH_HINT = ("HTTP 403 is the API gateway refusing sources.alvaria.api_key (sent as x-api-key);"
             " HTTP 401 with a fresh token means the token of sources.alvaria.client_id is not"
             " valid for this organisation (check sources.alvaria.org_id and base_url)")
TOKEN_HINT = ("check sources.alvaria.client_id, sources.alvaria.client_secret and"
              " sources.alvaria.token_url")
HOST_HINT = "Check sources.alvaria.org_id and sources.alvaria.base_url"


def organisation_root(base_url: str, org_id: Any, allow_insecure_http: bool = False) -> str:
    """The API root of the organisation, `{org_id}` filled in; both settings checked."""
    org = str(org_id or "").strip()
    if not org or "/" in org or " " in org:
        raise ConfigurationError(
            "sources.alvaria.org_id must be your organisation's name in Alvaria Cloud (the"
            f" first label of https://<org_id>.via.aspect-cloud.net), got {org_id!r}")
    url = base_url.replace("{org_id}", org)
    root = checked_base_url(url, "sources.alvaria.base_url",
                            allow_insecure_http=allow_insecure_http)
    if root.endswith("/emailQueue/emails") or root.endswith("/emailQueue"):
        raise ConfigurationError(
            "sources.alvaria.base_url ends at the organisation (…/via/v2/organizations/<org_id>);"
            f" ccelt adds /{EMAILS_PATH}, got {base_url!r}")
    return root


class AlvariaApi:
    """Reads one organisation's e-mail list through one `ApiClient`."""

    def __init__(self, client: ApiClient, auth: OAuth2ClientCredentials,
                 extended_info: bool) -> None:
        self.client = client
        self.auth = auth
        self.extended_info = extended_info

    @classmethod
    def connect(cls, *, org_id: Any, base_url: str, token_url: str, client_id: str,
                client_secret: str, api_key: str, requests_per_second: Optional[float],
                timeout: float, extended_info: bool = True, retry: RetryPolicy = RetryPolicy(),
                allow_insecure_http: bool = False,
                transport: Optional[httpx.BaseTransport] = None) -> AlvariaApi:
        for setting, value in (("token_url", token_url), ("client_id", client_id),
                               ("client_secret", client_secret), ("api_key", api_key)):
            if not value or not str(value).strip():
                raise ConfigurationError(
                    f"sources.alvaria.{setting} is empty: set it in .dlt/"
                    f"{'secrets' if setting in ('client_secret', 'api_key') else 'config'}.toml"
                    f" or as SOURCES__ALVARIA__{setting.upper()}")
        root = organisation_root(base_url, org_id, allow_insecure_http)
        token = checked_base_url(str(token_url).strip(), "sources.alvaria.token_url",
                                 allow_insecure_http=allow_insecure_http)
        auth = OAuth2ClientCredentials(token, str(client_id).strip(), str(client_secret).strip(),
                                       scope=TOKEN_SCOPE, hint=TOKEN_HINT)
        client = ApiClient(root, auth, shared_budget((root, "alvaria"), requests_per_second),
                           vendor="Alvaria", auth_hint=AUTH_HINT, host_hint=HOST_HINT,
                           headers={"x-api-key": str(api_key).strip()}, retry=retry,
                           timeout=timeout, transport=transport)
        return cls(client, auth, extended_info)

    def page(self, start_index: int, max_results: int,
             filters: Optional[Mapping[str, Any]] = None) -> tuple[list[Record], Optional[int]]:
        """One page of the list: its items and its `totalItems` (None if the answer has none)."""
        params: dict[str, Any] = {"startIndex": str(start_index), "maxResults": str(max_results)}
        if self.extended_info:
            params["getExtendedInfo"] = "true"
        params.update(filters or {})
        body = self.client.get(EMAILS_PATH, params).data
        if not isinstance(body, dict) or not isinstance(body.get("items", []), list):
            raise UnexpectedPayload(
                f"Alvaria GET /{EMAILS_PATH} returned {type(body).__name__} without an items"
                " list, expected {\"kind\": \"via#emailList\", \"totalItems\": ..., \"items\": [...]}")
        total = body.get("totalItems")
        try:
            total = int(total) if total is not None else None
        except (TypeError, ValueError):
            total = None
        return list(body.get("items") or []), total
