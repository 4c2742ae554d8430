"""The Chatwoot source against its sandbox account: exact under churn, cheap when unchanged,
clear when refused."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import duckdb

from sources.chatwoot.sandbox.account import Account
from tests.e2e.chatwoot_harness import chatwoot  # noqa: F401 (the fixture)

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_a_backfill_under_churn_then_incremental_runs_leave_the_account_exactly(chatwoot) -> None:
    cw = chatwoot(churn_per_request=2)
    before = set(cw.account.conversations)

    cw.run()

    with duckdb.connect(str(cw.database), read_only=True) as connection:
        loaded = [row[0] for row in connection.execute("select id from chatwoot.conversations").fetchall()]
    # while agents worked: no conversation that existed when it began is missing, none twice
    assert before <= set(loaded) and len(loaded) == len(set(loaded))

    cw.server.options.churn_per_request = 0
    for _ in range(2):
        # every kind of change, including those that move only `updated_at` and SLA misses,
        # which move no timestamp at all
        for kind in Account.CHURN:
            cw.account.churn(3, (kind,))
        cw.run()
        cw.assert_exact()


def test_an_unchanged_account_costs_the_window_and_the_watched_status_lists(chatwoot) -> None:
    cw = chatwoot()
    cw.run()
    cw.server.reset_log()

    summary = cw.run()

    conversations = list(cw.account.conversations.values())
    expected = 1        # the `updated_within` answer
    for status in ("open", "pending", "snoozed"):
        watched = [c.created_at for c in conversations if c.status == status and c.sla_policy_id]
        if watched:
            # that status's list, newest first, down to its oldest conversation with a policy
            down_to = sum(1 for c in conversations if c.status == status and c.created_at >= min(watched))
            expected += math.ceil(down_to / 25)
    assert len(cw.server.requests) == summary.requests == expected
    assert summary.rows.get("conversations", 0) == 0 and summary.rows.get("messages", 0) == 0
    cw.assert_exact()


def test_a_backfill_reads_each_list_page_once_and_each_thread_in_as_few_requests_as_it_holds(
        chatwoot) -> None:
    cw = chatwoot()

    cw.run()

    conversations = cw.account.conversations.values()
    pages = math.ceil(len(conversations) / 25)
    # a chunk of 1,000 may not be the last: one more request finds out
    threads = sum(len(c.messages) // 1000 + 1 for c in conversations)
    requests = [r.path for r in cw.server.requests]
    # the last page is short, or the list's count says every row was seen: no empty page
    assert requests.count("conversations") == pages
    assert len(requests) - requests.count("conversations") == threads
    cw.assert_exact()


def test_rate_limits_and_faults_cost_time_not_data(chatwoot) -> None:
    cw = chatwoot(requests_per_second=15, fault_every=9)

    summary = cw.run(requests_per_second=40, max_attempts=8)

    assert summary.rate_limited > 0 and summary.retries > 0
    cw.assert_exact()


def test_sla_refresh_off_leaves_misses_for_the_next_change(chatwoot) -> None:
    cw = chatwoot()
    cw.run(sla_refresh=False)
    missed = cw.account.sla_miss()
    assert missed is not None

    cw.run(sla_refresh=False)

    with duckdb.connect(str(cw.database), read_only=True) as connection:
        loaded = connection.execute("select count(*) from chatwoot.conversations__sla_events"
                                    " where conversation_id = ?", [missed]).fetchone()[0]
    assert loaded == len(cw.account.conversations[missed].sla_events) - 1
    cw.run()
    cw.assert_exact()


def test_a_bad_token_fails_at_once_naming_the_setting_and_never_shows_the_token(
        chatwoot, tmp_path: Path) -> None:
    cw = chatwoot()
    wrong = "wrong-token-4d1c8e2b"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    env.update(PYTHONPATH=str(PROJECT_ROOT), DLT_DATA_DIR=str(tmp_path / "dlt"),
               SOURCES__CHATWOOT__BASE_URL=cw.server.base_url,
               SOURCES__CHATWOOT__ACCOUNT_ID="1", SOURCES__CHATWOOT__API_ACCESS_TOKEN=wrong,
               DESTINATION__WAREHOUSE__DESTINATION_TYPE="duckdb",
               DESTINATION__WAREHOUSE__CREDENTIALS=str(cw.database))

    result = subprocess.run([sys.executable, "-m", "pipelines.cli", "--log-level", "DEBUG",
                             "run", "chatwoot"], env=env, cwd=tmp_path, capture_output=True,
                            text=True, timeout=240)

    assert result.returncode == 3, result.stderr
    assert "refused the credentials" in result.stderr
    assert "sources.chatwoot.api_access_token" in result.stderr
    assert wrong not in result.stdout + result.stderr
    assert [p for p in tmp_path.rglob("*") if p.is_file() and wrong.encode() in p.read_bytes()] == []
    assert {r.status for r in cw.server.requests} == {401} and len(cw.server.requests) == 1


def test_under_hash_no_contact_identity_or_message_text_reaches_the_warehouse_or_disk(
        chatwoot, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))
    cw = chatwoot()
    conversation = cw.account.conversations[3]
    secret_text = "my card number is 4111-1111-SECRET"
    with cw.account.lock:
        cw.account._add_message(conversation, 0, cw.account.now(), content=secret_text)

    cw.run(pii="hash", pii_salt="a-salt-of-at-least-16-chars")

    contacts = cw.account.contacts
    needles = [secret_text, contacts[conversation.contact_id - 1]["email"],
               contacts[conversation.contact_id - 1]["name"], cw.account.agents[0]["email"]]
    with duckdb.connect(str(cw.database), read_only=True) as connection:
        dumped = " ".join(str(row) for table in ("conversations", "messages",
                                                  "messages__attachments")
                          for row in connection.execute(f"select * from chatwoot.{table}").fetchall())
        hashed = connection.execute("select content from chatwoot.messages where conversation_id = 3"
                                    " and message_type = 0 order by id desc limit 1").fetchone()[0]
    assert [n for n in needles if n in dumped] == []
    assert len(hashed) == 64 and hashed != secret_text
    leaked = [p for p in tmp_path.rglob("*") if p.is_file()
              and any(n.encode() in p.read_bytes() for n in needles)]
    assert leaked == []
