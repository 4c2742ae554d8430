"""The errors every source raises, under one root, so the CLI can tell them apart.

A vendor adds its own subclasses of `SourceError` (e.g. `UjetError`) for what only it can
get wrong; the kinds below mean the same for every vendor.
"""

from __future__ import annotations


class SourceError(Exception):
    """Root of every error a source or the kit raises itself."""


class ConfigurationError(SourceError, ValueError):
    """A `sources.<name>.*` setting is missing or invalid; the message names the key."""


class PaginationError(SourceError):
    """The server's paging cannot be read completely (e.g. it ignores `page`)."""


class UnexpectedPayload(SourceError):
    """An endpoint answered with JSON of the wrong shape."""


class HttpError(SourceError):
    """Root of every error the HTTP layer raises."""


class AuthenticationError(HttpError):
    """The vendor refused the credentials (401/403). Retrying cannot help."""


class RequestFailed(HttpError):
    """A request failed for good: a non-retryable status, or retries ran out."""
