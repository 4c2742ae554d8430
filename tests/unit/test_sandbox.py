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


def _frozen_queries(tenant: Tenant) -> list[tuple[str, list[tuple[str, str]]]]:
    """List queries of every shape a client sends, on the frozen lists' fields."""
    queries: list[tuple[str, list[tuple[str, str]]]] = []
    for endpoint, column, other in (("calls", "updated_at", "created_at"),
                                    ("agent_activity_logs", "started_at", "ended_at"),
                                    ("agent_activity_logs", "ended_at", "started_at")):
        times = sorted(r[column] for r in tenant.records(endpoint) if r.get(column))
        middle, late = times[len(times) // 2], times[-3]
        for low, high in ((middle, None), (None, middle), (middle, late), (middle, middle), (None, None)):
            for direction, page in (("ASC", "1"), ("ASC", "2"), ("DESC", "1"), ("desc", "3")):
                params = [("sort_column", column), ("sort_direction", direction), ("per", "50"),
                          ("page", page)]
                params += [(f"{column}[from]", low)] if low else []
                params += [(f"{column}[to]", high)] if high else []
                queries.append((endpoint, params))
        # bounds on two columns, as the activity pass on `ended_at` sends
        queries.append((endpoint, [("sort_column", column), ("per", "50"), (f"{column}[from]", middle),
                                   (f"{other}[to]", late)]))
        # a tie read by id inside one instant, and the same range sorted by the other field
        queries.append((endpoint, [("sort_column", "id"), ("per", "20"), (f"{column}[from]", middle),
                                   (f"{column}[to]", late)]))
        queries.append((endpoint, [("sort_column", other), ("sort_direction", "DESC"),
                                   (f"{column}[from]", middle)]))
    ids = [str(r["id"]) for r in tenant.records("calls")][:5]
    queries += [
        ("calls", [("per", "50"), ("page", page)]) for page in ("1", "3", "7")   # page numbers only
    ] + [
        ("calls", [("id[]", i) for i in ids]),                                   # decoded: id filter
        ("calls", [("sort_column", "rating"), ("per", "100")]),                  # decoded: other field
        ("calls", [("rating[from]", "3"), ("updated_at[from]", "2026-01-01T00:00:00Z")]),
        ("emails", [("sort_column", "updated_at"), ("updated_at[to]", "2099-01-01T00:00:00Z")]),
        ("chats", [("sort_column", "created_at"), ("sort_direction", "DESC"), ("per", "7")]),
    ]
    return queries


@pytest.mark.parametrize("inclusive", [True, False])
def test_a_frozen_tenant_answers_exactly_like_the_general_query(inclusive: bool) -> None:
    import json

    from sources.ujet.sandbox.frozen import FrozenTenant

    tenant = Tenant(size=TenantSize(days=2, agents=6, calls=300, chats=20, emails=10))
    options = {"api_token": "t", "from_inclusive": inclusive, "to_inclusive": inclusive}
    general = SandboxServer(tenant, SandboxOptions(**options))
    frozen = SandboxServer(FrozenTenant.freeze(tenant), SandboxOptions(**options))
    try:
        for endpoint, params in _frozen_queries(tenant):
            expected = general._list(endpoint, params)
            answer = frozen._list(endpoint, params)
            assert isinstance(answer.body, bytes), "frozen lists answer from their compact copies"
            assert json.loads(answer.body) == json.loads(expected.body), (endpoint, params)
            links = (answer.headers.pop("Link").replace(frozen.base_url, ""),
                     expected.headers.pop("Link").replace(general.base_url, ""))
            assert answer.headers == expected.headers and links[0] == links[1], (endpoint, params)
        # the generator writes every time alike, so ranges are found by bisection
        assert frozen.frozen is not None
        assert frozen.frozen.lists["calls"]._indexes["updated_at"].contiguous
    finally:
        general._httpd.server_close()
        frozen._httpd.server_close()


def test_a_generated_frozen_tenant_serves_each_record_once_with_consistent_pickups() -> None:
    import json

    from sources.ujet.sandbox.frozen import FrozenTenant

    tenant = FrozenTenant.generate(size=TenantSize(days=3, agents=9, calls=700, chats=150, emails=40))
    with SandboxServer(tenant, SandboxOptions(api_token="t")) as server:
        served: dict[str, list[dict]] = {}
        for endpoint in ("calls", "chats", "emails", "agent_activity_logs"):
            auth = ("sandbox", "t")
            first = httpx.get(f"{server.base_url}/{endpoint}", params={"per": 100}, auth=auth)
            pages = -(-int(first.headers["Total"]) // 100)
            served[endpoint] = [r for page in range(1, pages + 1) for r in json.loads(httpx.get(
                f"{server.base_url}/{endpoint}", params={"per": 100, "page": page}, auth=auth).content)]

    samples = {kind: len(Tenant(size=TenantSize(calls=0, chats=0, emails=0)).records(kind))
               for kind in ("calls", "chats", "emails")}
    assert {k: len(v) - samples[k] for k, v in served.items() if k != "agent_activity_logs"} == \
        {"calls": 700, "chats": 150, "emails": 40}
    for records in served.values():
        assert len({r["id"] for r in records}) == len(records), "no record twice"
    call_ids = {r["id"] for r in served["calls"]}
    pickups = [r for r in served["agent_activity_logs"] if r["activity"] == "call_picked_up"]
    assert pickups and all(r["call_id"] in call_ids for r in pickups)
    handled = sum(1 for c in served["calls"] for s in c.get("handle_durations") or []
                  if not s.get("acw_duration") and c["id"] >= 1000)
    assert len([p for p in pickups if p["call_id"] >= 1000]) == handled
    # the views still answer from the contacts of the last day
    assert tenant.views.sla("call", 1440, by_group=False)


def test_a_frozen_tenant_cannot_churn() -> None:
    from sources.ujet.sandbox.frozen import FrozenTenant

    frozen = FrozenTenant.freeze(Tenant(size=TenantSize(days=1, agents=3, calls=5, chats=1, emails=1)))
    with pytest.raises(ValueError, match="cannot churn"):
        SandboxServer(frozen, SandboxOptions(churn_per_request=1))


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


def _timestamps(value: object) -> list[str]:
    """Every string in a record that reads as one of the API's timestamps."""
    import re

    if isinstance(value, dict):
        return [t for v in value.values() for t in _timestamps(v)]
    if isinstance(value, list):
        return [t for v in value for t in _timestamps(v)]
    return [value] if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z", value) else []


@pytest.mark.parametrize("frozen", [False, True])
def test_a_new_tenant_has_nothing_that_happens_after_now(frozen: bool) -> None:
    """A record updated in the future would be one a run bounded by its start must skip,
    while a generic client reads it: the tenant's history ends when the tenant is made."""
    from datetime import datetime, timezone

    from sources.ujet.sandbox.frozen import FrozenTenant
    from sources.ujet.sandbox.tenant import CONTACT_KINDS

    size = TenantSize(days=0.5, agents=12, calls=2_000, chats=600, emails=200)
    tenant = FrozenTenant.generate(size=size) if frozen else Tenant(size=size)
    views = tenant.views if isinstance(tenant, FrozenTenant) else tenant
    now = views.now()
    generated = [r for kind in CONTACT_KINDS + ("agent_activity_logs",)
                 for r in (tenant.lists[kind].records() if isinstance(tenant, FrozenTenant)
                           else tenant.records(kind))]
    times = [t for record in generated for t in _timestamps(record)]

    assert len(times) > 10 * len(generated) / 2
    latest = max(datetime.fromisoformat(t.replace("Z", "+00:00")) for t in times)
    assert latest <= now.astimezone(timezone.utc)
