"""Outages and abuse (P9): a cache outage never fails a request, a database outage
answers 503 with Retry-After, chunked bodies are read, and throttles count once for
every web process. Servers that a test stops are its own (a private Redis)."""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

from domains.cache import FailOpenRedisCache, window_hit
from domains.models import Camera
from pacs.models import PacsEvent
from tests.processes import (
    child_database_url,
    free_port,
    kill_group,
    redis_answers,
    start_web,
    web_answers,
)
from tests.receiver import wait_for

pytestmark = pytest.mark.workers

EVENT = json.loads((Path(__file__).parent / "fixtures" / "pacs" / "onguard.json").read_text())[
    "event"
]
needs_redis = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="needs the redis-server program"
)


def request(port: int, method: str, path: str, body: object = None, headers=None, chunks=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        if chunks is not None:
            connection.request(
                method, path, body=iter(chunks), headers=headers or {}, encode_chunked=True
            )
        else:
            data = None if body is None else json.dumps(body)
            connection.request(method, path, body=data, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read()
    finally:
        connection.close()


# --- The cache fails open ----------------------------------------------------------


def test_a_dead_redis_cache_answers_as_a_miss_and_logs_once(fresh_outage, caplog):
    dead = FailOpenRedisCache(
        f"redis://127.0.0.1:{free_port()}/0",
        {"OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}},
    )
    caplog.set_level(logging.WARNING, logger="domains.cache")
    assert dead.get("k", "default") == "default"
    assert dead.add("k", 1) is True  # "added": callers that deduplicate go ahead
    assert window_hit("throttle:k", 1, 60, backend=dead) == (True, 0.0)
    assert window_hit("throttle:k", 1, 60, backend=dead) == (True, 0.0)
    lines = [r for r in caplog.records if r.name == "domains.cache"]
    assert len(lines) == 1 and "cache unavailable" in lines[0].getMessage()


@needs_redis
def test_the_window_counts_atomically_in_redis(private_redis, fresh_outage):
    port, _ = private_redis
    shared = FailOpenRedisCache(f"redis://127.0.0.1:{port}/0", {})
    answers: list[bool] = []

    def client() -> None:
        for _ in range(40):
            answers.append(window_hit("throttle:atomic", 50, 60, backend=shared)[0])

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers.count(True) == 50 and len(answers) == 160
    allowed, wait = window_hit("throttle:atomic", 50, 60, backend=shared)
    assert not allowed and 0 < wait <= 60


@needs_redis
@pytest.mark.django_db(transaction=True)
def test_camera_patch_succeeds_with_the_cache_and_broker_stopped(
    tmp_path, private_redis, camera, acme_admin, token_for, endpoint_for, receiver
):
    port, redis = private_redis
    endpoint_for(receiver.url, ["camera.updated"])
    token = token_for(acme_admin)
    web_port = free_port()
    web = start_web(
        tmp_path / "web.log",
        web_port,
        CACHE_URL=f"redis://127.0.0.1:{port}/0",
        CELERY_BROKER_URL=f"redis://127.0.0.1:{port}/1",
        API_THROTTLE_USER="1000/minute",
    )
    try:
        wait_for(lambda: web_answers(web_port), timeout=60, what="gunicorn")
        headers = {"Authorization": f"token {token}", "Content-Type": "application/json"}
        path = f"/api/cameras/{camera.camera_id}"
        status, _, body = request(web_port, "PATCH", path, {"name": "Before"}, headers)
        assert status == 200, body
        kill_group(redis)
        assert not redis_answers(port)
        status, _, body = request(web_port, "PATCH", path, {"name": "While Redis is down"}, headers)
        assert status == 200, body
        assert json.loads(body)["name"] == "While Redis is down"
        assert Camera.objects.get(pk=camera.pk).name == "While Redis is down"
        log = (tmp_path / "web.log").read_text()
        assert "cache unavailable" in log
        assert "Internal Server Error" not in log
    finally:
        kill_group(web)


# --- The database's outage answers 503 -----------------------------------------------


@pytest.mark.django_db
def test_gateway_answers_503_with_retry_after_while_the_database_is_down(
    pacs_client, pacs_labels, settings, database_down
):
    settings.OUTAGE_RETRY_AFTER = 7
    database_down()
    answer = pacs_client.post("/pacs/webhooks", {"event": EVENT}, format="json")
    assert answer.status_code == 503
    assert answer["Retry-After"] == "7"
    assert answer.json() == {
        "errors": {"detail": ["The database is unavailable; nothing was saved. Retry after 7 s."]}
    }


@pytest.mark.django_db
def test_api_and_pages_answer_503_and_liveness_needs_nothing(
    api, client, acme, acme_admin, database_down
):
    client.force_login(acme_admin)
    database_down()
    answer = api.get("/api/endpoints")
    assert answer.status_code == 503 and answer["Retry-After"] == "5"
    assert "errors" in answer.json()
    page = client.get(f"/domains/{acme.name}/")
    assert page.status_code == 503 and page["Retry-After"] == "5"
    assert b"Temporarily unavailable" in page.content
    assert client.get("/livez").status_code == 200
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json()["checks"]["database"] != "ok"


def test_the_schema_documents_the_503(client):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method in ("get", "post", "put", "patch", "delete"):
                answer = operation["responses"]["503"]
                assert "Retry-After" in answer["headers"], (method, path)


# --- Chunked bodies and throttles through gunicorn -----------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_chunked_gateway_post_is_stored(tmp_path, integration, pacs_labels):
    from pacs.services import integration_token_issue

    _, raw = integration_token_issue(integration=integration, actor=None)
    web_port = free_port()
    web = start_web(tmp_path / "web.log", web_port)
    try:
        wait_for(lambda: web_answers(web_port), timeout=60, what="gunicorn")
        body = json.dumps({"event": EVENT}).encode()
        status, _, answer = request(
            web_port,
            "POST",
            "/pacs/webhooks",
            headers={"Authorization": f"Bearer {raw}", "Content-Type": "application/json"},
            chunks=[body[:10], body[10:200], body[200:]],
        )
        assert status == 202, answer
        assert json.loads(answer)["accepted"] == [0]
        assert PacsEvent.objects.filter(integration=integration).count() == 1
    finally:
        kill_group(web)


@needs_redis
@pytest.mark.django_db(transaction=True)
def test_three_clients_over_three_processes_share_one_throttle(
    tmp_path, private_redis, acme_admin, token_for
):
    port, _ = private_redis
    token = token_for(acme_admin)
    web_port = free_port()
    web = start_web(
        tmp_path / "web.log",
        web_port,
        workers=3,
        CACHE_URL=f"redis://127.0.0.1:{port}/0",
        API_THROTTLE_USER="60/minute",
    )
    try:
        wait_for(lambda: web_answers(web_port), timeout=60, what="gunicorn")
        wait_for(
            lambda: (tmp_path / "web.log").read_text().count("Booting worker") == 3,
            what="three web processes",
        )
        statuses: list[int] = []

        def client() -> None:
            for _ in range(40):
                status, _, _ = request(
                    web_port, "GET", "/api/endpoints", headers={"Authorization": f"token {token}"}
                )
                statuses.append(status)

        threads = [threading.Thread(target=client) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(statuses) == 120 and set(statuses) <= {200, 429}
        assert statuses.count(200) == 60
    finally:
        kill_group(web)


class Cuttable:
    """A proxy to the test database that a test can cut (the server keeps running): new
    connections are refused, open ones are reset. On a unix socket in ``folder`` for a
    server on a unix socket (the embedded PostgreSQL), else on a loopback TCP port."""

    def __init__(self, host: str, port: int, folder: Path) -> None:
        import socket

        self.unix = host.startswith("/")
        if self.unix:
            self.target: Any = f"{host}/.s.PGSQL.{port}"
            self.listener = socket.socket(socket.AF_UNIX)
            self.listener.bind(str(folder / f".s.PGSQL.{port}"))
            self.listener.listen()
            self.host, self.port = str(folder), port
        else:
            self.target = (host, port)
            self.listener = socket.create_server(("127.0.0.1", 0))
            self.host, self.port = "127.0.0.1", self.listener.getsockname()[1]
        self.open: list = []
        self.cut_off = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket

        while not self.cut_off.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.cut_off.is_set():
                client.close()
                return
            if self.unix:
                upstream = socket.socket(socket.AF_UNIX)
                upstream.connect(self.target)
            else:
                upstream = socket.create_connection(self.target)
            self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, sink) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.close()

    def cut(self) -> None:
        import socket

        self.cut_off.set()
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() (close does not)
        self.listener.close()
        for sock in self.open:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()


@pytest.mark.django_db(transaction=True)
def test_gateway_answers_503_when_postgresql_is_cut_off(tmp_path, integration, pacs_labels):
    from django.db import connection

    from pacs.services import integration_token_issue

    _, raw = integration_token_issue(integration=integration, actor=None)
    conf = connection.settings_dict
    proxy = Cuttable(conf["HOST"] or "127.0.0.1", int(conf["PORT"] or 5432), tmp_path)
    web_port = free_port()
    web = start_web(tmp_path / "web.log", web_port,
                    DATABASE_URL=child_database_url(host=proxy.host, port=proxy.port))
    headers = {"Authorization": f"Bearer {raw}", "Content-Type": "application/json"}
    try:
        wait_for(lambda: web_answers(web_port), timeout=60, what="gunicorn")
        status, _, body = request(web_port, "POST", "/pacs/webhooks", {"event": EVENT}, headers)
        assert status == 202, body
        proxy.cut()
        for _ in range(3):  # each request opens a connection: refused
            status, answer_headers, body = request(
                web_port, "POST", "/pacs/webhooks", {"event": {**EVENT, "serial_number": 7}},
                headers,
            )
            assert status == 503, body
            assert answer_headers["Retry-After"] == "5"
            assert json.loads(body)["errors"]["detail"][0].startswith(
                "The database is unavailable"
            )
        assert "Internal Server Error" not in (tmp_path / "web.log").read_text()
    finally:
        kill_group(web)
        proxy.cut()
