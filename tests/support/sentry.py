"""A loopback Sentry collector and the secrets it must never receive
(tests/test_sentry.py)."""

from __future__ import annotations

import gzip
import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HEADER_VALUE = "hdr-value-5f0e2b7c9a"  # an endpoint's custom header value
BODY_SECRET = "body-secret-81d4c6e0"
QUERY_SECRET = "query-secret-3a9b"
PROBES = {"CAMIO_TEST_URLCONF": "tests.probes", "CAMIO_TEST_CELERY_IMPORTS": "tests.probes"}


class Collector:
    """A fake Sentry: keeps every envelope POSTed to /api/<project>/envelope/."""

    def __init__(self) -> None:
        self.envelopes: list[bytes] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return None

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path.startswith("/api/1/envelope"):
                    collector.envelopes.append(body)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self.server.server_address[1]}/1"

    def events(self) -> list[dict]:
        """The error events among the envelopes' items."""
        found = []
        for envelope in self.envelopes:
            lines = envelope.split(b"\n")
            for header, payload in zip(lines[1::2], lines[2::2], strict=False):
                if header and json.loads(header).get("type") == "event":
                    found.append(json.loads(payload))
        return found

    def of(self, kind: str) -> list[dict]:
        """The probe's events from a task (Celery's context) or a view (a request)."""
        probes = [e for e in self.events()
                  if any(v.get("type") == "ProbeError" for v in e["exception"]["values"])]
        if kind == "task":
            return [e for e in probes if "celery-job" in e.get("extra", {})]
        return [e for e in probes if "request" in e]


def post_to_probe(port: int, endpoint_pk: int) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/probe/{endpoint_pk}?token={QUERY_SECRET}",
        data=json.dumps({"headers": {"X-Api-Key": HEADER_VALUE}, "note": BODY_SECRET}).encode(),
        headers={"Content-Type": "application/json", "X-Api-Key": HEADER_VALUE,
                 "Cookie": f"sessionid={BODY_SECRET}", "X-Request-ID": "probe-request-1"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
