"""The UJET side of the shared HTTP layer: base URL, credentials, pages of an endpoint."""

from __future__ import annotations

import base64
import logging
import re
import threading
from collections.abc import Mapping
from typing import Any, Optional

import httpx

from sources.kit.auth import basic
from sources.kit.http import ApiClient, JsonResponse, RetryPolicy, checked_base_url, shared_budget
from sources.kit.errors import ConfigurationError, UnexpectedPayload
from sources.kit.pages import Page, PageFetcher, Record
from sources.ujet.settings import API_PATH

logger = logging.getLogger(__name__)

AUTH_HINT = (
    "check sources.ujet.subdomain (the basic-auth username) and sources.ujet.api_token "
    "(Settings > Developer Settings > API Credentials), and that the credential may read "
    "this endpoint"
)
HOST_HINT = (
    "Check sources.ujet.subdomain (the leftmost part of your tenant's address, e.g. acme for"
    " acme.ujet.co), sources.ujet.domain, or sources.ujet.base_url if you set it"
)
_HOST_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", re.IGNORECASE)


def resolve_base_url(subdomain: str, domain: str, base_url: Optional[str],
                     allow_insecure_http: bool = False) -> str:
    """`base_url` when set, else `https://{subdomain}.{domain}/manager/api/v1`."""
    if base_url:
        return checked_base_url(base_url, "sources.ujet.base_url",
                                allow_insecure_http=allow_insecure_http)
    if not domain or " " in domain or "/" in domain:
        raise ConfigurationError(f"sources.ujet.domain must be a host name such as ujet.co, got {domain!r}")
    return f"https://{subdomain}.{domain}{API_PATH}"


def validate_subdomain(subdomain: str) -> str:
    subdomain = (subdomain or "").strip()
    if not _HOST_LABEL.match(subdomain):
        raise ConfigurationError(
            "sources.ujet.subdomain must be your tenant's subdomain (the leftmost part of its"
            f" URL, e.g. 'acme' for acme.ujet.co), got {subdomain!r}"
        )
    return subdomain


class UjetApi:
    """Reads UJET endpoints through one `ApiClient` shared by all resources of a run."""

    def __init__(self, client: ApiClient, page_size: int, longest_page: int = 0) -> None:
        self.client = client
        self.page_size = page_size
        self.longest_page = min(longest_page, page_size)
        """The most records one page of this tenant held at this page size, in this run or
        an earlier one (`page_lengths`): where the server sends no paging headers, a page
        shorter than that is the last, so no empty page has to prove it."""
        self._undecodable: dict[str, list[Record]] = {}
        self._lock = threading.Lock()

    @property
    def requests_per_second(self) -> Optional[float]:
        """The tenant's budget, None when unlimited."""
        interval = self.client.budget.configured_interval
        return 1.0 / interval if interval else None

    def take_undecodable(self, path: str) -> list[Record]:
        """Pages of `path` whose bodies were not valid UTF-8, as quarantine rows (once)."""
        with self._lock:
            return self._undecodable.pop(path, [])

    def _note(self, path: str, query: Mapping[str, Any], response: JsonResponse) -> None:
        if response.undecodable is None:
            return
        logger.warning("GET /%s: the body was not valid UTF-8; loaded with U+FFFD for the bad"
                       " bytes and kept the raw body in the quarantine table", path)
        row = {"reason": "body was not valid UTF-8: records were loaded with U+FFFD in place"
                         " of the bad bytes; payload is the raw body, base64",
               "record_id": None, "request": f"GET /{path} {dict(query)}",
               "payload": base64.b64encode(response.undecodable).decode()}
        with self._lock:
            self._undecodable.setdefault(path, []).append(row)

    @classmethod
    def connect(
        cls,
        subdomain: str,
        api_token: str,
        base_url: str,
        *,
        requests_per_second: Optional[float],
        page_size: int,
        timeout: float,
        retry: RetryPolicy = RetryPolicy(),
        transport: Optional[httpx.BaseTransport] = None,
        longest_page: int = 0,
    ) -> UjetApi:
        if not api_token or not str(api_token).strip():
            raise ConfigurationError(
                "sources.ujet.api_token is empty: set it in .dlt/secrets.toml or as"
                " SOURCES__UJET__API_TOKEN"
            )
        client = ApiClient(
            base_url,
            basic(subdomain, str(api_token)),
            shared_budget((base_url, subdomain), requests_per_second),
            vendor="UJET",
            auth_hint=AUTH_HINT,
            host_hint=HOST_HINT,
            retry=retry,
            timeout=timeout,
            transport=transport,
        )
        return cls(client, page_size, longest_page)

    def page_lengths(self) -> dict[str, int]:
        """What the next run should know of this tenant's pages (resource state)."""
        return {"per": self.page_size, "longest": self.longest_page}

    def fetcher(self, path: str, params: Optional[Mapping[str, str]] = None) -> PageFetcher:
        """A function that fetches one page of `path` for extra query parameters."""
        fixed = {**(params or {}), "per": str(self.page_size)}

        def fetch(query: Mapping[str, str]) -> Page:
            response = self.client.get(path, {**fixed, **query})
            self._note(path, {**fixed, **query}, response)
            page = Page.from_response(response, int(query.get("page", "1")),
                                      f"UJET GET /{path}", full_length=self.longest_page)
            # a longer page only ever raises it, so racing resources cannot lower it
            self.longest_page = max(self.longest_page, len(page.records))
            return page

        return fetch

    def get_list(self, path: str, params: Optional[Mapping[str, Any]] = None) -> list[Record]:
        """GETs an endpoint documented without paging; follows `Link: rel="next"` if sent."""
        records: list[Record] = []
        target: Optional[str] = path
        while target:
            response = self.client.get(target, params if target == path else None)
            self._note(path, params or {}, response)
            if not isinstance(response.data, list):
                raise UnexpectedPayload(
                    f"UJET GET /{path} returned a {type(response.data).__name__},"
                    " expected a JSON list"
                )
            records += response.data
            target = response.links.get("next") if response.data else None
        return records
