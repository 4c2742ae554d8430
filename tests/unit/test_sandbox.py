"""The sandbox behaves as the UJET documents say, awkward parts included."""

from __future__ import annotations

import httpx
import pytest

from sources.ujet.sandbox.query import Bounds, QueryError, paginate, select
from sources.ujet.sandbox.server import SandboxOptions, SandboxServer
from sources.ujet.sandbox.tenant import Tenant, TenantSize

RECORDS = [
    {"id": 1, "updated_at": "2026-01-01T00:00:00.000Z", "rating": 5, "agent_info": {"id": 7}},
    {"id": 2, "updated_at": "2026-01-01T00:00:01.000Z", "rating": None, "agent_info": None},
    {"id": 3, "updated_at": "2026-01-01T00:00:02.000Z", "rating": 2, "agent_info": {"id": 8}},
]


def ids(records: list[dict]) -> list[int]:
    return [r["id"] for r in records]


@pytest.mark.parametrize("bounds, expected", [(Bounds(True, True), [1, 2, 3]),
                                              (Bounds(False, False), [2])])
def test_from_and_to_bounds_follow_the_chosen_semantics(bounds: Bounds, expected: list[int]) -> None:
    params = [("updated_at[from]", "2026-01-01T00:00:00.000Z"),
              ("updated_at[to]", "2026-01-01T00:00:02Z")]

    assert ids(select("calls", RECORDS, params, bounds)) == expected


def test_number_bounds_and_documented_filter_aliases() -> None:
    assert ids(select("calls", RECORDS, [("rating[from]", "3")], Bounds())) == [1]
    assert ids(select("calls", RECORDS, [("agent_id[]", "8"), ("agent_id[]", "7")], Bounds())) == [1, 3]


def test_sorting_puts_nulls_last_ascending_and_first_descending() -> None:
    assert ids(select("calls", RECORDS, [("sort_column", "rating")], Bounds())) == [3, 1, 2]
    assert ids(select("calls", RECORDS, [("sort_column", "rating"), ("sort_direction", "desc")],
                      Bounds())) == [2, 1, 3]


def test_per_is_capped_silently_and_total_counts_everything() -> None:
    page = paginate(RECORDS, [("per", "500"), ("page", "1")], default_per=25, max_per=2)

    assert (ids(page.records), page.per, page.total, page.last_page) == ([1, 2], 2, 3, 2)


@pytest.mark.parametrize("params", [[("page", "0")], [("per", "ten")], [("updated_at[from]", "yesterday")],
                                    [("sort_direction", "UP")], [("sort_column", "nope")]])
def test_bad_parameters_are_400s(params) -> None:
    with pytest.raises(QueryError):
        paginate(select("calls", RECORDS, params, Bounds()), params, default_per=25, max_per=100)


def test_deleted_menus_only_with_with_deleted() -> None:
    menus = [{"id": 1, "deleted": False}, {"id": 2, "deleted": True}]

    assert ids(select("menus", menus, [], Bounds())) == [1]
    assert ids(select("menus", menus, [("with_deleted", "true")], Bounds())) == [1, 2]


TINY = TenantSize(days=1, agents=6, calls=40, chats=20, emails=10)


@pytest.fixture
def server():
    with SandboxServer(Tenant(size=TINY), SandboxOptions(api_token="t0ken", max_per=10)) as running:
        yield running


def test_server_needs_basic_auth_with_subdomain_and_token(server) -> None:
    assert httpx.get(f"{server.base_url}/calls").status_code == 401
    assert httpx.get(f"{server.base_url}/calls", auth=("sandbox", "wrong")).status_code == 401
    assert httpx.get(f"{server.base_url}/calls", auth=("sandbox", "t0ken")).status_code == 200


def test_server_rate_limits_with_429_and_retry_after() -> None:
    with SandboxServer(Tenant(size=TINY), SandboxOptions(api_token="t0ken", requests_per_second=1,
                                                         burst=1)) as limited_server:
        answers = [httpx.get(f"{limited_server.base_url}/agents", auth=("sandbox", "t0ken"))
                   for _ in range(3)]

    limited = [a for a in answers if a.status_code == 429]
    assert limited and all(int(a.headers["Retry-After"]) >= 1 for a in limited)


def test_server_sends_rails_pagination_headers(server) -> None:
    answer = httpx.get(f"{server.base_url}/calls", params={"per": 50, "page": 2},
                       auth=("sandbox", "t0ken"))

    assert answer.headers["Per-Page"] == "10" and int(answer.headers["Total"]) >= 40
    assert set(answer.links) == {"first", "prev", "next", "last"}
    assert "page=3" in answer.links["next"]["url"]


def test_server_serves_the_documented_root_not_the_base_url_sections_typo(server) -> None:
    typo = server.base_url.replace("/manager/", "/apps/")

    assert httpx.get(f"{typo}/calls", auth=("sandbox", "t0ken")).status_code == 404


def test_sla_endpoints_require_channel_and_minutes(server) -> None:
    url = f"{server.base_url}/menus/sla"
    auth = ("sandbox", "t0ken")

    assert httpx.get(url, auth=auth).status_code == 400
    assert httpx.get(url, params={"channel": "call", "minutes": 15}, auth=auth).status_code == 200


@pytest.mark.parametrize("seed", range(5))
def test_any_contact_can_change_later_even_the_vendors_odd_samples(seed: int) -> None:
    tenant = Tenant(seed=seed, size=TINY)
    for kind in ("calls", "chats", "emails"):
        everyone = [r["id"] for r in tenant.records(kind)]
        for _ in range(4):
            tenant.touch(kind, ids=everyone)

        assert all(r["updated_at"] >= "2026" for r in tenant.records(kind) if r["id"] in everyone)


@pytest.mark.parametrize("from_inclusive", [True, False])
def test_static_sorted_views_answer_exactly_like_the_general_query(from_inclusive: bool) -> None:
    tenant = Tenant(size=TenantSize(days=2, agents=6, calls=300, chats=20, emails=10))
    general = SandboxServer(tenant, SandboxOptions(api_token="t", from_inclusive=from_inclusive))
    static = SandboxServer(tenant, SandboxOptions(api_token="t", from_inclusive=from_inclusive,
                                                   static=True))
    requests: list[tuple[str, list[tuple[str, str]]]] = []
    for endpoint, column in (("calls", "updated_at"), ("agent_activity_logs", "started_at")):
        times = sorted(r[column] for r in tenant.records(endpoint) if r.get(column))
        middle, late = times[len(times) // 2], times[-3]
        for low, high in ((middle, None), (None, middle), (middle, late), (middle, middle)):
            for direction, page in (("ASC", "1"), ("ASC", "2"), ("DESC", "1")):
                params = [("sort_column", column), ("sort_direction", direction), ("per", "50"),
                          ("page", page)]
                params += [(f"{column}[from]", low)] if low else []
                params += [(f"{column}[to]", high)] if high else []
                requests.append((endpoint, params))
        # a bound on another column, as the activity pass on `ended_at` sends
        requests.append((endpoint, [("sort_column", column), ("per", "50"), (f"{column}[from]", middle),
                                    ("started_at[to]", late)]))
    for page in ("1", "3", "7"):   # plain page-number paging, as a generic client sends
        requests.append(("calls", [("per", "50"), ("page", page)]))
    try:
        for endpoint, params in requests:
            expected = general._list(endpoint, params)
            assert expected.body != "[]" or "[to]" in str(params)
            answer = static._list(endpoint, params)
            links = (answer.headers.pop("Link").replace(static.base_url, ""),
                     expected.headers.pop("Link").replace(general.base_url, ""))
            assert (answer.body, answer.headers) == (expected.body, expected.headers), params
            assert links[0] == links[1]
        # the generator writes every time alike, so ranges were answered without re-sorting
        assert static._views._views[("calls", "updated_at")].same_order_as_select
    finally:
        general._httpd.server_close()
        static._httpd.server_close()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_someone_is_logged_in_at_every_time_of_day(seed: int) -> None:
    """Snapshot tests run at any hour: the tenant must have agents on shift at 03:00 UTC too."""
    import random
    from datetime import datetime, timedelta, timezone

    from sources.ujet.sandbox.generate import Ids, activity_history, build_reference

    midnight = datetime(2026, 3, 10, tzinfo=timezone.utc)
    for minutes in range(0, 24 * 60, 20):
        now = midnight + timedelta(minutes=minutes)
        rng = random.Random(seed)
        reference = build_reference(rng, 6, now)
        logs = activity_history(reference, Ids(), rng, now - timedelta(days=2), now)

        open_rows = [r for r in logs if r["ended_at"] is None and r["activity"] == "user_status_changed"]
        assert open_rows, f"nobody on shift at {now:%H:%M}"
        assert {r["agent_id"] for r in open_rows} == {a["id"] for a in reference.agents if a["online"]}
