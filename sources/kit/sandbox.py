"""What every vendor's sandbox server shares: serving on loopback in a background thread,
and the log of requests it answered, which tests read to count what a run asked for."""

from __future__ import annotations

import threading
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
