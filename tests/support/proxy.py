"""A forward HTTP proxy on loopback that logs the first line of every request it is asked
to forward: ``CONNECT host:port`` (then a blind tunnel) or an absolute-form request
(forwarded in origin form, one request per connection)."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from urllib.parse import urlsplit


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class LoggingProxy:
    def __init__(self) -> None:
        self.log: list[str] = []
        proxy = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = self.request.recv(65536)
                    if not chunk:
                        return
                    head += chunk
                head, _, rest = head.partition(b"\r\n\r\n")
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                proxy.log.append(request_line.rsplit(" ", 1)[0])
                method, target, _version = request_line.split(" ")
                if method == "CONNECT":
                    host, _, port = target.rpartition(":")
                    upstream = socket.create_connection((host.strip("[]"), int(port)))
                    self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    if rest:
                        upstream.sendall(rest)
                    threading.Thread(target=_pipe, args=(upstream, self.request),
                                     daemon=True).start()
                    _pipe(self.request, upstream)
                    return
                parts = urlsplit(target)
                length = next((int(line.split(":", 1)[1]) for line in header_lines
                               if line.lower().startswith("content-length:")), 0)
                while len(rest) < length:
                    rest += self.request.recv(65536)
                kept = [line for line in header_lines
                        if not line.lower().startswith(("connection:", "proxy-"))]
                origin = parts.path + (f"?{parts.query}" if parts.query else "")
                forwarded = "\r\n".join([f"{method} {origin} HTTP/1.1", *kept,
                                         "Connection: close", "", ""]).encode("latin-1")
                upstream = socket.create_connection((parts.hostname, parts.port or 80))
                upstream.sendall(forwarded + rest)
                _pipe(upstream, self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
