"""What every vendor's sandbox server shares: serving on loopback in a background thread,
the log of requests it answered (which tests read to count what a run asked for), the
schedule of faults its options ask for, a fixed-window rate limit, and writing an answer."""

from __future__ import annotations

import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional, TypeVar

Server = TypeVar("Server", bound="LoopbackServer")


class LoopbackServer:
    """An HTTP server on 127.0.0.1 (a free port by default), as a context manager or with
    `start()` / `stop()`. Subclasses make the handler that answers like their vendor and
    append to `requests` through `log`."""

    thread_name = "sandbox"

    def __init__(self, handler: type[BaseHTTPRequestHandler], host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.requests: list[Any] = []
        self._log_lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, port), handler)
        self._httpd.daemon_threads = True
        self._thread: Optional[threading.Thread] = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def start(self: Server) -> Server:
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self: Server) -> Server:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def reset_log(self) -> None:
        with self._log_lock:
            self.requests.clear()

    def log(self, entry: Any) -> None:
        with self._log_lock:
            self.requests.append(entry)


class FaultSchedule:
    """Which request a sandbox answers badly, read from its options at every request (tests
    switch faults on and off between runs): every `fault_every`-th (cycling through
    `fault_kinds`), a random share `fault_rate` of them, or (`fail_after`, where the options
    have it) every one after that many."""

    def __init__(self, options: Any, rng: random.Random, lock: threading.Lock) -> None:
        self.options, self._rng, self._lock = options, rng, lock
        self.served = 0
        """Requests asked for a fault so far (what `fail_after` counts)."""

    def next(self) -> Optional[str]:
        """The fault for the request being answered now, or None."""
        options = self.options
        kinds = options.fault_kinds
        with self._lock:
            self.served += 1
            fail_after = getattr(options, "fail_after", None)
            if fail_after is not None and self.served > fail_after:
                return kinds[0]
            if options.fault_every and self.served % options.fault_every == 0:
                return kinds[(self.served // options.fault_every - 1) % len(kinds)]
            if options.fault_rate and self._rng.random() < options.fault_rate:
                return self._rng.choice(kinds)
            return None


class FixedWindow:
    """A rate limit of `limit` requests per wall-clock second, refused ones counted too (as
    rack-attack and API gateways count)."""

    def __init__(self, limit: float) -> None:
        self._time = time.time
        self.limit, self.window, self.count = limit, int(self._time()), 0
        self._lock = threading.Lock()

    def allows(self) -> bool:
        with self._lock:
            now = int(self._time())
            if now != self.window:
                self.window, self.count = now, 0
            self.count += 1
            return self.count <= self.limit


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str], *,
         truncated: bool = False) -> None:
    """Writes one answer; `truncated` announces the whole body's length, sends half of it
    and hangs up, as a dropped connection or a crashed upstream does."""
    handler.send_response(status)
    headers = {"Content-Type": "application/json; charset=utf-8", **headers}
    for name, value in headers.items():
        if value:
            handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    if truncated:
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(body[: len(body) // 2])
        handler.close_connection = True
        return
    handler.end_headers()
    handler.wfile.write(body)
