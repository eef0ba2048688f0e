"""Callbacks built and signed as the portal sends them, and sent by hand
(tests/test_receive_callbacks.py)."""

import datetime
import http.client
import time
from urllib.parse import urlsplit

from callbacks.delivery.policy import Job, build_request
from callbacks.signing import new_secret

SECRET = new_secret()
BODY = b'{"data": {"object": {}}, "id": "evt-1", "type": "camera.created"}'


def callback(port: int, method: str = "POST", secrets=(SECRET,), age: float = 0):
    """A request built and signed as the portal sends it, ``age`` seconds ago."""
    now = datetime.datetime.now(datetime.UTC)
    job = Job(
        delivery_id="d-1", endpoint_id=1, event_id="evt-1", event_type="camera.created",
        event_created_at=now, method=method, url=f"http://127.0.0.1:{port}/camio",
        headers={"Authorization": "token XYZPDQ"}, secrets=list(secrets), body=BODY,
        attempt_number=1, due_at=now, claim_token="t",
    )
    return build_request(job, int(time.time() - age))


def send(request) -> int:
    url = urlsplit(request.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=5)
    try:
        path = f"{url.path}?{url.query}" if url.query else url.path
        connection.request(
            request.method, path, body=request.body,
            headers=dict(request.headers),
        )
        return connection.getresponse().status
    finally:
        connection.close()
