"""Backfill, then incremental runs, against a hostile sandbox: the warehouse stays exact.

The sandbox caps `per` silently below what the client asks, returns records that share an
`updated_at` in a new order on every request, changes contacts after every page it serves,
answers 5xx, truncates bodies and drops connections. After each run, the warehouse must
hold every record the tenant last changed before the run's frozen bound, once, in that
version, with exactly its nested elements; a last run without interference must make it
equal to the tenant.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.e2e.conftest import Harness
from tests.e2e.exactness import assert_exact, compare_contacts, parse

HOSTILE = dict(max_per=37, shuffle_ties=True, churn_per_request=2, fault_every=6,
               fault_kinds=("500", "502", "503", "truncated", "partial_json", "reset", "html"))


@pytest.mark.parametrize("inclusive", [True, False], ids=["inclusive-bounds", "exclusive-bounds"])
def test_backfill_then_incremental_runs_leave_nothing_missing_duplicated_or_stale(
        harness, inclusive: bool) -> None:
    h: Harness = harness(from_inclusive=inclusive, to_inclusive=inclusive, **HOSTILE)
    tenant = h.tenant
    # more records on one updated_at than fit on a page, before the first run
    tied_calls = tenant.tie("calls", 90)
    tenant.tie("chats", 45)

    first = h.run()
    with h.warehouse() as warehouse:
        assert_exact(warehouse, tenant, as_of=h.run_began())

    # the tenant works on: late ratings, wrap-ups, transfers, corrected segments, new
    # contacts, a second tie, a commit that lands late, and agents changing status
    corrected = next(r["id"] for r in tenant.records("calls") if len(r["handle_durations"]) >= 2)
    removed = tenant.remove_segment("calls", corrected)
    # churn that changed it again after the run's bound would hide the removal from that run
    tenant.spared.add(corrected)
    tenant.touch("calls", 40)
    tenant.touch("chats", 20)
    tenant.touch("emails", 10)
    tenant.create("calls", 15)
    tenant.create("chats", 8)
    tenant.create("emails", 4)
    tenant.tie("emails", 40)
    late = tenant.late_commit("calls", 3, age=timedelta(seconds=h.lookback / 2))
    tenant.advance_activity()

    second = h.run()
    with h.warehouse() as warehouse:
        assert_exact(warehouse, tenant, as_of=h.run_began())
        remaining = {i for (i,) in warehouse.execute(
            "select id from ujet.calls__handle_durations where call_id = ?", [corrected]).fetchall()}
        late_loaded = {i for (i,) in warehouse.execute(
            "select id from ujet.calls where id in (select unnest(?))", [late]).fetchall()}
    assert removed["id"] not in remaining, "a segment the vendor removed survived"
    assert late_loaded == set(late), "commits that landed late, within the lookback, were lost"

    # the sandbox really was hostile
    faults = {r.fault for r in h.sandbox.requests if r.fault}
    assert faults == set(HOSTILE["fault_kinds"])
    assert first.retries + second.retries >= len([r for r in h.sandbox.requests if r.fault])
    tie_reads = [r for r in h.sandbox.requests if r.path == "calls" and r.param("sort_column") == "id"]
    assert tie_reads, "the tie was never read by id"
    # the tied calls that churn left alone since the second run began share one updated_at
    # still: every one of them must be loaded
    began = h.run_began()
    still_tied = {r["id"] for r in tenant.records("calls")
                  if r["id"] in set(tied_calls) and parse(r["updated_at"]) < began}
    with h.warehouse() as warehouse:
        loaded_ties = {i for (i,) in warehouse.execute(
            "select id from ujet.calls where id in (select unnest(?))", [tied_calls]).fetchall()}
    assert still_tied, "churn changed every tied call: the check proves nothing"
    assert still_tied <= loaded_ties, "calls sharing one updated_at were lost"

    # once the tenant stops changing under it, one more run makes the warehouse equal the tenant
    h.sandbox.options.churn_per_request = 0
    h.sandbox.options.fault_every = 0
    h.run()
    with h.warehouse() as warehouse:
        assert_exact(warehouse, tenant, as_of=None)


def test_rate_limited_tenant_is_read_completely_honouring_retry_after(harness) -> None:
    # the tenant allows 25 requests a second; the client is told it may send 200
    h: Harness = harness(requests_per_second=25, burst=1, retry_after=0.05, max_per=50)

    summary = h.run(requests_per_second=200)

    limited = [r for r in h.sandbox.requests if r.status == 429]
    assert limited, "the sandbox never rate limited: the test proves nothing"
    assert summary.rate_limited == len(limited)
    with h.warehouse() as warehouse:
        assert_exact(warehouse, h.tenant, as_of=h.run_began())


def test_pages_without_pagination_headers_are_read_to_the_end(harness) -> None:
    h: Harness = harness(pagination_headers=False, max_per=30, from_inclusive=False,
                         to_inclusive=False, shuffle_ties=True)
    h.tenant.tie("calls", 70)

    h.run()

    with h.warehouse() as warehouse:
        assert_exact(warehouse, h.tenant, as_of=None)


def test_a_contact_updated_twice_between_runs_is_loaded_once_in_its_latest_version(harness) -> None:
    h: Harness = harness()
    h.run()
    contact = h.tenant.records("chats")[5]["id"]
    h.tenant.touch("chats", ids=[contact])
    h.tenant.touch("chats", ids=[contact])

    h.run()

    with h.warehouse() as warehouse:
        rows = warehouse.execute("select updated_at from ujet.chats where id = ?", [contact]).fetchall()
        result = compare_contacts(warehouse, h.tenant, "chats", as_of=None)
    assert len(rows) == 1
    result.assert_none()


def test_the_exactness_check_itself_sees_one_wrong_field_and_one_wrong_child_value(harness) -> None:
    """The check must fail on a warehouse that differs from the tenant in a single value of
    a root row or of a child row, not only on missing ids or versions."""
    h: Harness = harness()
    h.run()
    call = next(r["id"] for r in h.tenant.records("calls") if r["handle_durations"])

    with h.warehouse() as warehouse:
        compare_contacts(warehouse, h.tenant, "calls", as_of=None).assert_none()
        warehouse.execute("update ujet.calls set lang = 'xx' where id = ?", [call])
        warehouse.execute("update ujet.calls__handle_durations set hold_duration = 999"
                          " where call_id = ?", [call])
        result = compare_contacts(warehouse, h.tenant, "calls", as_of=None)

    assert [f.split(":")[0] for f in result.wrong_fields] == [f"{call}.lang"]
    assert [w.split(":")[0] for w in result.wrong_children] == [
        f"calls__handle_durations of {call}"]
