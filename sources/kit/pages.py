"""One page of a list endpoint, and what its Rails-style headers (UJET's) say about the rest."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Optional

from sources.kit.http import JsonResponse
from sources.kit.errors import UnexpectedPayload

Record = dict[str, Any]


@dataclass(frozen=True)
class Page:
    """Records of one page plus the pagination facts the server sends in headers.

    UJET uses Rails-style pagination headers: `Link` (with `rel="next"` while more pages
    follow), `Total` and `Per-Page`. None of them is promised, so each is optional here.
    """

    records: list[Record]
    number: int
    has_next: Optional[bool]
    """True/False when the headers say so; None when the server sent no pagination headers."""
    total: Optional[int]

    @classmethod
    def from_response(cls, response: JsonResponse, number: int, endpoint: str,
                      full_length: int = 0) -> Page:
        """The page from a response; `endpoint` names it in errors, e.g. `UJET GET /calls`.

        `full_length` is the longest page the server has answered for the same page size:
        without headers, a page shorter than that cannot be a full one, so it is the last
        (a page of exactly that length may be full, cut by a silent cap, and says nothing)."""
        if not isinstance(response.data, list):
            raise UnexpectedPayload(
                f"{endpoint} returned a {type(response.data).__name__}, expected a JSON list"
            )
        total = _int_header(response.headers.get("Total"))
        per_page = _int_header(response.headers.get("Per-Page"))
        has_next: Optional[bool]
        if "Link" in response.headers:
            has_next = "next" in response.links
        elif total is not None and per_page:
            has_next = number * per_page < total
        elif len(response.data) < full_length:
            has_next = False
        else:
            has_next = None
        return cls(records=response.data, number=number, has_next=has_next, total=total)


PageFetcher = Callable[[Mapping[str, str]], Page]
"""Fetches one page of a fixed endpoint for the given query parameters."""


def _int_header(value: Optional[str]) -> Optional[int]:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None
