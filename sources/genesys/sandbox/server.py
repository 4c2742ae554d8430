"""The sandbox's HTTP face: a Genesys Web Services (GWS) API v2 site, on 127.0.0.1.

* `GET {base}/me`: HTTP Basic sign-in; starts a session (`JSESSIONID` cookie) and returns
  its CSRF header's name and value (`X-CSRF-HEADER`, `X-CSRF-TOKEN`). A wrong password is
  401. Sessions die after `session_lifetime` seconds (or `expire_sessions()`): a request
  with a dead cookie is 401; a POST without the CSRF header is 403 "Missing or invalid Csrf
  token".
* `GET {base}/me/interactions`: the URIs of the interactions in the user's list; with
  `fields=*`, the interactions in the notification shape (`{"statusCode": 0, ...}`).
* `POST {base}/notifications`: CometD (Bayeux 1.0), long-polling only: `/meta/handshake`,
  `/meta/subscribe` (exact channels and the `/*`, `/**` wildcards), `/meta/connect` held up
  to `poll_timeout` and answered with the queued messages and the connect reply in one
  array, `/meta/disconnect`. A client that does not connect again within `max_interval`
  seconds after a connect returned is forgotten with everything queued for it; its next
  connect gets `402::Unknown client` with `reconnect: handshake`. No replay, no guarantee.
* `POST {base}/me/interactions/{id}`: the agent operations. ccelt must never call them; the
  sandbox answers and logs them (`agent_operations`).

Switches: `cut_share` (a connect takes its messages and hangs up without answering: they
are lost), `redeliver_share` (a message is queued twice, same `id`), `forget_every` (forget
every client after that many connects), `fault_rate` (503 pages and truncated bodies),
`session_lifetime`, and the world's own (other shapes, dirty payloads, missing ids).
`delivered` is every message written into an answer that reached the client whole: what a
test may demand ccelt kept.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Optional
from urllib.parse import parse_qsl, urlsplit

from sources.genesys.sandbox.world import Notification, World
from sources.kit.sandbox import LoopbackServer, send

logger = logging.getLogger(__name__)

BASE_PATH = "/api/v2"
CSRF_HEADER = "X-CSRF-TOKEN"


@dataclass
class SandboxOptions:
    """Switches for the sandbox's behaviour. The defaults are a well-behaved site."""

    username: str = "reporting.agent"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    poll_timeout: float = 2.0
    """Seconds a connect is held when nothing is queued (`advice.timeout`)."""
    max_interval: float = 10.0
    """Seconds after a connect returned within which the client must connect again."""
    session_lifetime: float = 0.0
    """Seconds a session lives (0: for ever)."""
    cut_share: float = 0.0
    redeliver_share: float = 0.0
    forget_every: int = 0
    fault_rate: float = 0.0
    seed: int = 3


@dataclass
class Session:
    cookie: str
    csrf: str
    started: float


@dataclass
class Client:
    id: str
    session: str
    subscriptions: set[str] = field(default_factory=set)
    queue: list[dict[str, Any]] = field(default_factory=list)
    connected: bool = False
    returned_at: float = field(default_factory=time.monotonic)
    wake: threading.Condition = field(default_factory=threading.Condition)


@dataclass(frozen=True)
class Logged:
    method: str
    path: str
    status: int
    channels: tuple[str, ...] = ()
    """The Bayeux channels a POST to `notifications` carried, in order."""


@dataclass
class Delivery:
    client_id: str
    message: dict[str, Any]
    answer: int
    """Which answer of the server carried it (one per connect answered)."""
    at: float = field(default_factory=time.time)
    """When the answer was written (epoch seconds)."""


class SandboxServer(LoopbackServer):
    """A GWS site serving `world` to one user."""

    thread_name = "genesys-sandbox"

    def __init__(self, world: World, options: Optional[SandboxOptions] = None,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.world = world
        self.options = options or SandboxOptions()
        self._lock = threading.RLock()
        self._rng = random.Random(self.options.seed)
        self.sessions: dict[str, Session] = {}
        self.clients: dict[str, Client] = {}
        self.delivered: list[Delivery] = []
        self.lost: list[dict[str, Any]] = []
        """Messages queued for a client that was forgotten or whose connect was cut."""
        self.agent_operations: list[str] = []
        self.events: list[str] = []
        """What happened to sessions and clients, for tests reading a run's gaps."""
        self.connects = 0
        self.answers = 0
        self._ticker: Optional[threading.Thread] = None
        self._ticking = threading.Event()
        super().__init__(_handler_for(self), host, port)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{BASE_PATH}"

    # ----- the world moving

    def emit(self, count: int = 1) -> list[Notification]:
        """`count` changes in the world, their notifications queued for every subscriber."""
        with self.world.lock:
            notifications = self.world.steps(count)
            for notification in notifications:
                self._publish(notification.message)
        return notifications

    def arrive(self, count: int) -> list[Notification]:
        """`count` new e-mails offered to the user, notified to every subscriber."""
        with self.world.lock:
            notifications = self.world.arrive(count)
            for notification in notifications:
                self._publish(notification.message)
        return notifications

    def run_world(self, per_second: float) -> None:
        """Changes the world `per_second` times a second in a thread, until `pause_world()`."""
        self.pause_world()
        self._ticking.set()

        def tick() -> None:
            interval = 1.0 / per_second
            next_at = time.monotonic()
            while self._ticking.is_set():
                self.emit(1)
                next_at += interval
                time.sleep(max(0.0, next_at - time.monotonic()))

        self._ticker = threading.Thread(target=tick, name="genesys-world", daemon=True)
        self._ticker.start()

    def pause_world(self) -> None:
        self._ticking.clear()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
            self._ticker = None

    def stop(self) -> None:
        self.pause_world()
        with self._lock:
            for client in self.clients.values():
                with client.wake:
                    client.wake.notify_all()
        super().stop()

    def expire_sessions(self) -> None:
        with self._lock:
            self.sessions.clear()
            self.events.append("sessions expired")

    def forget_clients(self) -> None:
        with self._lock:
            for client in list(self.clients.values()):
                self._forget(client, "forgotten")

    def _publish(self, message: dict[str, Any]) -> None:
        with self._lock:
            self._reap()
            for client in self.clients.values():
                if any(_matches(pattern, message["channel"]) for pattern in client.subscriptions):
                    with client.wake:
                        client.queue.append(message)
                        if self._rng.random() < self.options.redeliver_share:
                            client.queue.append(json.loads(json.dumps(message)))
                        client.wake.notify_all()

    def _reap(self) -> None:
        now = time.monotonic()
        for client in list(self.clients.values()):
            if not client.connected and now - client.returned_at > self.options.max_interval:
                self._forget(client, "expired (no connect within maxInterval)")

    def _forget(self, client: Client, why: str) -> None:
        self.clients.pop(client.id, None)
        self.lost += client.queue
        client.queue = []
        self.events.append(f"client {client.id} {why}")
        with client.wake:
            client.wake.notify_all()

    # ----- sessions

    def user(self) -> dict[str, Any]:
        return {"userName": self.options.username, "firstName": "Reporting", "lastName": "Agent",
                "roles": ["ROLE_AGENT", "ROLE_SUPERVISOR"]}

    def sign_in(self, authorization: str) -> Optional[Session]:
        expected = base64.b64encode(
            f"{self.options.username}:{self.options.password}".encode()).decode()
        if authorization != f"Basic {expected}":
            return None
        session = Session(secrets.token_hex(16), secrets.token_urlsafe(24), time.monotonic())
        with self._lock:
            self.sessions[session.cookie] = session
            self.events.append("signed in")
        return session

    def session_of(self, cookie_header: str) -> Optional[Session]:
        match = re.search(r"JSESSIONID=([0-9a-f]+)", cookie_header or "")
        if not match:
            return None
        with self._lock:
            session = self.sessions.get(match.group(1))
            lifetime = self.options.session_lifetime
            if session and lifetime and time.monotonic() - session.started > lifetime:
                self.sessions.pop(session.cookie, None)
                self.events.append("session timed out")
                return None
            return session

    # ----- CometD

    def bayeux(self, session: Session, messages: list[dict[str, Any]],
               cut: Any) -> Optional[list[dict[str, Any]]]:
        """Answers one POST of Bayeux messages; None when the connection is to be cut."""
        replies: list[dict[str, Any]] = []
        for message in messages:
            channel = message.get("channel")
            reply: dict[str, Any] = {"channel": channel}
            if "id" in message:
                reply["id"] = message["id"]
            if channel == "/meta/handshake":
                client = Client(secrets.token_hex(10), session.cookie)
                with self._lock:
                    self.clients[client.id] = client
                    self.events.append(f"handshake {client.id}")
                reply.update(successful=True, clientId=client.id, version="1.0",
                             supportedConnectionTypes=["long-polling"],
                             advice={"reconnect": "retry", "interval": 0,
                                     "timeout": int(self.options.poll_timeout * 1000)})
                replies.append(reply)
                continue
            client = self.clients.get(str(message.get("clientId")))
            if client is None or client.session != session.cookie:
                reply.update(successful=False, error="402::Unknown client",
                             advice={"reconnect": "handshake", "interval": 0})
                replies.append(reply)
                continue
            if channel == "/meta/subscribe":
                wanted = message.get("subscription")
                subscriptions = wanted if isinstance(wanted, list) else [wanted]
                with self._lock:
                    client.subscriptions.update(str(s) for s in subscriptions)
                reply.update(successful=True, subscription=wanted, clientId=client.id)
                replies.append(reply)
            elif channel == "/meta/disconnect":
                with self._lock:
                    self._forget(client, "disconnected")
                reply.update(successful=True, clientId=client.id)
                replies.append(reply)
            elif channel == "/meta/connect":
                return self._connect(client, reply, replies, cut)
            else:
                reply.update(successful=False, error=f"400::Unknown channel {channel}")
                replies.append(reply)
        return replies

    def _connect(self, client: Client, reply: dict[str, Any], replies: list[dict[str, Any]],
                 cut: Any) -> Optional[list[dict[str, Any]]]:
        with self._lock:
            self.connects += 1
            forget = self.options.forget_every and self.connects % self.options.forget_every == 0
            if forget:
                self._forget(client, "forgotten (forget_every)")
                reply.update(successful=False, error="402::Unknown client",
                             advice={"reconnect": "handshake", "interval": 0})
                return replies + [reply]
            client.connected = True
        deadline = time.monotonic() + self.options.poll_timeout
        with client.wake:
            while not client.queue and client.id in self.clients:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                client.wake.wait(remaining)
            # a short wait gathers what arrives together into one batch, as CometD does
            batch, client.queue = client.queue, []
        with self._lock:
            client.connected = False
            client.returned_at = time.monotonic()
            if client.id not in self.clients:
                reply.update(successful=False, error="402::Unknown client",
                             advice={"reconnect": "handshake", "interval": 0})
                return replies + [reply]
            if batch and self._rng.random() < self.options.cut_share:
                self.lost += batch
                self.events.append(f"connect of {client.id} cut with {len(batch)} message(s)")
                return None
        reply.update(successful=True, clientId=client.id,
                     advice={"reconnect": "retry", "interval": 0,
                             "timeout": int(self.options.poll_timeout * 1000)})
        cut.batch = (client.id, batch)
        return replies + batch + [reply]

    def delivered_to(self, client_id: str, batch: list[dict[str, Any]]) -> None:
        with self._lock:
            self.answers += 1
            self.delivered += [Delivery(client_id, m, self.answers) for m in batch]

    def fault(self) -> Optional[str]:
        with self._lock:
            if self.options.fault_rate and self._rng.random() < self.options.fault_rate:
                return self._rng.choice(("503", "truncated"))
        return None


def _channels(body: bytes) -> tuple[str, ...]:
    try:
        messages = json.loads(body) if body else []
    except ValueError:
        return ()
    if isinstance(messages, dict):
        messages = [messages]
    return tuple(str(m.get("channel")) for m in messages if isinstance(m, dict))


def _matches(pattern: str, channel: str) -> bool:
    if pattern.endswith("/**"):
        return channel.startswith(pattern[:-2])
    if pattern.endswith("/*"):
        prefix = pattern[:-1]
        return channel.startswith(prefix) and "/" not in channel[len(prefix):]
    return pattern == channel


def _handler_for(sandbox: SandboxServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self._answer("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._answer("POST")

        def _answer(self, method: str) -> None:
            url = urlsplit(self.path)
            path = url.path
            body = b""
            if method == "POST":
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status = self._route(method, path, dict(parse_qsl(url.query)), body)
            sandbox.log(Logged(method, path[len(BASE_PATH):], status, _channels(body)))

        def _json(self, status: int, payload: Any, headers: Optional[dict[str, str]] = None,
                  truncated: bool = False) -> int:
            send(self, status, json.dumps(payload).encode(), headers or {}, truncated=truncated)
            return status

        def _route(self, method: str, path: str, query: dict[str, str], body: bytes) -> int:
            if not path.startswith(BASE_PATH):
                return self._json(404, {"statusCode": 1, "statusMessage": "Not found"})
            path = path[len(BASE_PATH):]
            fault = sandbox.fault()
            if fault == "503":
                send(self, 503, b"<html><body>Service Unavailable</body></html>",
                     {"Content-Type": "text/html"})
                return 503
            truncated = fault == "truncated"
            if method == "GET" and path == "/me" and not self.headers.get("Authorization"):
                session = sandbox.session_of(self.headers.get("Cookie", ""))
                if session is None:
                    return self._json(401, {"statusCode": 2, "statusMessage": "Unauthorized"},
                                      {"WWW-Authenticate": 'Basic realm="gws"'})
                return self._json(200, {"statusCode": 0, "user": sandbox.user()})
            if method == "GET" and path == "/me":
                session = sandbox.sign_in(self.headers.get("Authorization", ""))
                if session is None:
                    return self._json(401, {"statusCode": 2, "statusMessage": "Unauthorized"},
                                      {"WWW-Authenticate": 'Basic realm="gws"'})
                return self._json(200, {"statusCode": 0, "user": sandbox.user()},
                    {"Set-Cookie": f"JSESSIONID={session.cookie}; Path=/api; HttpOnly",
                     "X-CSRF-HEADER": CSRF_HEADER, "X-CSRF-TOKEN": session.csrf},
                    truncated=truncated)
            session = sandbox.session_of(self.headers.get("Cookie", ""))
            if session is None:
                return self._json(401, {"statusCode": 2, "statusMessage": "Unauthorized"})
            if method == "POST" and self.headers.get(CSRF_HEADER) != session.csrf:
                return self._json(403, {"statusCode": 2,
                                        "statusMessage": "Missing or invalid Csrf token"})
            if method == "GET" and path == "/me/interactions":
                listed = sandbox.world.listed()
                if query.get("fields") == "*":
                    payload = {"statusCode": 0, "interactions": [i.payload() for i in listed]}
                else:
                    payload = {"statusCode": 0, "interactions": [
                        f"{sandbox.base_url}/me/interactions/{i.id}" for i in listed]}
                return self._json(200, payload, truncated=truncated)
            if method == "POST" and path == "/notifications":
                return self._notifications(session, body, truncated)
            if method == "POST" and path.startswith("/me/interactions"):
                sandbox.agent_operations.append(path)
                return self._json(200, {"status": "ok"})
            return self._json(404, {"statusCode": 1, "statusMessage": "Not found"})

        def _notifications(self, session: Session, body: bytes, truncated: bool) -> int:
            try:
                messages = json.loads(body)
            except ValueError:
                return self._json(400, {"statusCode": 1, "statusMessage": "Bad JSON"})
            if isinstance(messages, dict):
                messages = [messages]

            class Cut:
                batch: Optional[tuple[str, list[dict[str, Any]]]] = None

            cut = Cut()
            replies = sandbox.bayeux(session, messages, cut)
            if replies is None:
                self.close_connection = True
                return 0
            if truncated and cut.batch and cut.batch[1]:
                # half an answer: the client cannot read it, the messages are gone
                sandbox.lost += cut.batch[1]
                return self._json(200, replies, truncated=True)
            try:
                self._json(200, replies)
            except OSError:
                if cut.batch:
                    sandbox.lost += cut.batch[1]
                return 200
            if cut.batch:
                sandbox.delivered_to(*cut.batch)
            return 200

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            logger.debug(format, *args)

    return Handler
