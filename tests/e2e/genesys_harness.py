"""A sandbox GWS site, ccelt listening to it, and the truth to hold the warehouse to.

The truth comes from the sandbox, never from the source's code: `delivered` is every message
the server wrote whole into an answer, `world.emitted` says what each one meant, and
`world.listed()` is the user's list at the end (the world is paused before the listener's
final list, so that list is the end state).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

import dlt
import duckdb
import pytest

from pipelines.registry import instance
from pipelines.runner import RunSummary, run_source
from sources.genesys.sandbox.server import SandboxOptions, SandboxServer
from sources.genesys.sandbox.world import LEAVING_STATES, Interaction, World, WorldOptions
from transforms.dialect import RawSource
from transforms.settings import TransformSettings

BOTH_CHANNELS = ["/v2/me/interactions", "/v2/me/emails"]


@dataclass
class Genesys:
    world: World
    server: SandboxServer
    database: Path
    spool: Path

    def destination(self) -> Any:
        return dlt.destinations.duckdb(str(self.database), destination_name="warehouse")

    def source_args(self, **overrides: Any) -> dict[str, Any]:
        return {"base_url": self.server.base_url, "username": self.server.options.username,
                "password": self.server.options.password, "allow_insecure_http": True,
                "spool_dir": str(self.spool), **overrides}

    def env(self) -> dict[str, str]:
        return {"SOURCES__GENESYS__BASE_URL": self.server.base_url,
                "SOURCES__GENESYS__USERNAME": self.server.options.username,
                "SOURCES__GENESYS__PASSWORD": self.server.options.password,
                "SOURCES__GENESYS__ALLOW_INSECURE_HTTP": "true",
                "SOURCES__GENESYS__SPOOL_DIR": str(self.spool),
                "SOURCES__GENESYS__LOAD_EVERY": "1",
                "DESTINATION__WAREHOUSE__CREDENTIALS": str(self.database)}

    def pipeline(self) -> dlt.Pipeline:
        return dlt.pipeline("genesys", destination=self.destination(), dataset_name="genesys")

    def raw_source(self) -> RawSource:
        return RawSource("genesys", "genesys", "genesys")

    def listen(self, seconds: float, pause_world_after: Optional[float] = None,
               interrupt_after: Optional[float] = None, transform: Optional[str] = None,
               **overrides: Any) -> RunSummary:
        """ccelt listens in this process for `seconds` (or until interrupted, as a signal
        would); the world stops changing after `pause_world_after` seconds."""
        timers = []
        if pause_world_after is not None:
            timers.append(threading.Timer(pause_world_after, self.server.pause_world))
        interrupt = threading.Event()
        if interrupt_after is not None:
            timers.append(threading.Timer(interrupt_after, interrupt.set))
        for timer in timers:
            timer.start()
        try:
            return run_source(instance("genesys"), destination=self.destination(),
                              source_args=self.source_args(
                                  listen_seconds=None if interrupt_after else seconds,
                                  **overrides),
                              interrupt=interrupt,
                              transform=TransformSettings(transform) if transform else None)
        finally:
            for timer in timers:
                timer.cancel()

    def rows(self, sql: str) -> list[dict[str, Any]]:
        with duckdb.connect(str(self.database), read_only=True) as connection:
            cursor = connection.execute(sql)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]


@pytest.fixture
def genesys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Genesys]]:
    servers: list[SandboxServer] = []
    monkeypatch.setenv("SOURCES__GENESYS__LOAD_EVERY", "1")

    def make(seed: int = 11, start_with: int = 30, world: Optional[WorldOptions] = None,
             **options: Any) -> Genesys:
        the_world = World(seed=seed, options=world or WorldOptions())
        the_world.steps(start_with)
        server = SandboxServer(the_world, SandboxOptions(**{"poll_timeout": 0.5, **options})).start()
        servers.append(server)
        return Genesys(the_world, server, tmp_path / f"genesys{len(servers)}.duckdb",
                       tmp_path / f"spool{len(servers)}")

    yield make
    for server in servers:
        server.stop()


# -- the truth ---------------------------------------------------------------------------------
def expected_message_id(message: dict[str, Any]) -> str:
    """The documented id of a notification: the Bayeux `id`, else a hash of the channel and
    the payload (docs/genesys-tables.md)."""
    if message.get("id"):
        return str(message["id"])
    body = json.dumps({"channel": message.get("channel"), "data": message.get("data")},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest()[:32]


def _find(mapping: dict[str, Any], *names: str) -> Any:
    folded = {key.lower().replace("_", ""): value for key, value in mapping.items()}
    for name in names:
        if name in folded:
            return folded[name]
    return None


def expected_event(message: dict[str, Any]) -> dict[str, Any]:
    """What the test expects `interaction_events` to hold for a delivered message, read from
    the message as the sandbox sent it."""
    data = message["data"]
    if "messageType" in data:   # 8.5.2
        body, email = data["email"], data["email"]
        type_name = data["messageType"]
    else:
        body = data
        email = _find(data, "emailobject") or {}
        type_name = data.get("messageTypeName")
    when = _find(body, "receivedat")
    return {
        "message_id": expected_message_id(message), "channel": message["channel"],
        "interaction_id": _find(body, "id"), "state": _find(body, "state"),
        "interaction_sub_type": _find(body, "interactionsubtype"),
        "message_type_name": type_name,
        "email_object__subject": _find(email, "subject"),
        "email_object__from_address": _find(email, "fromaddress"),
        "email_object__to_address": _find(email, "toaddress"),
        "email_object__text": None, "email_object__structured_text": None,
        "user_data": json.loads(json.dumps(_find(body, "userdata"))),
        "current_queue": _find(body, "currentqueue"),
        "received_at": datetime.strptime(when, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc),
    }


def loaded_event(row: dict[str, Any]) -> dict[str, Any]:
    out = {key: row.get(key) for key in (
        "message_id", "channel", "interaction_id", "state", "interaction_sub_type",
        "message_type_name", "email_object__subject", "email_object__from_address",
        "email_object__to_address", "email_object__text", "email_object__structured_text",
        "current_queue", "received_at")}
    out["user_data"] = json.loads(row["user_data"]) if row.get("user_data") else None
    return out


def assert_events_exact(g: Genesys, allowed_missing: frozenset[str] = frozenset()) -> None:
    """Every delivered notification is in `interaction_events` exactly once, every field as
    sent (bodies dropped); nothing there that was not delivered."""
    delivered = {expected_message_id(d.message): d.message for d in g.server.delivered}
    rows = g.rows("select * from genesys.interaction_events")
    ids = [r["message_id"] for r in rows]
    assert len(ids) == len(set(ids)), "a notification was loaded twice"
    missing = set(delivered) - set(ids) - allowed_missing
    assert missing == set(), f"{len(missing)} delivered notification(s) not loaded"
    assert set(ids) - set(delivered) == set(), "loaded notifications the server never delivered"
    for row in rows:
        assert loaded_event(row) == expected_event(delivered[row["message_id"]]), row["message_id"]
    capabilities = g.rows("select e.message_id, c.value from genesys.interaction_events e join"
                          " genesys.interaction_events__capabilities c on c._dlt_parent_id ="
                          " e._dlt_id order by e.message_id, c._dlt_list_idx")
    got: dict[str, list[str]] = {}
    for row in capabilities:
        got.setdefault(row["message_id"], []).append(row["value"])
    for message_id in ids:
        data = delivered[message_id]["data"]
        body = data["email"] if "messageType" in data else data
        assert got.get(message_id, []) == list(body.get("capabilities") or []), message_id


def assert_interactions_exact(g: Genesys) -> None:
    """`interactions` holds every listed interaction as the world has it now, active; and
    every other interaction it holds as not active."""
    listed: dict[str, Interaction] = {i.id: i for i in g.world.listed()}
    rows = {r["interaction_id"]: r for r in g.rows("select * from genesys.interactions")}
    assert set(listed) <= set(rows), "listed interactions missing from the table"
    for interaction_id, interaction in listed.items():
        row = rows[interaction_id]
        payload = interaction.payload()
        assert row["is_active"] is True and row["left_list_at"] is None, interaction_id
        assert (row["state"], row["interaction_sub_type"], row["current_queue"],
                json.loads(row["user_data"]), row["email_object__subject"],
                row["email_object__from_address"]) == (
            payload["state"], payload["interactionSubType"], payload.get("currentQueue"),
            payload["userData"], payload["email_object"]["Subject"],
            payload["email_object"]["FromAddress"]), interaction_id
    for interaction_id, row in rows.items():
        if interaction_id in listed:
            continue
        assert row["is_active"] is False and row["left_list_at"] is not None, interaction_id
        known = g.world.interaction(interaction_id)
        assert known is not None and known.state in LEAVING_STATES
