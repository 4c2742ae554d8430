"""API faults: bounded retries, then one clear failure; the next run completes what was left."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import Harness
from tests.e2e.exactness import assert_exact
from tests.reliability.conftest import ccelt


@pytest.mark.parametrize("kind, problem", [
    ("503", "last problem: HTTP 503"),
    ("reset", "connection to 127.0.0.1 failed (RemoteProtocolError"),
    ("truncated", "connection to 127.0.0.1 failed (RemoteProtocolError"),
    ("partial_json", "unparsable JSON body"),
    ("html", "unparsable JSON body"),
])
def test_a_burst_longer_than_the_retries_fails_naming_the_endpoint_then_the_next_run_completes(
        harness, cli_env, tmp_path: Path, kind: str, problem: str) -> None:
    h: Harness = harness(fault_every=1, fault_kinds=(kind,))
    env = cli_env(h, SOURCES__UJET__MAX_ATTEMPTS="3")

    failed = ccelt("run", "ujet", "--no-transform", env=env, cwd=tmp_path)

    assert failed.returncode == 1
    line = failed.stderr.strip().splitlines()[-1]
    assert line.startswith("ccelt run ujet failed: UJET GET /")
    assert "failed 3 times" in line and problem in line
    assert "Traceback" not in failed.stderr
    served = [r for r in h.sandbox.requests if r.fault]
    assert served and all(r.fault == kind for r in h.sandbox.requests)

    h.sandbox.options.fault_every = 0
    recovered = ccelt("run", "ujet", "--no-transform", env=env, cwd=tmp_path)

    assert recovered.returncode == 0, recovered.stderr
    with h.warehouse() as warehouse:
        assert_exact(warehouse, h.tenant, as_of=None)


def test_a_failure_in_the_middle_of_a_resource_loads_nothing_half_and_loses_nothing(
        harness, cli_env, tmp_path: Path) -> None:
    h: Harness = harness(max_per=20)
    env = cli_env(h, SOURCES__UJET__MAX_ATTEMPTS="2", SOURCES__UJET__PAGE_SIZE="20")
    assert ccelt("run", "ujet", "--no-transform", env=env, cwd=tmp_path).returncode == 0
    h.tenant.touch("calls", 60)
    h.tenant.create("chats", 5)
    # from the fifth request on, every third one fails for good: resources die half way
    h.sandbox.options.fault_every = 3
    h.sandbox.options.fault_kinds = ("500",)
    h.sandbox.reset_log()

    failed = ccelt("run", "ujet", "--no-transform", env=env, cwd=tmp_path)
    h.sandbox.options.fault_every = 0
    recovered = ccelt("run", "ujet", "--no-transform", env=env, cwd=tmp_path)

    assert failed.returncode == 1 and recovered.returncode == 0, recovered.stderr
    with h.warehouse() as warehouse:
        assert_exact(warehouse, h.tenant, as_of=None)


def test_slow_answers_time_out_and_are_retried_then_fail_clearly(harness, cli_env, tmp_path: Path) -> None:
    h: Harness = harness(latency=1.5)
    env = cli_env(h, SOURCES__UJET__TIMEOUT="0.3", SOURCES__UJET__MAX_ATTEMPTS="2")

    result = ccelt("run", "ujet", "--no-transform", "--resources", "user_statuses", env=env, cwd=tmp_path)

    assert result.returncode == 1
    assert "UJET GET /user_statuses failed 2 times; last problem: timed out" in result.stderr


def test_a_429_storm_is_waited_out_a_bounded_number_of_times(harness, cli_env, tmp_path: Path) -> None:
    # the tenant refuses almost everything and asks for a short wait each time
    h: Harness = harness(requests_per_second=0.001, burst=1, retry_after=0.01)

    result = ccelt("run", "ujet", "--no-transform", "--resources", "user_statuses,agents",
                   env=cli_env(h), cwd=tmp_path)

    assert result.returncode == 1
    assert "was still rate limited (429) after 30 waits" in result.stderr
    refused = [r for r in h.sandbox.requests if r.status == 429]
    assert 31 <= len(refused) <= 62  # one endpoint gave up; the other may have got as far
