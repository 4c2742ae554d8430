"""The fake GWS site answers as the documents say a real one does (../shared/api-docs/
genesys-behaviour.md): sessions and CSRF, the CometD conversation, the interaction list."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sources.genesys.sandbox.server import SandboxOptions, SandboxServer
from sources.genesys.sandbox.world import World, WorldOptions


@pytest.fixture
def site() -> Iterator[SandboxServer]:
    world = World(seed=2, options=WorldOptions(emails_share=0.5))
    world.steps(30)
    with SandboxServer(world, SandboxOptions(password="pw", poll_timeout=0.2)) as server:
        yield server


def signed_in(server: SandboxServer) -> tuple[httpx.Client, dict[str, str]]:
    client = httpx.Client(base_url=server.base_url)
    me = client.get("/me", auth=("reporting.agent", "pw"))
    assert me.status_code == 200 and "JSESSIONID" in me.headers["set-cookie"]
    name, value = me.headers["X-CSRF-HEADER"], me.headers["X-CSRF-TOKEN"]
    return client, {name: value}


def test_a_wrong_password_is_401_and_a_post_without_the_csrf_header_is_403(site) -> None:
    assert httpx.get(site.base_url + "/me", auth=("reporting.agent", "no")).status_code == 401
    client, csrf = signed_in(site)
    refused = client.post("/notifications", json=[{"channel": "/meta/handshake"}])
    assert refused.status_code == 403 and "Csrf" in refused.json()["statusMessage"]
    assert client.post("/notifications", json=[{"channel": "/meta/handshake"}],
                       headers=csrf).status_code == 200
    site.expire_sessions()
    assert client.get("/me/interactions").status_code == 401


def test_wildcards_deliver_both_channels_and_an_unknown_client_is_told_to_handshake(site) -> None:
    client, csrf = signed_in(site)
    client_id = client.post("/notifications", json=[{"channel": "/meta/handshake"}],
                            headers=csrf).json()[0]["clientId"]
    client.post("/notifications", json=[{"channel": "/meta/subscribe", "clientId": client_id,
                                         "subscription": "/v2/me/*"}], headers=csrf)
    sent = site.emit(20)
    answer = client.post("/notifications", json=[{"channel": "/meta/connect",
                                                  "clientId": client_id}], headers=csrf).json()

    data = [m for m in answer if not m["channel"].startswith("/meta/")]
    assert [m["id"] for m in data] == [n.message["id"] for n in sent]
    assert {m["channel"] for m in data} == {"/v2/me/interactions", "/v2/me/emails"}
    assert answer[-1]["channel"] == "/meta/connect" and answer[-1]["successful"] is True
    unknown = client.post("/notifications", json=[{"channel": "/meta/connect",
                                                   "clientId": "nobody"}], headers=csrf).json()
    assert unknown[0]["error"] == "402::Unknown client"
    assert unknown[0]["advice"]["reconnect"] == "handshake"


def test_the_list_gives_uris_or_with_fields_the_interactions_themselves(site) -> None:
    client, _ = signed_in(site)
    listed = site.world.listed()
    uris = client.get("/me/interactions").json()["interactions"]
    full = client.get("/me/interactions", params={"fields": "*"}).json()

    assert uris == [f"{site.base_url}/me/interactions/{i.id}" for i in listed]
    assert full["statusCode"] == 0
    assert [(i["id"], i["state"]) for i in full["interactions"]] == [(i.id, i.state) for i in listed]
    client.post("/me/interactions/" + (listed[0].id if listed else "x"),
                json={"operationName": "Accept"}, headers={"X-CSRF-TOKEN": "wrong"})
    assert site.agent_operations == []      # refused before it reached the operation
