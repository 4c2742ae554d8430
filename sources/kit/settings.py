"""Reading the settings every source shares (start date, lookback), with errors that name
the exact key."""

from __future__ import annotations

from typing import Any

import pendulum

from sources.kit.errors import ConfigurationError


def parse_start_date(value: Any, key: str) -> pendulum.DateTime:
    """An ISO 8601 date or time (UTC when it names no zone); `key` names the setting."""
    try:
        parsed = pendulum.parse(str(value), tz="UTC") if not isinstance(value, pendulum.DateTime) else value
    except (ValueError, pendulum.parsing.exceptions.ParserError):
        parsed = None
    if not isinstance(parsed, pendulum.DateTime):
        raise ConfigurationError(
            f"{key} must be an ISO 8601 date or time such as 2024-01-01 or"
            f" 2024-01-01T00:00:00Z, got {value!r}"
        )
    return parsed.in_timezone("UTC")


def parse_lookback(value: Any, key: str) -> float:
    """Seconds from a number or an ISO 8601 duration (`PT10M`); `key` names the setting."""
    seconds: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            seconds = float(text)
        except ValueError:
            try:
                duration = pendulum.parse(text)
                if isinstance(duration, pendulum.Duration):
                    seconds = duration.total_seconds()
            except (ValueError, pendulum.parsing.exceptions.ParserError):
                seconds = None
    if seconds is None or seconds < 0:
        raise ConfigurationError(
            f"{key} must be a number of seconds or an ISO 8601 duration such as PT10M,"
            f" got {value!r}"
        )
    return seconds


def require(condition: bool, message: str) -> None:
    """A configuration error with `message` unless `condition` holds."""
    if not condition:
        raise ConfigurationError(message)


def check_request_settings(section: str, *, requests_per_second: float, timeout: float,
                           max_attempts: int, retry_backoff: float) -> None:
    """The request budget and retry settings every source has, each error naming its key
    under `section` (e.g. `sources.ujet`)."""
    require(requests_per_second > 0,
            f"{section}.requests_per_second must be positive, got {requests_per_second}")
    require(timeout > 0, f"{section}.timeout must be positive, got {timeout}")
    require(max_attempts >= 1, f"{section}.max_attempts must be at least 1, got {max_attempts}")
    require(retry_backoff >= 0,
            f"{section}.retry_backoff must not be negative, got {retry_backoff}")
