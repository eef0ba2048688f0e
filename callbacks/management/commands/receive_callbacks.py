"""A callback receiver for trying the portal out: one line per callback, then its body.

With ``--secret`` it checks each callback as a receiver should, with the reference
``standardwebhooks`` package (signature compared in constant time, timestamp within
five minutes of this clock) and refuses, with 401, any that fails; with ``--public-key``
(an endpoint's whpk_ ed25519 key) it checks the ``v1a`` signatures the same way.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.core.management.base import BaseCommand, CommandError, CommandParser
from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook, WebhookVerificationError

from callbacks.models import Method
from callbacks.signing import PUBLIC_PREFIX, verify_v1a

REFUSED = 401  # never 410, which would disable the endpoint


def refusal(webhook: Webhook | None, headers: dict[str, str], body: bytes,
            public: str = "") -> str:
    """Return why the callback is not genuine, or '' (always '' without a secret or a public
    key); with both, both schemes must verify."""
    if public:
        try:
            verify_v1a(public, headers, body, time.time())
        except ValueError as error:
            return f"v1a: {error}"
    if webhook is None:
        return ""
    try:
        webhook.verify(body, headers, json_parse=False)
    except WebhookVerificationError as error:
        return str(error)
    except ValueError:  # a malformed signature list, bad base64, a body that is not UTF-8
        return "Malformed webhook-signature"
    return ""


def describe(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[str, Any]:
    """Return ``(event type, payload)``: GET and HEAD name the type in the query."""
    try:
        payload = json.loads(body) if body else None
    except ValueError:
        payload = body.decode(errors="replace")
    if isinstance(payload, dict) and payload.get("type"):
        return str(payload["type"]), payload
    query = parse_qs(urlsplit(path).query)
    return query.get("event_type", ["-"])[0], payload


def make_server(
    host: str, port: int, secret: str, status: int, write: Callable[[str], None],
    public: str = "",
) -> ThreadingHTTPServer:
    """Return a server answering every method an endpoint may use."""
    webhook = Webhook(secret) if secret else None
    if public and not public.startswith(PUBLIC_PREFIX):
        raise ValueError(f"a public key starts with {PUBLIC_PREFIX}")
    printing = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            return None

        def do_any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            why = refusal(webhook, headers, body, public)
            answer = REFUSED if why else status
            kind, payload = describe(self.command, self.path, headers, body)
            check = (f"REFUSED ({why})" if why
                     else "verified" if webhook or public else "not verified")
            with printing:
                write(
                    f"{time.strftime('%H:%M:%S')} {self.command} {self.path} {kind} "
                    f"webhook-id={headers.get('webhook-id', '-')} -> {answer} {check}"
                )
                if payload is not None:
                    write(json.dumps(payload, indent=2, ensure_ascii=False))
            reply = b"refused\n" if why else b"ok\n"
            self.send_response(answer)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply)

    for method in Method.values:
        setattr(Handler, f"do_{method}", Handler.do_any)
    return ThreadingHTTPServer((host, port), Handler)


class Command(BaseCommand):
    help = (
        "Listen on 127.0.0.1 and print a line per callback received (for trying endpoints "
        "out); with --secret, verify each one and refuse (401) those that are not genuine."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=9000)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--secret", default="", help="The endpoint's whsec_... secret.")
        parser.add_argument("--public-key", default="",
                            help="The endpoint's whpk_... ed25519 public key (v1a).")
        parser.add_argument("--status", type=int, default=200, help="The status to answer.")

    def handle(self, *args: Any, port: int, host: str, secret: str, status: int,
               public_key: str = "", **kw: Any) -> None:
        try:
            server = make_server(host, port, secret, status, self.write, public_key)
        except (ValueError, EmptyWebhookSecretError) as error:
            raise CommandError(f"--secret is not a whsec_<base64> secret or --public-key "
                               f"not a whpk_<base64> key: {error}") from None
        except OSError as error:
            raise CommandError(f"Cannot listen on {host}:{port}: {error.strerror}") from None
        verifying = ("verifying signatures" if secret or public_key
                     else "not verifying (no --secret)")
        self.write(f"Receiving callbacks at http://{host}:{port}/, {verifying} (Ctrl-C stops)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()

    def write(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()
