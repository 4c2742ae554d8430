"""The `ccelt` command as a user runs it: a real process, configured by environment."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import Harness

CCELT = [sys.executable, "-m", "pipelines.cli"]
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def ccelt(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith(("SOURCES__", "DESTINATION__"))}
    full_env.update(env, PYTHONPATH=str(PROJECT_ROOT))
    return subprocess.run([*CCELT, *args], env=full_env, cwd=cwd, capture_output=True,
                          text=True, timeout=240)


def tenant_env(h: Harness, tmp_path: Path, token: str) -> dict[str, str]:
    return {
        "DLT_DATA_DIR": str(tmp_path / "dlt"),
        "SOURCES__UJET__SUBDOMAIN": h.sandbox.options.subdomain,
        "SOURCES__UJET__API_TOKEN": token,
        "SOURCES__UJET__BASE_URL": h.sandbox.base_url,
        "SOURCES__UJET__REQUESTS_PER_SECOND": "200",
        "DESTINATION__WAREHOUSE__DESTINATION_TYPE": "duckdb",
        "DESTINATION__WAREHOUSE__CREDENTIALS": str(h.database),
    }


def files_containing(root: Path, secret: str) -> list[Path]:
    needle = secret.encode()
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_bad_token_fails_at_once_with_a_clear_message_and_never_shows_the_token(
        harness, tmp_path: Path) -> None:
    h: Harness = harness()
    wrong = "not-the-right-token-7f3a9c"
    (tmp_path / "run.json").write_text('{"rows": {"calls": 1}}')   # an earlier run's report

    result = ccelt("--log-level", "DEBUG", "run", "ujet", "--report", "run.json",
                   env=tenant_env(h, tmp_path, wrong), cwd=tmp_path)

    assert result.returncode == 3
    assert not (tmp_path / "run.json").exists(), "a failed run must not leave a report behind"
    assert "refused the credentials" in result.stderr
    assert "sources.ujet.api_token" in result.stderr
    assert wrong not in result.stdout + result.stderr
    assert files_containing(tmp_path, wrong) == []
    # 401 is not retried: one refused request per resource that got to ask, at most
    assert {r.status for r in h.sandbox.requests} == {401}
    assert len(h.sandbox.requests) <= 14


def test_a_successful_run_prints_its_summary_and_keeps_the_token_out_of_everything(
        harness, tmp_path: Path) -> None:
    h: Harness = harness()
    token = h.sandbox.options.api_token

    result = ccelt("--log-level", "DEBUG", "run", "ujet", "--report", "run.json",
                   env=tenant_env(h, tmp_path, token), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    calls = len(h.tenant.records("calls"))
    report = json.loads((tmp_path / "run.json").read_text())
    assert report["rows"]["calls"] == calls
    assert report["requests"] == len(h.sandbox.requests)
    assert report["requests_by_endpoint"]["calls"] == sum(1 for r in h.sandbox.requests
                                                          if r.path == "calls")
    assert report["transform"]["mode"] == "full" and report["transform"]["rows"]["fct_contacts"] > 0
    assert any(line.split()[:2] == ["calls", f"{calls:,}"] for line in result.stdout.splitlines())
    assert f"requests: {len(h.sandbox.requests):,}" in result.stdout
    assert token not in result.stdout + result.stderr
    # not in the pipeline's state, trace or load packages, nor in the warehouse file
    assert files_containing(tmp_path, token) == []


def test_resources_option_loads_only_the_named_resources(harness, tmp_path: Path) -> None:
    h: Harness = harness()

    result = ccelt("run", "ujet", "--resources", "agents,user_statuses",
                   env=tenant_env(h, tmp_path, h.sandbox.options.api_token), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert {r.path for r in h.sandbox.requests} == {"agents", "user_statuses"}


def test_missing_configuration_names_the_key_and_how_to_set_it(tmp_path: Path) -> None:
    result = ccelt("run", "ujet", env={"DLT_DATA_DIR": str(tmp_path / "dlt")}, cwd=tmp_path)

    assert result.returncode == 2
    assert "subdomain" in result.stderr
    assert "SOURCES__UJET__" in result.stderr


def test_invalid_setting_is_reported_before_any_request(harness, tmp_path: Path) -> None:
    h: Harness = harness()
    env = tenant_env(h, tmp_path, h.sandbox.options.api_token)
    env["SOURCES__UJET__LOOKBACK"] = "ten minutes"

    result = ccelt("run", "ujet", env=env, cwd=tmp_path)

    assert result.returncode == 2
    assert "sources.ujet.lookback" in result.stderr and "PT10M" in result.stderr
    assert h.sandbox.requests == []


@pytest.mark.parametrize("command", [[], ["run"], ["run", "ujet"], ["demo"], ["sandbox"],
                                     ["sandbox", "ujet"]])
def test_every_command_explains_itself(command: list[str], tmp_path: Path) -> None:
    result = ccelt(*command, "--help", env={}, cwd=tmp_path)

    assert result.returncode == 0
    assert result.stdout.startswith("usage: ccelt")


def test_a_setting_of_the_wrong_type_names_the_key(harness, tmp_path: Path) -> None:
    h: Harness = harness()
    env = tenant_env(h, tmp_path, h.sandbox.options.api_token)
    env["SOURCES__UJET__PAGE_SIZE"] = "a hundred"

    result = ccelt("run", "ujet", env=env, cwd=tmp_path)

    assert result.returncode == 2
    assert "sources.ujet.page_size" in result.stderr
    assert h.sandbox.requests == []


def test_a_loader_format_the_engine_cannot_load_is_reported_before_any_request(
        harness, tmp_path: Path) -> None:
    h: Harness = harness()
    env = tenant_env(h, tmp_path, h.sandbox.options.api_token)
    env["DESTINATION__WAREHOUSE__LOADER_FILE_FORMAT"] = "csv-ish"

    result = ccelt("run", "ujet", env=env, cwd=tmp_path)

    assert result.returncode == 2
    assert "destination.warehouse.loader_file_format" in result.stderr
    assert "jsonl" in result.stderr, "the message lists what DuckDB does load"
    assert h.sandbox.requests == []


def test_an_unknown_resource_is_a_configuration_error_listing_the_choices(harness, tmp_path: Path) -> None:
    h: Harness = harness()

    result = ccelt("run", "ujet", "--resources", "calls,voicemails",
                   env=tenant_env(h, tmp_path, h.sandbox.options.api_token), cwd=tmp_path)

    assert result.returncode == 2
    assert "voicemails" in result.stderr and "agent_activity_logs" in result.stderr
    assert h.sandbox.requests == []


def test_run_builds_the_fact_tables_after_loading_and_transform_keeps_them_current(
        harness, tmp_path: Path) -> None:
    h: Harness = harness()
    env = tenant_env(h, tmp_path, h.sandbox.options.api_token)
    env["TRANSFORMS__REPORTING_TIMEZONE"] = "Europe/Berlin"

    loaded = ccelt("run", "ujet", env=env, cwd=tmp_path)
    again = ccelt("transform", env=env, cwd=tmp_path)
    rebuilt = ccelt("transform", "--full-refresh", env=env, cwd=tmp_path)

    assert loaded.returncode == 0, loaded.stderr
    assert "transforms: full build" in loaded.stdout and "fct_queue_interval:" in loaded.stdout
    assert again.returncode == 0 and "up to date" in again.stdout
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "transforms of contact_center (Europe/Berlin): full build" in rebuilt.stdout
    assert "asked for a full refresh" in rebuilt.stdout


def test_no_transform_loads_without_building(harness, tmp_path: Path) -> None:
    h: Harness = harness()

    result = ccelt("run", "ujet", "--no-transform",
                   env=tenant_env(h, tmp_path, h.sandbox.options.api_token), cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "transforms" not in result.stdout
    with h.warehouse() as warehouse:
        facts = {t for (t,) in warehouse.execute(
            "select table_name from information_schema.tables"
            " where table_schema = 'contact_center'").fetchall()}
        registered = warehouse.execute("select source, vendor, dataset"
                                       " from contact_center._ccelt_sources").fetchall()
        calls = warehouse.execute("select count(*) from ujet.calls").fetchone()[0]
    # nothing built: the facts dataset holds only the note of what was loaded, for a later
    # `ccelt transform`
    assert facts == {"_ccelt_sources"} and registered == [("ujet", "ujet", "ujet")]
    assert calls == len(h.tenant.records("calls"))


def test_an_unknown_reporting_timezone_is_a_configuration_error(harness, tmp_path: Path) -> None:
    h: Harness = harness()
    env = tenant_env(h, tmp_path, h.sandbox.options.api_token)
    env["TRANSFORMS__REPORTING_TIMEZONE"] = "Mars/Olympus_Mons"

    result = ccelt("run", "ujet", env=env, cwd=tmp_path)

    assert result.returncode == 2
    assert "transforms.reporting_timezone" in result.stderr and "Mars/Olympus_Mons" in result.stderr
    assert h.sandbox.requests == []


def test_data_that_breaks_a_rule_exits_4_after_loading_and_names_it(harness, tmp_path: Path) -> None:
    h: Harness = harness()
    broken = h.tenant.records("calls")[3]
    with h.tenant.lock:
        broken["queue_duration"] = -30  # vendor dirt

    result = ccelt("run", "ujet", "--report", "run.json",
                   env=tenant_env(h, tmp_path, h.sandbox.options.api_token), cwd=tmp_path)

    assert result.returncode == 4
    report = json.loads((tmp_path / "run.json").read_text())
    assert report["rows"]["calls"] == len(h.tenant.records("calls"))
    assert "fct_contacts: non_negative(queue_seconds" in result.stderr
    assert f"contact_id={broken['id']}" in result.stderr
    assert "calls" in result.stderr  # what was loaded is still reported


def test_a_run_calls_no_one_but_the_api_and_the_warehouse_unless_telemetry_is_asked_for(
        harness, tmp_path: Path) -> None:
    """dlt's anonymous telemetry would connect to its vendor on every run (DEBUG shows
    urllib3 opening the connection); ccelt turns it off unless the user turns it on."""
    h: Harness = harness()
    env = tenant_env(h, tmp_path, h.sandbox.options.api_token)

    quiet = ccelt("--log-level", "DEBUG", "run", "ujet", "--resources", "agents",
                  "--no-transform", env=env, cwd=tmp_path)
    asked = ccelt("--log-level", "DEBUG", "run", "ujet", "--resources", "agents",
                  "--no-transform", env={**env, "RUNTIME__DLTHUB_TELEMETRY": "true"},
                  cwd=tmp_path)

    assert quiet.returncode == 0, quiet.stderr
    assert "telemetry.scalevector.ai" not in quiet.stderr
    # the check can see a connection when there is one: with telemetry asked for, dlt tries
    assert "telemetry.scalevector.ai" in asked.stderr


def test_version_is_the_installed_packages(tmp_path: Path) -> None:
    declared = re.search(r'^version = "([^"]+)"', (PROJECT_ROOT / "pyproject.toml").read_text(),
                         flags=re.M)
    assert declared is not None

    result = ccelt("--version", env={}, cwd=tmp_path)

    assert result.returncode == 0
    assert result.stdout.strip() == f"ccelt {declared.group(1)}"


@pytest.mark.parametrize("source, defaults", [
    ("ujet", (("--port", "8765"), ("--seed", "7"), ("--calls", "600"),
              ("--requests-per-second", "1.0"), ("--max-per", "100"), ("--churn", "0"),
              ("--fault-rate", "0.0"))),
    ("chatwoot", (("--port", "8766"), ("--seed", "7"), ("--conversations", "120"),
                  ("--requests-per-second", "50.0"), ("--churn", "0"), ("--fault-rate", "0.0"))),
    ("alvaria", (("--port", "8767"), ("--seed", "7"), ("--emails", "60"), ("--page-cap", "100"),
                 ("--token-lifetime", "3600.0"), ("--requests-per-second", "20.0"),
                 ("--churn", "0"), ("--churn-before-offset", "0"), ("--fault-rate", "0.0"))),
])
def test_sandbox_help_shows_every_switchs_default(tmp_path: Path, source: str,
                                                  defaults: tuple[tuple[str, str], ...]) -> None:
    result = ccelt("sandbox", source, "--help", env={}, cwd=tmp_path)

    assert result.returncode == 0
    help_text = " ".join(result.stdout.split())
    for switch, default in defaults:
        assert re.search(rf"{switch} \S+ .*?\(default: {re.escape(default)}\)", help_text), switch
    # a switch without a fixed default says what happens instead of "(default: None)"
    assert "(default: None)" not in help_text and "random when not given" in help_text


def test_json_logs_are_one_object_per_line_with_secrets_redacted(harness, tmp_path: Path) -> None:
    h: Harness = harness()
    token = h.sandbox.options.api_token
    good = ccelt("--log-format", "json", "--log-level", "DEBUG", "run", "ujet", "--resources",
                 "agents", "--no-transform", env=tenant_env(h, tmp_path, token), cwd=tmp_path)
    wrong = "not-the-token-5b2e77"
    bad = ccelt("--log-format", "json", "run", "ujet", "--resources", "agents",
                env=tenant_env(h, tmp_path, wrong), cwd=tmp_path)

    assert good.returncode == 0, good.stderr
    entries = [json.loads(line) for line in good.stderr.splitlines()]   # every line is JSON
    assert entries and all(set(e) >= {"time", "level", "logger", "message"} for e in entries)
    assert any(e["logger"] == "pipelines.runner" and "extracting agents" in e["message"]
               for e in entries)
    assert token not in good.stderr
    assert bad.returncode == 3
    failure = json.loads(bad.stderr.splitlines()[-1])
    assert failure["level"] == "ERROR" and "refused the credentials" in failure["message"]
    assert wrong not in bad.stderr


def test_check_reaches_the_api_and_the_warehouse_with_one_request_and_loads_nothing(
        harness, tmp_path: Path) -> None:
    h: Harness = harness()
    env = tenant_env(h, tmp_path, h.sandbox.options.api_token)

    first = ccelt("check", "ujet", env=env, cwd=tmp_path)
    h.run()     # the warehouse exists now
    requests_before = len(h.sandbox.requests)
    second = ccelt("check", env=env, cwd=tmp_path)

    assert first.returncode == 0, first.stderr
    assert f"ujet: UJET at {h.sandbox.base_url} accepted the credentials of sandbox" in first.stdout
    assert "the file does not exist yet; the first run creates it" in first.stdout
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines()[-1].endswith(": connected")
    assert len(h.sandbox.requests) - requests_before == 1
    assert [r.path for r in h.sandbox.requests[requests_before:]] == ["user_statuses"]
    # nothing of the check's own was left in the warehouse or the pipelines folder
    with h.warehouse() as warehouse:
        schemas = {r[0] for r in warehouse.execute(
            "select schema_name from information_schema.schemata").fetchall()}
    assert "ccelt_check" not in schemas
    assert not (tmp_path / "dlt" / "pipelines" / "ccelt_check").exists()


@pytest.mark.parametrize("change, code, words", [
    ({"SOURCES__UJET__API_TOKEN": "wrong-token-123456"}, 3, "refused the credentials"),
    ({"SOURCES__UJET__SUBDOMAIN": None}, 2, "sources.ujet.subdomain"),
    ({"DESTINATION__WAREHOUSE__DESTINATION_TYPE": "postgres",
      "DESTINATION__WAREHOUSE__CREDENTIALS": "postgresql://postgres:pw-secret-9@127.0.0.1:1/x"},
     5, "cannot use the warehouse postgres (127.0.0.1:1/x)"),
])
def test_check_fails_like_run_with_the_same_exit_codes(harness, tmp_path: Path, change: dict,
                                                       code: int, words: str) -> None:
    h: Harness = harness()
    env = tenant_env(h, tmp_path, h.sandbox.options.api_token)
    for key, value in change.items():
        if value is None:
            env.pop(key)
        else:
            env[key] = value

    result = ccelt("check", "ujet", env=env, cwd=tmp_path)

    assert result.returncode == code, result.stderr
    assert words in result.stderr
    assert "wrong-token-123456" not in result.stderr and "pw-secret-9" not in result.stderr
