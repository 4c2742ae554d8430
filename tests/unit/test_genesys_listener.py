"""The listener follows the server's advice (CometD's `reconnect`, `interval`, `timeout`) and
keeps the order handshake → subscribe → list, against a scripted server."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from sources.genesys.helpers.listener import AdvisedToStop, Listener, RecentIds
from sources.kit.privacy import PiiPolicy
from sources.kit.spool import Spool, SpoolPosition


class Comet:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def wait_at_least(self, seconds: float) -> None:
        self.waits.append(seconds)


class ScriptedGws:
    """Answers each connect from `answers` in turn; logs every call."""

    def __init__(self, answers: list[list[dict[str, Any]]], stop: threading.Event) -> None:
        self.answers, self.stop = answers, stop
        self.calls: list[str] = []
        self.generation = 1
        self.comet = Comet()
        self.clients = 0

    def me(self) -> dict[str, Any]:
        self.calls.append("me")
        return {"user": {"userName": "agent"}}

    def handshake(self) -> list[dict[str, Any]]:
        self.clients += 1
        self.calls.append("handshake")
        return [{"channel": "/meta/handshake", "successful": True,
                 "clientId": f"c{self.clients}", "advice": {"timeout": 30000}}]

    def subscribe(self, client_id: str, channels: list[str]) -> list[dict[str, Any]]:
        self.calls.append(f"subscribe {client_id}")
        return [{"channel": "/meta/subscribe", "successful": True, "subscription": c}
                for c in channels]

    def interactions(self) -> list[Any]:
        self.calls.append("list")
        return []

    def poll(self, client_id: str) -> list[dict[str, Any]]:
        self.calls.append(f"connect {client_id}")
        if not self.answers:
            self.stop.set()
            return [{"channel": "/meta/connect", "successful": True}]
        return self.answers.pop(0)

    def disconnect(self, client_id: str) -> None:
        self.calls.append(f"disconnect {client_id}")


def listen(tmp_path: Path, answers: list[list[dict[str, Any]]]) -> tuple[Listener, ScriptedGws, list[float]]:
    stop = threading.Event()
    api = ScriptedGws(answers, stop)
    slept: list[float] = []
    listener = Listener(api, ["/v2/me/interactions"], Spool(tmp_path / "spool"),  # type: ignore[arg-type]
                        PiiPolicy(), stop, sleep=slept.append).start()
    listener.join(timeout=10)
    assert listener.done.is_set()
    return listener, api, slept


def test_handshake_subscribe_list_then_connect_and_every_message_spooled_before_the_next(
        tmp_path: Path) -> None:
    message = {"channel": "/v2/me/interactions", "id": "1", "data": {"id": "A", "state": "Invited"}}
    listener, api, _ = listen(tmp_path, [
        [message, {"channel": "/meta/connect", "successful": True, "advice": {"interval": 0}}]])

    assert listener.error is None
    assert api.calls == ["me", "handshake", "subscribe c1", "list", "connect c1", "connect c1",
                         "list", "disconnect c1"]
    records = [r for _, r in Spool(tmp_path / "spool").read(SpoolPosition())]
    assert [r["kind"] for r in records if r["kind"] != "session"] == ["snapshot", "events",
                                                                      "snapshot"]
    assert api.comet.waits and api.comet.waits[0] == 30.0 + 15.0


def test_advice_to_handshake_and_402_start_over_and_interval_is_waited(tmp_path: Path) -> None:
    listener, api, slept = listen(tmp_path, [
        [{"channel": "/meta/connect", "successful": True, "advice": {"interval": 2500}}],
        [{"channel": "/meta/connect", "successful": False, "error": "402::Unknown client",
          "advice": {"reconnect": "handshake"}}],
        [{"channel": "/meta/connect", "successful": True, "advice": {"reconnect": "handshake"}}],
    ])

    assert listener.error is None
    assert slept == [2.5]
    assert api.calls[:12] == ["me", "handshake", "subscribe c1", "list", "connect c1",
                              "connect c1", "handshake", "subscribe c2", "list", "connect c2",
                              "handshake", "subscribe c3"]
    events = [r["event"] for _, r in Spool(tmp_path / "spool").read(SpoolPosition())
              if r["kind"] == "session"]
    assert "unknown client (402)" in events and "advice" in events


def test_advice_none_stops_the_listener_with_an_error(tmp_path: Path) -> None:
    listener, api, _ = listen(tmp_path, [
        [{"channel": "/meta/connect", "successful": False, "error": "403::Denied",
          "advice": {"reconnect": "none"}}]])

    assert isinstance(listener.error, AdvisedToStop)
    assert "connect c1" in api.calls and api.calls.count("handshake") == 1
    with pytest.raises(AdvisedToStop, match="not to reconnect"):
        raise listener.error


def test_a_redelivery_is_dropped_before_the_spool_and_counted(tmp_path: Path) -> None:
    def note(message_id: str | None, state: str) -> dict[str, Any]:
        message = {"channel": "/v2/me/interactions", "data": {"id": "A", "state": state}}
        return {**message, "id": message_id} if message_id else message

    connected = {"channel": "/meta/connect", "successful": True}
    listener, _, _ = listen(tmp_path, [
        # the same id twice in one answer, again in the next, and an id-less message twice
        [note("1", "Invited"), note("1", "Invited"), note(None, "Processing"), connected],
        [note("1", "Invited"), note("2", "Invited"), note(None, "Processing"), connected],
    ])

    assert listener.error is None
    records = [r for _, r in Spool(tmp_path / "spool").read(SpoolPosition())]
    spooled = [(row["message_id"][:7], row["state"])
               for r in records if r["kind"] == "events" for row in r["rows"]]
    assert spooled == [("1", "Invited"), ("sha256:", "Processing"), ("2", "Invited")]
    assert listener.received == 3 and listener.redelivered == 3
    stopped = [r["detail"] for r in records if r["kind"] == "session" and r["event"] == "stopped"]
    assert stopped == ["3 notification(s) in 3 connect(s), 3 redelivery(ies) dropped"]


def test_recent_ids_forget_the_oldest_beyond_their_size() -> None:
    recent = RecentIds(size=2)

    # a repeat does not refresh an id: "a" is forgotten once "c" makes three
    assert [recent.seen(key) for key in ("a", "b", "a", "c", "c", "b", "a")] == \
        [False, False, True, False, True, True, False]
