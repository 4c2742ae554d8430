"""Ctrl-C and SIGTERM stop a run cleanly in the middle of a backfill, and the next run is exact."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import pytest

from sources.ujet.sandbox.tenant import TenantSize
from tests.e2e.conftest import Harness
from tests.e2e.exactness import assert_exact
from tests.reliability.conftest import ccelt, start_ccelt

# big enough that a backfill at 25 requests/s takes several seconds and many slices
TENANT = TenantSize(days=7, agents=12, calls=2400, chats=900, emails=300)


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
                         ids=["SIGINT", "SIGTERM"])
def test_a_signal_mid_backfill_stops_fetching_keeps_what_was_loaded_and_the_rerun_is_exact(
        harness, cli_env, tmp_path: Path, signum: int, code: int) -> None:
    h: Harness = harness(size=TENANT, requests_per_second=25, burst=1, max_per=50)
    env = cli_env(h, SOURCES__UJET__REQUESTS_PER_SECOND="25", SOURCES__UJET__PAGE_SIZE="50",
                  SOURCES__UJET__LOAD_EVERY="0.5")
    process = start_ccelt("run", "ujet", env=env, cwd=tmp_path)
    lines: list[str] = []
    loaded_a_slice = threading.Event()

    def read() -> None:
        for line in process.stderr:  # type: ignore[union-attr]
            lines.append(line)
            if "loaded slice 1 " in line:
                loaded_a_slice.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert loaded_a_slice.wait(timeout=120), "".join(lines)
    process.send_signal(signum)
    requests_at_signal = len(h.sandbox.requests)
    # stderr is the reader thread's alone: two readers of one pipe would split its lines
    stdout = process.stdout.read()  # type: ignore[union-attr]
    process.wait(timeout=120)
    reader.join(timeout=10)
    stderr = "".join(lines)
    requests_after_signal = len(h.sandbox.requests) - requests_at_signal

    assert process.returncode == code, stderr
    name = signal.Signals(signum).name
    assert f"interrupted by {name}: kept " in stderr
    assert "Traceback" not in stderr and "generator already executing" not in stderr
    assert "interrupted: stopped fetching when asked" in stdout
    # fetching stopped at once: at most the requests already under way (one per reading
    # resource and the pages read ahead) went out after the signal
    assert requests_after_signal <= 12, requests_after_signal

    rerun = ccelt("run", "ujet", env=env, cwd=tmp_path)

    assert rerun.returncode == 0, rerun.stderr
    assert len(h.sandbox.requests) > requests_at_signal + requests_after_signal
    with h.warehouse() as warehouse:
        assert_exact(warehouse, h.tenant, as_of=None)
