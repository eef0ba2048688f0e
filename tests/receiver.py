"""A loopback HTTP receiver for tests: records every request, answers as scripted."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


Answer = tuple[int, dict[str, str], bytes]


def ok(index: int, request: Received) -> Answer:
    return 200, {}, b"ok"


@dataclass
class Receiver:
    host: str = "127.0.0.1"
    port: int = 0
    answer: Callable[[int, Received], Answer] = ok
    received: list[Received] = field(default_factory=list)
    hold_after: int | None = None
    released: threading.Event = field(default_factory=threading.Event)
    tls: ssl.SSLContext | None = None  # a server context: https

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                return None

            def handle_any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Received(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    time.time(),
                )
                with receiver._lock:
                    receiver.received.append(request)
                    index = len(receiver.received) - 1
                if receiver.hold_after is not None and index >= receiver.hold_after:
                    receiver.released.wait(120)
                status, headers, payload = receiver.answer(index, request)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = handle_any

        self.server = ThreadingHTTPServer((self.host, self.port), Handler)
        if self.tls is not None:
            self.server.socket = self.tls.wrap_socket(self.server.socket, server_side=True)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{self.host}:{self.server.server_address[1]}"

    def ids(self) -> list[str]:
        return [r.headers.get("webhook-id", "") for r in self.received]

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


def wait_for(
    predicate: Callable[[], object],
    timeout: float = 20.0,
    what: str = "condition",
    interval: float = 0.05,
) -> object:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
