"""The Alvaria source against its sandbox organisation: exact snapshots while the queue moves
under every read, journeys that agree with the organisation's history, tokens that expire
and are revoked mid-run, and clear refusals that show no secret."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from dlt.common.versioned_state import decompress_state

from sources.alvaria.sandbox.organisation import SAMPLE
from tests.e2e.alvaria_harness import (  # noqa: F401 (the fixture)
    alvaria,
    api_row,
    assert_active_rows_match_the_queue,
    assert_journeys_exact,
    assert_snapshots_exact,
    tokens,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_snapshots_stay_exact_while_the_queue_moves_under_every_read(alvaria) -> None:
    # 25 to a page, and after every page two changes anywhere plus a completion and an
    # arrival ahead of the page: plain startIndex paging would skip and repeat e-mails
    av = alvaria(emails=180, page_cap=25, churn_per_request=2, churn_before_offset=1)
    for _ in range(4):
        av.run(page_size=500)
        av.organisation.churn(15)
    # four completions ahead of each page and no arrival: more than the overlap covers
    av.server.options.churn_before_offset = 0
    av.server.options.complete_before_offset = 4
    av.run(page_size=500)

    assert_snapshots_exact(av)
    assert_journeys_exact(av)
    reads = av.rows("select * from alvaria.snapshots order by snapshot_at")
    assert len(reads) == 5 and all(r["consistent"] for r in reads)
    assert sum(r["shifted_pages"] for r in reads) > 0      # the list did move under the reads
    assert reads[-1]["relinked_pages"] > 0                 # and the last read had to step back
    assert all(r["page_cap"] == 25 for r in reads)

    av.server.options.churn_per_request = av.server.options.complete_before_offset = 0
    av.run()
    assert_active_rows_match_the_queue(av)
    assert_journeys_exact(av)


def test_a_quiet_queue_costs_its_pages_and_no_more_and_a_run_that_sees_nothing_new_writes_only_the_snapshot(
        alvaria) -> None:
    av = alvaria(emails=230, page_cap=25)
    av.run(page_size=500)
    av.server.reset_log()

    summary = av.run(page_size=500)

    # pages of 25 overlapping by 2: 25 new e-mails on the first, 23 on each later one
    assert summary.requests == len(av.list_requests()) == 1 + math.ceil((230 - 25) / 23) == 10
    assert summary.requests <= math.ceil(230 / 25) + 1
    assert tokens(av.server) == 1
    assert summary.rows.get("email_state_changes", 0) == 0
    assert summary.rows["email_snapshots"] == 230 and summary.rows["snapshots"] == 1
    assert_snapshots_exact(av)
    assert_journeys_exact(av)
    assert_active_rows_match_the_queue(av)


def test_the_documents_sample_loads_as_documented(alvaria) -> None:
    av = alvaria(emails=5)
    av.run()

    row = av.rows(f"select * from alvaria.emails where id = '{SAMPLE['id']}'")[0]
    expected = api_row(SAMPLE)
    assert {k: row[k] for k in expected} == expected
    assert row["event_sequence_number"] == 77143977         # sent as a string, kept whole
    with av.connect() as connection:
        types = dict(connection.execute(
            "select column_name, data_type from information_schema.columns"
            " where table_schema = 'alvaria' and table_name = 'emails'").fetchall())
    assert types["event_sequence_number"] == "BIGINT" and types["id"] == "VARCHAR"
    assert not [c for c in types if c.startswith("event_sequence_number__")]


def test_without_extended_info_the_names_are_not_asked_for(alvaria) -> None:
    av = alvaria(emails=20)
    av.run(extended_info=False)

    assert all(r.param("getExtendedInfo") is None for r in av.list_requests())
    assert_active_rows_match_the_queue(av, extended=False)


def test_tokens_that_expire_or_are_revoked_mid_run_cost_a_token_not_the_run(alvaria) -> None:
    # a token lives 1.5 s and the read takes about 2.5 s at 4 pages a second; besides,
    # every token is revoked after every third page
    av = alvaria(emails=150, page_cap=15, token_lifetime=1.5, revoke_every=3)
    av.run(requests_per_second=4)

    refused = [r for r in av.server.requests if r.status == 401]
    assert refused and tokens(av.server) >= 1 + len(refused)
    assert_snapshots_exact(av)
    assert_active_rows_match_the_queue(av)


def test_a_token_endpoint_that_refuses_basic_gets_the_credentials_as_form_fields(alvaria) -> None:
    av = alvaria(emails=10, basic_refused=True)
    av.run()

    token_requests = [r for r in av.server.requests if r.path == "/oauth2/token"]
    assert [r.status for r in token_requests] == [401, 200]
    assert_active_rows_match_the_queue(av)


def test_rate_limits_and_faults_cost_time_not_data(alvaria) -> None:
    av = alvaria(emails=200, page_cap=20, requests_per_second=3, fault_every=3,
                 fault_kinds=("500", "502", "503", "truncated"))
    av.run(page_size=500)
    av.server.options.retry_after = True
    av.organisation.churn(10)
    av.run(page_size=500)

    statuses = {r.status for r in av.server.requests}
    assert {429, 500, 502, 503} <= statuses
    assert_snapshots_exact(av)
    assert_journeys_exact(av)
    assert_active_rows_match_the_queue(av)


def test_a_failed_run_loads_no_partial_snapshot(alvaria) -> None:
    av = alvaria(emails=100, page_cap=20)
    av.run()
    av.organisation.churn(10)
    # the third page and every one after fail until the retries run out
    av.server.options.fault_kinds = ("503",)
    av.server.options.fail_after = av.server.faults.served + 2

    with pytest.raises(Exception):
        av.run(max_attempts=2)
    assert len(av.rows("select * from alvaria.snapshots")) == 1
    assert av.rows("select count(*) as n from alvaria.email_snapshots")[0]["n"] == 100

    av.server.options.fail_after = None
    av.run()
    assert_snapshots_exact(av)
    assert_journeys_exact(av)
    assert_active_rows_match_the_queue(av)


def _cli(av, tmp_path: Path, *command: str, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    env.update({f"SOURCES__ALVARIA__{k.upper()}": str(v)
                for k, v in av.server.source_args().items()})
    env.update({f"SOURCES__ALVARIA__{k.upper()}": v for k, v in settings.items()})
    env.update(PYTHONPATH=str(PROJECT_ROOT), DLT_DATA_DIR=str(tmp_path / "dlt"),
               DESTINATION__WAREHOUSE__DESTINATION_TYPE="duckdb",
               DESTINATION__WAREHOUSE__CREDENTIALS=str(av.database))
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "--log-level", "DEBUG",
                           *(command or ("run", "alvaria"))], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=240)


def _leaks(tmp_path: Path, *secrets: str) -> list[Path]:
    return [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".duckdb"
            and any(s.encode() in p.read_bytes() for s in secrets)]


def test_a_wrong_api_key_fails_at_once_naming_the_setting_and_showing_no_secret(
        alvaria, tmp_path: Path) -> None:
    av = alvaria(emails=5)
    wrong = "wrong-api-key-8c1f2d"

    result = _cli(av, tmp_path, API_KEY=wrong)

    assert result.returncode == 3, result.stderr
    assert "sources.alvaria.api_key" in result.stderr and "HTTP 403" in result.stderr
    secrets = [wrong, av.server.options.client_secret]
    assert [s for s in secrets if s in result.stdout + result.stderr] == []
    assert _leaks(tmp_path, *secrets) == []


def test_a_refused_client_secret_fails_naming_the_settings_and_showing_no_secret(
        alvaria, tmp_path: Path) -> None:
    av = alvaria(emails=5)
    wrong = "wrong-client-secret-51e0"

    result = _cli(av, tmp_path, CLIENT_SECRET=wrong)

    assert result.returncode == 3, result.stderr
    assert "sources.alvaria.client_secret" in result.stderr
    secrets = [wrong, av.server.options.api_key]
    assert [s for s in secrets if s in result.stdout + result.stderr] == []
    assert _leaks(tmp_path, *secrets) == []
    assert not any(r.path.endswith("/emails") for r in av.server.requests)


def test_no_secret_or_token_and_under_drop_no_address_reaches_output_disk_or_warehouse(
        alvaria, tmp_path: Path) -> None:
    av = alvaria(emails=30, token_lifetime=3600)

    result = _cli(av, tmp_path, PII="drop")

    assert result.returncode == 0, result.stderr
    issued = av.server._tokens       # every access token the sandbox handed out
    personal = [e.fields["fromAddress"] for e in av.organisation.active.values()] + [
        e.fields["subject"] for e in av.organisation.active.values()]
    secrets = [av.server.options.client_secret, av.server.options.api_key, *issued]
    assert issued and [s for s in secrets if s in result.stdout + result.stderr] == []
    assert _leaks(tmp_path, *secrets, *personal) == []
    dumped = " ".join(str(row) for table in ("emails", "email_snapshots", "email_state_changes")
                      for row in av.rows(f"select * from alvaria.{table}"))
    # the state (the last snapshot) is stored compressed: read it as dlt does
    dumped += " ".join(json.dumps(decompress_state(row["state"])) for row in
                       av.rows("select state from alvaria._dlt_pipeline_state"))
    assert "42235" in dumped
    assert [s for s in [*secrets, *personal] if s in dumped] == []


def test_check_takes_a_token_and_one_page_of_one_email_and_loads_nothing(
        alvaria, tmp_path: Path) -> None:
    av = alvaria(emails=12)

    result = _cli(av, tmp_path, "check", "alvaria")

    assert result.returncode == 0, result.stderr
    assert "12 e-mails active now" in result.stdout
    assert [(r.path.rsplit("/", 1)[-1], r.param("maxResults")) for r in av.server.requests] == [
        ("token", None), ("emails", "1")]
    secrets = [av.server.options.client_secret, av.server.options.api_key, *av.server._tokens]
    assert [s for s in secrets if s in result.stdout + result.stderr] == []
