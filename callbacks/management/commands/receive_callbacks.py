"""A callback receiver for trying the portal out: prints what arrives, checks signatures."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from callbacks.delivery.policy import sign


def signature_ok(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Check ``webhook-signature`` against ``secret`` (any of its signatures may match)."""
    try:
        expected = sign(secret, headers["webhook-id"], int(headers["webhook-timestamp"]), body)
    except (KeyError, ValueError):
        return False
    return expected in headers.get("webhook-signature", "").split()


class Command(BaseCommand):
    help = (
        "Listen on 127.0.0.1 and print every callback received (for trying endpoints out); "
        "with --secret, say whether each signature checks out."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=9000)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--secret", default="", help="The endpoint's whsec_... secret.")
        parser.add_argument("--status", type=int, default=200, help="The status to answer.")

    def handle(self, *args: Any, port: int, host: str, secret: str, status: int, **kw: Any) -> None:
        command = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return None

            def do_any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                command.show(self.command, self.path, dict(self.headers.items()), body, secret)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_POST = do_PUT = do_PATCH = do_DELETE = do_GET = do_any

        server = ThreadingHTTPServer((host, port), Handler)
        self.stdout.write(f"Receiving callbacks at http://{host}:{port}/ (Ctrl-C stops)")
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()

    def show(
        self, method: str, path: str, headers: dict[str, str], body: bytes, secret: str
    ) -> None:
        lowered = {k.lower(): v for k, v in headers.items()}
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = body.decode(errors="replace")
        kind = payload.get("type", "") if isinstance(payload, dict) else ""
        check = ""
        if secret:
            check = " signature ok" if signature_ok(secret, lowered, body) else " BAD SIGNATURE"
        self.stdout.write(
            f"{method} {path} {kind} webhook-id={lowered.get('webhook-id', '-')}{check}"
        )
        if payload is not None:
            self.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False))
        self.stdout.flush()
