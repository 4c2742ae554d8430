"""Errors only the UJET source raises; the shared kinds live in `sources.kit.errors`."""

from __future__ import annotations

from sources.kit.errors import SourceError


class UjetError(SourceError):
    """Root of what the UJET source raises beyond the kit's shared errors."""
