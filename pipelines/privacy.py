"""What ccelt sends anywhere but the vendor's API and the warehouse: nothing, by default."""

from __future__ import annotations

import os

TELEMETRY_KEY = "RUNTIME__DLTHUB_TELEMETRY"


def no_telemetry_unless_asked() -> None:
    """Turns dlt's anonymous usage telemetry off unless the user configured it.

    dlt sends it to its vendor on every pipeline run by default. A tool that handles
    contact-center data must not call home without being asked, wherever it runs from, so
    the default is set here (before any pipeline starts) as well as in `.dlt/config.toml`,
    which is only read from the project folder. A user who sets `[runtime]
    dlthub_telemetry` (or the environment variable) keeps their choice.
    """
    if TELEMETRY_KEY in os.environ:
        return
    import dlt
    from dlt.common.runtime import telemetry

    # reading dlt's config starts its runtime, and with it the telemetry of its defaults
    if dlt.config.get("runtime.dlthub_telemetry") is None:
        os.environ[TELEMETRY_KEY] = "false"
        # stopped before it sent anything; dlt starts it again on its next tracked command,
        # from the configuration that now says no
        telemetry.stop_telemetry()
