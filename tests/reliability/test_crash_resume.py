"""SIGKILL at any moment, twenty times, then one run: the warehouse converges exactly.

Each round the tenant changes a little, a `ccelt run ujet` (load and transforms) starts in
its own process and is killed with SIGKILL after a random delay drawn across a whole run:
while it extracts, normalizes, loads or builds. Then one run is allowed to finish. The raw
tables must equal the tenant and the facts must equal a full rebuild.
"""

from __future__ import annotations

import random
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Optional

from sources.ujet.sandbox.tenant import TenantSize
from tests.e2e.conftest import Harness
from tests.e2e.exactness import assert_exact
from tests.e2e.marts import assert_marts_equal
from tests.reliability.conftest import ccelt, start_ccelt
from transforms.runner import build

KILLS = 20
TENANT = TenantSize(days=2, agents=8, calls=120, chats=60, emails=30)


def test_twenty_kills_at_random_moments_then_one_run_converge_exactly(harness, cli_env, tmp_path: Path) -> None:
    h: Harness = harness(size=TENANT, latency=0.005)
    env = cli_env(h, SOURCES__UJET__PAGE_SIZE="25", TRANSFORMS__REPORTING_TIMEZONE="America/New_York")
    rng = random.Random(20261123)
    assert ccelt("run", "ujet", env=env, cwd=tmp_path).returncode == 0   # the backfill

    stages = []
    for round_number in range(KILLS):
        h.tenant.touch("calls", 5)
        h.tenant.touch("chats", 2)
        if round_number % 3 == 0:
            h.tenant.create("calls", 1)
        if round_number % 4 == 0:
            h.tenant.advance_activity()
        # a quarter of the kills each: while extracting, while normalizing and loading,
        # while building the facts, and at any moment at all
        marker = MARKERS[round_number % len(MARKERS)]
        process = start_ccelt("run", "ujet", env=env, cwd=tmp_path)
        stderr = _kill_after(process, marker, rng.uniform(0, 0.4) if marker else rng.uniform(0.05, 4))
        stages.append(_stage(process.returncode, stderr))

    final = ccelt("run", "ujet", env=env, cwd=tmp_path)

    assert final.returncode == 0, final.stderr
    assert {"extracting", "loading", "building"} <= set(stages), f"a stage was never hit: {stages}"
    with h.warehouse() as warehouse:
        assert_exact(warehouse, h.tenant, as_of=None)
    build(h.pipeline(), h.settings("America/New_York", suffix="_full"), sources=[h.raw_source()],
          full_refresh=True)
    with h.warehouse() as warehouse:
        assert_marts_equal(warehouse)


MARKERS = ("extracting", "agent_activity_logs:", "transforms: building", None)


def _kill_after(process: subprocess.Popen[str], marker: Optional[str], delay: float) -> str:
    """SIGKILLs the process `delay` seconds after it logs `marker` (or after it starts)."""
    lines: list[str] = []
    seen = threading.Event()

    def read() -> None:
        for line in process.stderr:  # type: ignore[union-attr]
            lines.append(line)
            if marker and marker in line:
                seen.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if marker:
        seen.wait(timeout=60)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    reader.join(timeout=10)
    return "".join(lines)


def _stage(returncode: int, stderr: str) -> str:
    """How far the killed run got, from its log."""
    if returncode == 0:
        return "finished"
    if "transforms: building" in stderr:
        return "built" if " build of contact_center" in stderr else "building"
    if "agent_activity_logs:" in stderr and "records in" in stderr:
        return "loading"   # extracted; normalizing or loading
    if "extracting" in stderr:
        return "extracting"
    return "starting"
