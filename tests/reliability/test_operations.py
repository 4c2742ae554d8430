"""Running for a year: secrets stay secret, runs do not overlap, a rejected package is loud,
and every configuration mistake is one clear line."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import duckdb
import pytest

from tests.e2e.conftest import Harness
from tests.e2e.exactness import assert_exact
from tests.reliability.conftest import ccelt, start_ccelt


def found_in(places: list[bytes], secret: str) -> bool:
    return any(secret.encode() in place for place in places)


def everything_written(tmp_path: Path, *outputs: str) -> list[bytes]:
    """Output, logs and every file the runs left: dlt's working dir, state, trace, warehouse."""
    files = [p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()]
    return [o.encode() for o in outputs] + files


def test_the_token_is_nowhere_after_a_failing_and_a_succeeding_run(harness, cli_env, tmp_path: Path) -> None:
    h: Harness = harness()
    token = h.sandbox.options.api_token
    basic = base64.b64encode(f"{h.sandbox.options.subdomain}:{token}".encode()).decode()
    env = cli_env(h, SOURCES__UJET__MAX_ATTEMPTS="2")
    h.sandbox.options.fault_every = 1   # every answer a 503: the run fails after its retries

    failing = ccelt("--debug", "run", "ujet", env=env, cwd=tmp_path)
    h.sandbox.options.fault_every = 0
    succeeding = ccelt("--debug", "run", "ujet", env=env, cwd=tmp_path)

    assert failing.returncode == 1 and succeeding.returncode == 0, succeeding.stderr
    assert "Traceback" in failing.stderr   # --debug shows the trace, and still no token
    written = everything_written(tmp_path, failing.stdout, failing.stderr, succeeding.stdout,
                                 succeeding.stderr)
    assert not found_in(written, token) and not found_in(written, basic)


def test_a_second_run_while_one_is_active_exits_at_once_and_the_first_finishes(
        harness, cli_env, tmp_path: Path) -> None:
    h: Harness = harness(latency=0.05)   # a first run that takes a few seconds
    env = cli_env(h)

    h.mark()
    first = start_ccelt("run", "ujet", env=env, cwd=tmp_path)
    deadline = time.monotonic() + 30
    while not any(r.path == "calls" for r in h.sandbox.requests) and time.monotonic() < deadline:
        time.sleep(0.05)
    started = time.monotonic()
    second = ccelt("run", "ujet", env=env, cwd=tmp_path)
    waited = time.monotonic() - started
    first_out, first_err = first.communicate(timeout=120)

    assert second.returncode == 6
    assert "another ccelt run of pipeline 'ujet' is in progress (pid" in second.stderr
    assert waited < 15, "the second run should give up at once, not wait for the first"
    assert first.returncode == 0, first_err
    with h.warehouse() as warehouse:
        assert_exact(warehouse, h.tenant, as_of=h.run_began())


def test_a_killed_run_does_not_leave_the_lock_behind(harness, cli_env, tmp_path: Path) -> None:
    h: Harness = harness(latency=0.05)
    env = cli_env(h)
    first = start_ccelt("run", "ujet", env=env, cwd=tmp_path)
    deadline = time.monotonic() + 30
    while not h.sandbox.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    first.kill()
    first.wait(timeout=30)

    after = ccelt("run", "ujet", env=env, cwd=tmp_path)

    assert after.returncode == 0, after.stderr


def test_a_package_the_warehouse_rejects_is_loud_and_the_next_run_after_the_fix_loses_nothing(
        harness, cli_env, tmp_path: Path) -> None:
    h: Harness = harness()
    env = cli_env(h, SOURCES__UJET__LOOKBACK="0")
    assert ccelt("run", "ujet", "--no-transform", env=env, cwd=tmp_path).returncode == 0
    # someone changes a column in the warehouse by hand; the next loads cannot go in
    with duckdb.connect(str(h.database)) as warehouse:
        warehouse.execute("alter table ujet.calls drop column lang")
        warehouse.execute("alter table ujet.calls add column lang integer")
    touched = h.tenant.touch("calls", 8)

    rejected = ccelt("run", "ujet", "--no-transform", env=env, cwd=tmp_path)
    again = ccelt("run", "ujet", "--no-transform", env=env, cwd=tmp_path)

    for result in (rejected, again):   # every run says so; none silently moves on
        assert result.returncode == 7, result.stderr
        assert "the warehouse rejected load package" in result.stderr
        assert "for table calls" in result.stderr and "INT32" in result.stderr
        assert "cursors rewound" in result.stderr
    with duckdb.connect(str(h.database)) as warehouse:   # the operator's fix: the type back
        warehouse.execute("alter table ujet.calls drop column lang")
        warehouse.execute("alter table ujet.calls add column lang varchar")
    fixed = ccelt("run", "ujet", "--no-transform", env=env, cwd=tmp_path)

    assert fixed.returncode == 0, fixed.stderr
    with duckdb.connect(str(h.database)) as warehouse:
        loaded = dict(warehouse.execute(
            "select id, lang from ujet.calls where id in (select unnest(?))", [touched]).fetchall())
    # the records of the rejected package were read again and loaded, lang and all
    assert loaded == {i: h.tenant.record("calls", i)["lang"] for i in touched}


@pytest.mark.parametrize("setting, value, words", [
    ("SOURCES__UJET__SUBDOMAIN", "", "sources.ujet.subdomain"),
    ("SOURCES__UJET__API_TOKEN", "", "sources.ujet.api_token"),
    ("SOURCES__UJET__BASE_URL", "ftp://example.com/api", "sources.ujet.base_url"),
    ("DESTINATION__WAREHOUSE__DESTINATION_TYPE", "snowflakes", "unknown warehouse engine 'snowflakes'"),
    ("TRANSFORMS__REPORTING_TIMEZONE", "Europe/Atlantis", "transforms.reporting_timezone"),
    ("SOURCES__UJET__PII", "blur", "sources.ujet.pii must be keep, hash or drop"),
])
def test_each_configuration_mistake_is_one_clear_line(harness, cli_env, tmp_path: Path,
                                                      setting: str, value: str, words: str) -> None:
    h: Harness = harness()
    env = cli_env(h, **{setting: value})
    if not value:
        env.pop(setting)

    result = ccelt("run", "ujet", env=env, cwd=tmp_path)

    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if not line[:2].isdigit()]
    assert len(lines) == 1 and words in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert h.sandbox.requests == []


def test_a_missing_token_names_its_own_key_and_variable_not_another(
        harness, cli_env, tmp_path: Path) -> None:
    h: Harness = harness()
    env = cli_env(h)
    env.pop("SOURCES__UJET__API_TOKEN")

    result = ccelt("run", "ujet", "--tenant", "acme", env=env, cwd=tmp_path)

    assert result.returncode == 2, result.stderr
    message = result.stderr.strip().splitlines()[-1]
    assert ("missing configuration: sources.ujet.acme.api_token or sources.ujet.api_token"
            in message)
    assert "SOURCES__UJET__ACME__API_TOKEN" in message and "SUBDOMAIN" not in message


def test_a_postgres_dsn_without_a_password_explains_dlts_password_rule(
        harness, cli_env, tmp_path: Path) -> None:
    h: Harness = harness()
    env = cli_env(h, DESTINATION__WAREHOUSE__DESTINATION_TYPE="postgres",
                  DESTINATION__WAREHOUSE__CREDENTIALS="postgresql://postgres@127.0.0.1:5432/test")

    result = ccelt("run", "ujet", env=env, cwd=tmp_path)

    assert result.returncode == 2, result.stderr
    message = result.stderr.strip().splitlines()[-1]
    assert "destination.warehouse.credentials has no password" in message
    assert "dlt requires a password in a Postgres connection string" in message
    assert "SOURCES__UJET" not in message


def test_debug_shows_the_traceback_of_a_configuration_mistake(harness, cli_env, tmp_path: Path) -> None:
    h: Harness = harness()
    env = cli_env(h, SOURCES__UJET__PAGE_SIZE="0")

    result = ccelt("--debug", "run", "ujet", env=env, cwd=tmp_path)

    assert result.returncode == 2
    assert "Traceback" in result.stderr and "sources.ujet.page_size" in result.stderr
