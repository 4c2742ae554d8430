"""Errors of the UJET source. HTTP failures come from `sources._http` (root `HttpError`)."""

from __future__ import annotations


class UjetError(Exception):
    """Root of every error the UJET source raises itself."""


class ConfigurationError(UjetError, ValueError):
    """A `sources.ujet.*` setting is missing or invalid; the message names the key."""


class PaginationError(UjetError):
    """The server's paging cannot be read completely (e.g. it ignores `page`)."""


class UnexpectedPayload(UjetError):
    """An endpoint answered with JSON of the wrong shape."""
