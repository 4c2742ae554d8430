"""Pure pieces of the UJET source: pages, rows, settings parsing."""

from __future__ import annotations

from datetime import datetime, timezone

import httpx
import pendulum
import pytest

from sources.kit.auth import basic
from sources.kit.http import ApiClient, JsonResponse, RateBudget
from sources.kit.settings import parse_lookback, parse_start_date
from sources.ujet import ujet_source
from sources.ujet.helpers.client import UjetApi, resolve_base_url, validate_subdomain
from sources.kit.errors import ConfigurationError, UnexpectedPayload
from sources.kit.pages import Page
from sources.kit.rows import prepare
from sources.ujet.helpers.rows import flatten_tree

BASE = "https://acme.ujet.co/manager/api/v1"


def response(data: object, headers: dict[str, str]) -> JsonResponse:
    raw = httpx.Response(200, json=data, headers=headers)
    return JsonResponse(data, raw.headers, {rel: v["url"] for rel, v in raw.links.items()})


@pytest.mark.parametrize("headers, number, has_next", [
    ({"Link": f'<{BASE}/calls?page=3>; rel="next", <{BASE}/calls?page=9>; rel="last"'}, 2, True),
    ({"Link": f'<{BASE}/calls?page=1>; rel="first"', "Total": "900", "Per-Page": "100"}, 9, False),
    ({"Total": "250", "Per-Page": "100"}, 2, True),
    ({"Total": "250", "Per-Page": "100"}, 3, False),
    ({}, 1, None),
], ids=["link-next", "link-without-next-wins", "totals-more", "totals-last", "no-headers"])
def test_page_reads_what_the_headers_say_about_more_pages(headers, number, has_next) -> None:
    page = Page.from_response(response([{"id": 1}], headers), number, "GET /calls")

    assert page.has_next is has_next


def test_page_rejects_a_payload_that_is_not_a_list_naming_the_endpoint() -> None:
    with pytest.raises(UnexpectedPayload, match="GET /calls returned a dict"):
        Page.from_response(response({"message": "oops"}, {}), 1, "GET /calls")


def test_flatten_tree_gives_each_node_its_depth_and_paths_parents_first() -> None:
    tree = [{"id": 1, "name": "Support", "parent_id": None, "children": [
        {"id": 2, "name": "Billing", "parent_id": 1, "children": [
            {"id": 3, "name": "Refunds", "parent_id": 2, "children": []}]},
        {"id": 4, "name": "Sales", "parent_id": 1, "children": []}]}]

    rows = flatten_tree(tree)

    assert [(r["id"], r["depth"], r["path"], r["name_path"], r["is_leaf"]) for r in rows] == [
        (1, 0, "1", "Support", False),
        (2, 1, "1/2", "Support/Billing", False),
        (3, 2, "1/2/3", "Support/Billing/Refunds", True),
        (4, 1, "1/4", "Support/Sales", True),
    ]
    assert all("children" not in r for r in rows)


def test_vendor_ids_that_disagree_with_the_root_are_kept_beside_it() -> None:
    call = {"id": 1, "call_id": 99,
            "participants": [{"id": 5, "call_id": 3}, {"id": 6, "call_id": 1}, {"id": 7}],
            "recordings": [{"id": 8, "call_id": 3, "redaction_times": [{"call_id": 4}]}]}

    call = prepare(call, "call_id")

    assert call["participants"] == [{"id": 5, "call_id": 3, "reported_call_id": 3},
                                    {"id": 6, "call_id": 1}, {"id": 7}]
    assert call["recordings"][0]["reported_call_id"] == 3
    assert call["recordings"][0]["redaction_times"][0]["reported_call_id"] == 4
    assert "reported_call_id" not in call  # only child rows get the root id written over


def test_prepared_records_carry_typed_timestamps_and_no_nulls() -> None:
    record = {"id": 1, "updated_at": "2024-01-30T07:09:48.813Z", "rating": None,
              "agent_info": {"id": 7, "name": None},
              "queue_durations": [{"id": 2, "started_at": "2024-01-30T07:00:00Z", "lang": "en"}],
              "tags": ["2024-01-30T07:00:00.000Z", None, "vip"],
              # what is not the API's UTC timestamp stays as it was sent
              "odd": ["2024-01-30 07:09:48 UTC", "2024-01-30T07:09:48+05:00", "2024-13-40T99:00:00Z"]}

    prepared = prepare(record, "call_id")

    assert prepared == {
        "id": 1, "updated_at": datetime(2024, 1, 30, 7, 9, 48, 813000, tzinfo=timezone.utc),
        "agent_info": {"id": 7},
        "queue_durations": [{"id": 2, "started_at": datetime(2024, 1, 30, 7, tzinfo=timezone.utc),
                             "lang": "en"}],
        "tags": [datetime(2024, 1, 30, 7, tzinfo=timezone.utc), None, "vip"],
        "odd": ["2024-01-30 07:09:48 UTC", "2024-01-30T07:09:48+05:00", "2024-13-40T99:00:00Z"]}


@pytest.mark.parametrize("value, seconds", [(600, 600), ("600", 600), ("PT10M", 600),
                                            ("P1DT1H", 90000), (0, 0)])
def test_lookback_accepts_seconds_or_an_iso_duration(value, seconds) -> None:
    assert parse_lookback(value, "sources.ujet.lookback") == seconds


@pytest.mark.parametrize("value", ["ten minutes", "-5", "10m", None])
def test_lookback_rejects_anything_else_naming_the_key(value) -> None:
    with pytest.raises(ConfigurationError, match="sources.ujet.lookback"):
        parse_lookback(value, "sources.ujet.lookback")


def test_start_date_accepts_dates_and_times_and_means_utc() -> None:
    assert parse_start_date(key="sources.ujet.start_date", value="2024-01-01") == pendulum.datetime(2024, 1, 1, tz="UTC")
    assert parse_start_date(key="sources.ujet.start_date", value="2024-01-01T02:00:00+02:00") == pendulum.datetime(2024, 1, 1, tz="UTC")
    with pytest.raises(ConfigurationError, match="sources.ujet.start_date"):
        parse_start_date(key="sources.ujet.start_date", value="last tuesday")


def test_base_url_defaults_to_the_documented_manager_path_and_can_be_overridden() -> None:
    assert resolve_base_url("acme", "ujet.co", None) == "https://acme.ujet.co/manager/api/v1"
    assert resolve_base_url("acme", "ujet.co", "http://127.0.0.1:8765/manager/api/v1/") == \
        "http://127.0.0.1:8765/manager/api/v1"
    with pytest.raises(ConfigurationError, match="sources.ujet.base_url"):
        resolve_base_url("acme", "ujet.co", "acme.ujet.co")


@pytest.mark.parametrize("value", ["", "acme.ujet.co", "https://acme", "ac me"])
def test_subdomain_must_be_one_host_label(value) -> None:
    with pytest.raises(ConfigurationError, match="sources.ujet.subdomain"):
        validate_subdomain(value)


@pytest.mark.parametrize("setting, value, key", [
    ("page_size", 0, "page_size"), ("requests_per_second", 0, "requests_per_second"),
    ("sla_minutes", 0, "sla_minutes"), ("max_attempts", 0, "max_attempts"),
    ("timeout", 0, "timeout"), ("retry_backoff", -1, "retry_backoff"),
    ("api_token", " ", "api_token"),
])
def test_source_refuses_bad_settings_before_any_request(setting, value, key) -> None:
    args = dict(subdomain="acme", api_token="token", base_url="http://127.0.0.1:9/manager/api/v1")
    args[setting] = value

    with pytest.raises(ConfigurationError, match=f"sources.ujet.{key}"):
        ujet_source(**args)


def test_unpaged_endpoints_follow_next_links_if_the_server_pages_anyway() -> None:
    pages = {1: ([{"id": 1}], {"Link": f'<{BASE}/user_statuses?page=2>; rel="next"'}),
             2: ([{"id": 2}], {})}

    def handler(request: httpx.Request) -> httpx.Response:
        body, headers = pages[int(request.url.params.get("page", "1"))]
        return httpx.Response(200, json=body, headers=headers)

    client = ApiClient(BASE, basic("acme", "token"), RateBudget(None), vendor="UJET", auth_hint="",
                       transport=httpx.MockTransport(handler))

    assert UjetApi(client, 100).get_list("user_statuses") == [{"id": 1}, {"id": 2}]
