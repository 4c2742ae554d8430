"""The CometD listener: receives notifications and spools them, never waiting for loading.

One thread runs the Bayeux conversation (../shared/api-docs/genesys-behaviour.md): sign in,
handshake, subscribe, *then* list the current interactions (listing first would leave a gap
in which a change is neither listed nor notified), then connect again and again, each
answer's messages appended to the spool (fsync) before the next connect. It never waits for
dlt: the server forgets a client that does not connect again within `maxInterval` (10 s),
with everything queued for it.

It follows the server's `advice` (`retry` after `interval`, `handshake`, `none`), answers
`402::Unknown client` with a new handshake, signs in again when the session dies (the
kit's `SessionCookie` does, and `generation` tells this thread to handshake again), and
after every new handshake and every failed connect lists the interactions again, so the
loader can mark those that left while nothing was heard. Every such moment is spooled as a
`session` record: the `sessions` table shows when data might have been missed.

A redelivered notification (same message id) is dropped here, before the spool: the server
redelivers only to the client it queued for, so the ids of this listener's recent messages
are enough (`RecentIds`), and `interaction_events` can be appended to instead of merged,
which would read the whole table at every load (docs/decisions.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any, Callable, Optional

import pendulum

from sources.genesys.helpers.client import GwsApi
from sources.genesys.helpers.rows import event_row, listed_row
from sources.genesys.settings import (
    INTERACTION_EVENTS,
    POLL_MARGIN_SECONDS,
    RECENT_MESSAGE_IDS,
    RECONNECT_BACKOFF,
)
from sources.kit.errors import AuthenticationError, ConfigurationError, HttpError, UnexpectedPayload
from sources.kit.privacy import PiiPolicy
from sources.kit.spool import Spool

logger = logging.getLogger(__name__)


class AdvisedToStop(HttpError):
    """The server advised `reconnect: none`: it will not take this client again."""


def now() -> str:
    return pendulum.now("UTC").isoformat()


class RecentIds:
    """The last `size` ids seen, oldest forgotten first: `seen(id)` is True for a repeat."""

    def __init__(self, size: int = RECENT_MESSAGE_IDS) -> None:
        self.size = size
        self._order: deque[str] = deque()
        self._ids: set[str] = set()

    def seen(self, key: str) -> bool:
        if key in self._ids:
            return True
        self._ids.add(key)
        self._order.append(key)
        if len(self._order) > self.size:
            self._ids.discard(self._order.popleft())
        return False


class Listener:
    """Runs in its own thread until `stop` is set or `deadline` (monotonic) passes; then
    lists the interactions once more (so the table ends true), disconnects and returns.
    A fatal error (credentials refused, `reconnect: none`) is kept in `error`."""

    def __init__(self, api: GwsApi, channels: list[str], spool: Spool, policy: PiiPolicy,
                 stop: threading.Event, deadline: Optional[float] = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.api, self.channels, self.spool, self.policy = api, channels, spool, policy
        self.stop, self.deadline, self.sleep = stop, deadline, sleep
        self.error: Optional[BaseException] = None
        self.done = threading.Event()
        self.client_id: Optional[str] = None
        self.received = 0
        self.redelivered = 0
        self.connects = 0
        self._recent = RecentIds()
        self._generation = -1
        self._thread = threading.Thread(target=self._run, name="genesys-listener", daemon=True)

    def start(self) -> Listener:
        self._thread.start()
        return self

    def join(self, timeout: Optional[float] = None) -> None:
        self._thread.join(timeout)

    @property
    def stopping(self) -> bool:
        return self.stop.is_set() or (self.deadline is not None
                                      and time.monotonic() >= self.deadline)

    # ----- the conversation

    def _run(self) -> None:
        try:
            self._session("signed in", self._sign_in())
            begin: Optional[str] = "started"   # why a handshake (and a list) is due
            relist: Optional[str] = None       # why a list is due
            failures = 0
            while not self.stopping:
                try:
                    if self._new_session():
                        begin = begin or "signed in again"
                    if begin:
                        self._begin(begin)
                        begin = relist = None
                    elif relist:
                        self._list(relist)
                        relist = None
                    replies = self.api.poll(self.client_id or "")
                    self.connects += 1
                    begin = self._handle(replies)
                    failures = 0
                except (AuthenticationError, AdvisedToStop, ConfigurationError):
                    raise
                except (HttpError, UnexpectedPayload, OSError) as exc:
                    # whatever was queued for us may be gone: list again once we are back
                    failures += 1
                    relist = "after a failed request"
                    self._session("connect failed", _short(exc), self.client_id)
                    self.sleep(RECONNECT_BACKOFF[min(failures, len(RECONNECT_BACKOFF)) - 1])
            self._finish()
        except BaseException as exc:  # noqa: BLE001 (the loader raises it in the run's thread)
            self.error = exc
            try:
                self._session("stopped", f"failed: {_short(exc)}")
            except Exception:  # noqa: BLE001 (the spool itself may be what failed)
                pass
        finally:
            self.done.set()
            with self.spool.grew:
                self.spool.grew.notify_all()

    def _sign_in(self) -> str:
        me = self.api.me()
        self._generation = self.api.generation
        user = me.get("user") if isinstance(me.get("user"), dict) else {}
        return str(user.get("userName") or "") if user else ""

    def _new_session(self) -> bool:
        return self.api.generation != self._generation

    def _begin(self, why: str) -> None:
        """Handshake, subscribe, then list: the order that leaves no gap."""
        if self._new_session():
            self._generation = self.api.generation
            self._session("signed in again", why)
        self.client_id = self._handshake()
        self._subscribe()
        self._list(why)

    def _handshake(self) -> str:
        replies = self.api.handshake()
        reply = _meta(replies, "/meta/handshake")
        if not reply.get("successful") or not reply.get("clientId"):
            raise UnexpectedPayload(f"the CometD handshake failed: {reply.get('error') or reply}")
        client_id = str(reply["clientId"])
        self._follow_timeout(reply)
        self._session("handshake", None, client_id)
        self._generation = self.api.generation
        return client_id

    def _subscribe(self) -> None:
        replies = self.api.subscribe(self.client_id or "", self.channels)
        refused = [r for r in replies if r.get("channel") == "/meta/subscribe"
                   and not r.get("successful")]
        if any(str(r.get("error") or "").startswith("402") for r in refused):
            # the session was renewed between the handshake and this: handshake again
            raise UnexpectedPayload("the server forgot the client before it subscribed (402)")
        if refused:
            raise ConfigurationError(
                "sources.genesys.channels: the server refused the subscription to"
                f" {[r.get('subscription') for r in refused]}: {refused[0].get('error')}")
        self._session("subscribed", ", ".join(self.channels), self.client_id)

    def _list(self, why: str) -> None:
        listed = [row for row in map(listed_row, self.api.interactions()) if row]
        rows = [self.policy.apply(INTERACTION_EVENTS, row) for row in listed]
        self.spool.append([{"kind": "snapshot", "observed_at": now(), "why": why,
                            "rows": rows}])
        self._session("listed", f"{len(rows)} interaction(s) ({why})", self.client_id)

    def _handle(self, replies: list[dict[str, Any]]) -> Optional[str]:
        """Spools the answer's messages; returns why a new handshake is due, if one is."""
        observed = now()
        rows = []
        connect: dict[str, Any] = {}
        for message in replies:
            channel = str(message.get("channel") or "")
            if channel == "/meta/connect":
                connect = message
            elif not channel.startswith("/meta/"):
                row = event_row(message, observed)
                if self._recent.seen(str(row["message_id"])):
                    self.redelivered += 1
                    continue
                rows.append(self.policy.apply(INTERACTION_EVENTS, row))
        if rows:
            # durable before the next connect: what we received is ours to keep
            self.spool.append([{"kind": "events", "observed_at": observed, "rows": rows}])
            self.received += len(rows)
        advice = connect.get("advice") if isinstance(connect.get("advice"), dict) else {}
        self._follow_timeout(connect)
        reconnect = advice.get("reconnect")
        if reconnect == "none":
            raise AdvisedToStop(f"the server advised not to reconnect: {connect.get('error')}")
        if connect and not connect.get("successful"):
            error = str(connect.get("error") or "")
            self._session("unknown client (402)" if error.startswith("402") else "advice",
                          error or f"reconnect: {reconnect}", self.client_id)
            return "handshake advised"
        if reconnect == "handshake":
            self._session("advice", "reconnect: handshake", self.client_id)
            return "handshake advised"
        interval = advice.get("interval")
        if isinstance(interval, (int, float)) and interval > 0:
            self.sleep(min(float(interval) / 1000.0, 5.0))
        return None

    def _follow_timeout(self, reply: dict[str, Any]) -> None:
        """`advice.timeout` (ms) is how long the server holds a connect: wait longer."""
        advice = reply.get("advice")
        timeout = advice.get("timeout") if isinstance(advice, dict) else None
        if isinstance(timeout, (int, float)) and timeout > 0:
            self.api.comet.wait_at_least(timeout / 1000.0 + POLL_MARGIN_SECONDS)

    def _finish(self) -> None:
        try:
            self._list("final")
            if self.client_id:
                self.api.disconnect(self.client_id)
        except (HttpError, UnexpectedPayload, OSError) as exc:
            logger.warning("genesys: the final list or disconnect failed: %s", _short(exc))
        self._session("stopped", f"{self.received} notification(s) in {self.connects} connect(s)"
                      f", {self.redelivered} redelivery(ies) dropped", self.client_id)

    def _session(self, event: str, detail: Optional[str], client_id: Optional[str] = None) -> None:
        logger.info("genesys: %s%s", event, f" ({detail})" if detail else "")
        self.spool.append([{"kind": "session", "at": now(), "event": event, "detail": detail,
                            "client_id": client_id}])


def _meta(replies: list[dict[str, Any]], channel: str) -> dict[str, Any]:
    return next((r for r in replies if r.get("channel") == channel), {})


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:300]}"
