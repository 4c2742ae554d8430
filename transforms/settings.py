"""The transforms' settings, from dlt config under `[transforms]`."""

from __future__ import annotations

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

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.reporting_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(
                "transforms.reporting_timezone must be an IANA time zone such as UTC or"
                f" America/New_York, got {self.reporting_timezone!r}") from None
        if not self.dataset.replace("_", "").isalnum():
            raise SettingsError(f"transforms.dataset must be a plain name, got {self.dataset!r}")


def load_settings(dataset: Optional[str] = None) -> TransformSettings:
    """`transforms.reporting_timezone` (env TRANSFORMS__REPORTING_TIMEZONE) and
    `transforms.dataset`, with their defaults."""
    timezone = dlt.config.get("transforms.reporting_timezone", str) or "UTC"
    return TransformSettings(
        reporting_timezone=timezone,
        dataset=dataset or dlt.config.get("transforms.dataset", str) or DEFAULT_DATASET,
    )
