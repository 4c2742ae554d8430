"""The transforms' settings, from dlt config under `[transforms]`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dlt

DEFAULT_DATASET = "contact_center"


class SettingsError(ValueError):
    """A `transforms.*` setting is invalid; the message names it."""


@dataclass(frozen=True)
class TransformSettings:
    reporting_timezone: str = "UTC"
    """IANA zone in which local dates and 15-minute intervals are cut."""
    dataset: str = DEFAULT_DATASET
    memory_limit: Optional[str] = None
    """DuckDB's memory limit while building (e.g. `4GB`); None: DuckDB's default, 80 % of the
    machine's memory. Loads run with a smaller one (pipelines/warehouse.py)."""
    long_status_hours: float = 24 * 14
    """A closed status interval longer than this is reported by a warning after the build
    (kept, and counted: an agent may be Offline for weeks; years hint at a stale record)."""

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.reporting_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(
                "transforms.reporting_timezone must be an IANA time zone such as UTC or"
                f" America/New_York, got {self.reporting_timezone!r}") from None
        if not self.dataset.replace("_", "").isalnum():
            raise SettingsError(f"transforms.dataset must be a plain name, got {self.dataset!r}")
        if not self.long_status_hours > 0:
            raise SettingsError("transforms.long_status_hours must be a positive number of hours,"
                                f" got {self.long_status_hours!r}")
        if self.memory_limit is not None and not _MEMORY.fullmatch(self.memory_limit.strip()):
            raise SettingsError("transforms.memory_limit must be an amount such as 4GB or"
                                f" 512MB, got {self.memory_limit!r}")


_MEMORY = re.compile(r"\d+(\.\d+)?\s*([KMGT]i?B|B)", re.IGNORECASE)


def load_settings(dataset: Optional[str] = None) -> TransformSettings:
    """`transforms.reporting_timezone` (env TRANSFORMS__REPORTING_TIMEZONE),
    `transforms.dataset` and `transforms.memory_limit`, with their defaults."""
    timezone = dlt.config.get("transforms.reporting_timezone", str) or "UTC"
    long_status = dlt.config.get("transforms.long_status_hours", float)
    return TransformSettings(
        reporting_timezone=timezone,
        long_status_hours=TransformSettings.long_status_hours if long_status is None else long_status,
        dataset=dataset or dlt.config.get("transforms.dataset", str) or DEFAULT_DATASET,
        memory_limit=dlt.config.get("transforms.memory_limit", str),
    )
