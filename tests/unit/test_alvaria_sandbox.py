"""The Alvaria sandbox answers as the EmailQueue document says (and as an API gateway in
front of it would): filters, paging with a silent cap, extended info, the token endpoint,
and the documented `ErrorResponse`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sources.alvaria.sandbox.organisation import SAMPLE, Organisation, OrganisationSize
from sources.alvaria.sandbox.server import SandboxOptions, SandboxServer


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    organisation = Organisation(seed=3, size=OrganisationSize(emails=80))
    with SandboxServer(organisation, SandboxOptions(page_cap=25, token_lifetime=60)) as server:
        yield server


def token(server: SandboxServer, **form: str) -> httpx.Response:
    return httpx.post(server.token_url, auth=(server.options.client_id, server.options.client_secret),
                      data={"grant_type": "client_credentials", "scope": "emailqueueapi", **form})


def emails(server: SandboxServer, params: Any = None, *, key: str = "", bearer: str = "") -> httpx.Response:
    if not bearer:
        bearer = token(server).json()["access_token"]
    return httpx.get(server.origin + server.emails_path, params=params,
                     headers={"x-api-key": key or server.options.api_key,
                              "Authorization": f"Bearer {bearer}"})


def test_the_documents_sample_item_is_served_word_for_word(sandbox: SandboxServer) -> None:
    body = emails(sandbox, {"getExtendedInfo": "true", "maxResults": "1"}).json()

    assert body["kind"] == "via#emailList" and body["version"] == "20.0"
    assert body["items"][0] == SAMPLE
    assert body["totalItems"] == 80 and body["lastIndexReturned"] == 0


def test_pages_are_cut_silently_at_the_cap_and_ordered_by_id(sandbox: SandboxServer) -> None:
    first = emails(sandbox, {"maxResults": "1000"}).json()
    rest = emails(sandbox, {"startIndex": "25", "maxResults": "1000"}).json()

    ids = [int(item["id"]) for item in first["items"] + rest["items"]]
    assert len(first["items"]) == 25 and first["totalItems"] == 80
    assert ids == sorted(ids) and len(set(ids)) == 50
    assert "workHandlerName" not in str(first) and "workTypeName" not in str(first)
    past = emails(sandbox, {"startIndex": "500"}).json()
    assert past["items"] == [] and past["totalItems"] == 80


def test_every_documented_filter_selects_what_it_names(sandbox: SandboxServer) -> None:
    active = sandbox.organisation.listing()

    def ids(params: Any) -> list[str]:
        """Every page of the filtered list (nothing changes meanwhile)."""
        found: list[str] = []
        while True:
            body = emails(sandbox, [*params, ("startIndex", str(len(found)))]).json()
            found += [item["id"] for item in body["items"]]
            if not body["items"]:
                assert len(found) == body["totalItems"]
                return found

    handler = next(e.fields["workHandlerId"] for e in active if e.fields.get("workHandlerId"))
    assert ids([("state", "Queued"), ("state", "Active")]) == [
        e.id for e in active if e.state in ("Queued", "Active")]
    assert ids([("state", "Queued,Wrap")]) == [e.id for e in active if e.state in ("Queued", "Wrap")]
    assert ids([("workTypeId", "111")]) == [e.id for e in active if e.fields["workTypeId"] == "111"]
    assert ids([("emailType", "InboundEmail")]) == [
        e.id for e in active if e.fields["emailType"] == "InboundEmail"]
    assert ids([("workHandlerId", handler)]) == [
        e.id for e in active if e.fields.get("workHandlerId") == handler]
    assert ids([("umId", "01-0010010000-190415-*")]) == [SAMPLE["id"]]
    assert ids([("umId", "01-0010010000-190415-18414086?-00034")]) == [SAMPLE["id"]]


def test_bad_parameters_get_the_documented_error_response(sandbox: SandboxServer) -> None:
    for params, scope in (({"startIndex": "-1"}, "startIndex"), ({"maxResults": "0"}, "maxResults"),
                          ({"state": "Sleeping"}, "state"), ({"emailType": "Fax"}, "emailType")):
        answer = emails(sandbox, params)
        body = answer.json()
        assert answer.status_code == 400 and body["code"] == 400, params
        assert body["errors"][0]["scope"] == scope and body["message"]


def test_the_gateway_refuses_keys_and_tokens_as_a_gateway_does(sandbox: SandboxServer) -> None:
    good = token(sandbox).json()["access_token"]

    assert emails(sandbox, key="wrong").status_code == 403
    assert emails(sandbox, key="wrong").json() == {"message": "Forbidden"}
    assert emails(sandbox, bearer="made-up").status_code == 401
    sandbox.revoke_tokens()
    assert emails(sandbox, bearer=good).status_code == 401


def test_the_token_endpoint_grants_client_credentials_and_nothing_else(sandbox: SandboxServer) -> None:
    granted = token(sandbox)
    assert granted.status_code == 200
    assert granted.json()["token_type"] == "Bearer" and granted.json()["expires_in"] == 60

    assert token(sandbox, scope="other").json() == {"error": "invalid_scope"}
    assert token(sandbox, grant_type="password").json() == {"error": "unsupported_grant_type"}
    wrong = httpx.post(sandbox.token_url, auth=(sandbox.options.client_id, "nope"),
                       data={"grant_type": "client_credentials", "scope": "emailqueueapi"})
    assert wrong.status_code == 401 and wrong.json() == {"error": "invalid_client"}
    by_form = httpx.post(sandbox.token_url, data={
        "grant_type": "client_credentials", "scope": "emailqueueapi",
        "client_id": sandbox.options.client_id, "client_secret": sandbox.options.client_secret})
    assert by_form.status_code == 200


def test_every_change_moves_the_sequence_number_and_the_modified_time() -> None:
    organisation = Organisation(seed=5, size=OrganisationSize(emails=30))
    before = {k: dict(e.fields) for k, e in organisation.active.items()}

    changed = organisation.churn(40)

    for key in set(changed) & set(before) & set(organisation.active):
        now = organisation.active[key].fields
        assert int(now["eventSequenceNumber"]) > int(before[key]["eventSequenceNumber"])
        assert now["lastModifiedTime"] >= before[key]["lastModifiedTime"]
    states = {v.state for e in organisation.everyone().values() for v in e.history}
    assert {"Queued", "Active", "Wrap"} <= states and len(states) >= 7
