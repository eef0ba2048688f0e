"""Shared fixtures: a registered domain with its primary admin, a teammate, an
outsider in another domain, and support staff, so permission tests read like prose; and
the objects, workers, receivers and stubs the test modules share. Plain helpers live in
tests/support/."""

from __future__ import annotations

import contextlib
import datetime
import socket
import threading

import pytest
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import OperationalError, close_old_connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from callbacks import egress
from callbacks import services as callback_services
from callbacks.delivery.claims import claim
from callbacks.delivery.policy import Result, build_request
from callbacks.delivery.recording import record
from callbacks.models import Delivery, ReplayJob
from callbacks.publishing import publish
from camio_portal import pgembed
from domains import services
from domains.cache import outage
from domains.models import Domain, User
from incidents import services as incident_services
from tests.processes import free_port, kill_group, redis_answers, start_redis, start_worker
from tests.receiver import Receiver, wait_for
from tests.support.field_keys import HEADERS, OLD
from tests.support.sentry import Collector
from tests.support.signed_callbacks import SECRET
from tests.support.ssrf_cases import PUBLIC_ANSWER
from tests.support.workers import running_worker


def pytest_configure(config: pytest.Config) -> None:
    """Without DATABASE_URL, start the test data folder's embedded PostgreSQL (the test
    database is created in it as usual); pytest_unconfigure stops it."""
    if settings.EMBEDDED_POSTGRES is not None:
        pgembed.start(settings.EMBEDDED_POSTGRES)


def pytest_unconfigure(config: pytest.Config) -> None:
    if settings.EMBEDDED_POSTGRES is not None:
        pgembed.stop(settings.EMBEDDED_POSTGRES)


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Show which database and broker this run really uses."""
    where = settings.EMBEDDED_POSTGRES or "DATABASE_URL"
    broker = settings.CELERY_BROKER_URL.split("://", 1)[0]
    return [f"camio: database=postgresql ({where}) broker={broker}"]


# --- Domains and people: acme.com's admin and teammate, beta.org's admin, support -----


@pytest.fixture
def register(django_capture_on_commit_callbacks):
    """Register a domain (running its on-commit e-mail) and return it."""

    def _register(name: str, admin_email: str) -> Domain:
        with django_capture_on_commit_callbacks(execute=True):
            return services.domain_register(name=name, admin_email=admin_email)

    return _register


@pytest.fixture
def acme(register) -> Domain:
    return register("acme.com", "hq@acme.com")


@pytest.fixture
def acme_admin(acme) -> User:
    user = User.objects.get(email="hq@acme.com")
    user.set_password("correct horse battery")
    user.save()
    return user


@pytest.fixture
def acme_teammate(acme) -> User:
    return services.user_create(email="guard@acme.com", password="correct horse battery")


@pytest.fixture
def beta(register) -> Domain:
    return register("beta.org", "it@beta.org")


@pytest.fixture
def beta_admin(beta) -> User:
    return User.objects.get(email="it@beta.org")


@pytest.fixture
def support(db) -> User:
    return services.user_create(
        email="staff@camio-support.net",
        password="correct horse battery",
        is_staff=True,
        is_superuser=True,
    )


@pytest.fixture
def acme_admin_client(client, acme_admin):
    """The test client, signed in as acme.com's primary admin."""
    client.force_login(acme_admin)
    return client


@pytest.fixture
def support_client(client, support):
    """The test client, signed in as support staff (a superuser)."""
    client.force_login(support)
    return client


# --- acme.com's inventory -------------------------------------------------------------


@pytest.fixture
def box(acme_admin):
    return services.device_create(
        owner=acme_admin, name="Lobby Box", mac_address="aa:bb:cc:00:11:22"
    )


@pytest.fixture
def camera(box, acme_admin):
    return services.camera_create(
        owner=acme_admin,
        device=box,
        name="Front Entrance",
        ip_address="192.168.1.20",
        local_camera_id="AABBCC001122.0",
    )


@pytest.fixture
def zone(camera):
    return services.zone_create(camera=camera, name="Doorway", polygons=[[[0, 0], [1, 0], [1, 1]]])


@pytest.fixture
def dock_camera(box, acme_admin):
    """A second camera of the same Box."""
    return services.camera_create(owner=acme_admin, device=box, name="Loading Dock")


# --- Delivery pipeline: a real worker and a loopback receiver -------------------------


@pytest.fixture
def receiver():
    from tests.receiver import Receiver

    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def worker(transactional_db):
    """A real Celery worker for one test."""
    with running_worker() as w:
        yield w


@pytest.fixture
def two_delivery_workers(tmp_path, settings, transactional_db):
    """Two delivery worker processes: this one's and a child's (with beat)."""
    child = start_worker(tmp_path / "worker.log", tmp_path / "beat",
                         queues=",".join(settings.WORKER_QUEUES["deliveries"]))
    try:
        with running_worker(queues=settings.WORKER_QUEUES["deliveries"]) as w:
            yield w
    finally:
        kill_group(child)


@pytest.fixture
def start_two_workers(tmp_path, settings, transactional_db):
    """Start two delivery worker processes (the child with ``overrides`` in its settings)."""

    @contextlib.contextmanager
    def start(**overrides: str):
        child = start_worker(tmp_path / "worker.log", tmp_path / "beat",
                             queues=",".join(settings.WORKER_QUEUES["deliveries"]), **overrides)
        try:
            with running_worker(queues=settings.WORKER_QUEUES["deliveries"]):
                yield
        finally:
            kill_group(child)

    return start


@pytest.fixture
def compressed_retries(settings):
    """A retry schedule of five attempts within about a second; probes every 0.3-0.6 s."""
    settings.CALLBACK_RETRY_SCHEDULE = [0, 0.2, 0.2, 0.2, 0.2]
    settings.CALLBACK_RETRY_JITTER = 0
    settings.CALLBACK_BREAKER_FAILURES = 3
    settings.CALLBACK_BREAKER_PROBE_MIN = 0.3
    settings.CALLBACK_BREAKER_PROBE_MAX = 0.6
    settings.CALLBACK_SWEEP_INTERVAL = 0.2
    return settings


@pytest.fixture
def fast_retries(settings):
    """Retries every 0.2 s, many of them; the sweeper every 0.2 s."""
    settings.CALLBACK_RETRY_SCHEDULE = [0] + [0.2] * 40
    settings.CALLBACK_RETRY_JITTER = 0
    settings.CALLBACK_SWEEP_INTERVAL = 0.2
    return settings


# --- Endpoints and deliveries ---------------------------------------------------------


@pytest.fixture
def endpoint_for(acme):
    """Create an endpoint of acme.com for a URL and event types."""
    from callbacks.services import endpoint_create

    def make(url: str, event_types: list[str] | None = None, **extra):
        from callbacks import catalog

        return endpoint_create(
            domain=extra.pop("domain", acme),
            url=url,
            event_types=event_types or list(catalog.NAMES),
            actor=None,
            **extra,
        )

    return make


@pytest.fixture
def quiet_endpoint(endpoint_for):
    """An endpoint at an address nobody answers (nothing here sends to it)."""
    return endpoint_for("https://receiver.example.com/hook", ["camera.created", "zone.created"])


@pytest.fixture
def other_receivers(endpoint_for, acme):
    """An endpoint subscribed to zones only, and a disabled one subscribed to everything."""
    zones_only, disabled = Receiver(), Receiver()
    endpoint_for(zones_only.url, ["zone.created", "zone.updated", "zone.deleted"])
    off = endpoint_for(disabled.url)
    callback_services.endpoint_disable(endpoint=off, actor=None, reason="test")
    yield zones_only, disabled
    zones_only.close()
    disabled.close()


@pytest.fixture
def ordered_and_not(endpoint_for):
    """A per_key receiver and an unordered one, both subscribed to everything."""
    ordered, unordered = Receiver(), Receiver()
    endpoint_for(ordered.url, ordering="per_key")
    endpoint_for(unordered.url)
    yield ordered, unordered
    ordered.close()
    unordered.close()


@pytest.fixture
def pending_delivery(acme, endpoint_for, django_capture_on_commit_callbacks):
    """A pending camera.created delivery (never sent: on-commit work does not run)."""
    endpoint_for("https://hooks.example.com/in", ["camera.created"])
    publish(domain=acme, type="camera.created", object={"camera": {}})
    return Delivery.objects.get()


@pytest.fixture
def sent_delivery(endpoint_for, box, acme_admin, django_capture_on_commit_callbacks):
    """One camera.created delivery with one recorded 500 attempt (no network)."""
    endpoint = endpoint_for(
        "https://hooks.acme.com/camio",
        ["camera.created"],
        headers={"Authorization": "token S3CR3T", "X-Team": "ops"},
    )
    with django_capture_on_commit_callbacks(execute=False):
        services.camera_create(owner=acme_admin, device=box, name="Logged")
    [job] = claim([str(Delivery.objects.get().pk)], 1)
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=False):
        record(
            [
                Result(
                    job=job,
                    request=build_request(job, int(now.timestamp())),
                    started_at=now,
                    finished_at=now,
                    status=500,
                    response_headers=[("X-Why", "down")],
                    response_body="oops",
                )
            ]
        )
    return endpoint, Delivery.objects.get()


@pytest.fixture
def three_endpoints(settings, endpoint_for, receiver, acme_admin):
    """Two live endpoints (one mid secret rotation) and a deleted one, under OLD."""
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    plain = endpoint_for(receiver.url + "/plain", ["camera.created"], headers=HEADERS)
    rotating = endpoint_for(receiver.url + "/rotating", ["camera.created"], headers=HEADERS)
    callback_services.endpoint_rotate_secret(endpoint=rotating, actor=acme_admin)
    deleted = endpoint_for(receiver.url + "/deleted", ["camera.created"])
    callback_services.endpoint_delete(endpoint=deleted, actor=acme_admin)
    return [plain, rotating, deleted]


@pytest.fixture
def receive_command_server():
    """The command's server on a free port, verifying with SECRET; yields (port, lines)."""
    from callbacks.management.commands.receive_callbacks import make_server

    lines: list[str] = []
    server = make_server("127.0.0.1", 0, SECRET, 200, lines.append)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], lines
    server.shutdown()
    server.server_close()


# --- Where callbacks may connect (SSRF) -----------------------------------------------


@pytest.fixture
def only_127_0_0_2(settings):
    """Callbacks may reach 127.0.0.2 and nothing else."""
    settings.CALLBACK_ALLOWED_NETWORKS = ["127.0.0.2/32"]


@pytest.fixture
def nothing_allowed(settings):
    """No private network is allowed for callbacks."""
    settings.CALLBACK_ALLOWED_NETWORKS = []


@pytest.fixture
def dialled(monkeypatch) -> list:
    """Record every connection the process tries, and let none of them happen."""
    calls: list = []

    def connect(sock, address):
        calls.append(address)
        raise ConnectionRefusedError(111, "Connection refused")

    def connect_ex(sock, address):
        calls.append(address)
        return 111

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    return calls


@pytest.fixture
def public_dns(monkeypatch) -> list:
    """Answer every name with one public address; record the names asked."""
    asked: list = []

    def answer(host, port):
        asked.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC_ANSWER, port))]

    monkeypatch.setattr(egress, "getaddrinfo", answer)
    return asked


# --- API: tokens and clients ----------------------------------------------------------


@pytest.fixture
def token_for(db):
    """Issue a token (user token unless ``kind`` says otherwise) and return its plaintext."""

    def make(user: User | None = None, kind: str = "user", device=None, subject: str = "") -> str:
        _, raw = services.token_issue(
            kind=kind,
            user=user,
            name=f"{kind} token",
            actor=None,
            device=device,
            subject=subject,
        )
        return raw

    return make


@pytest.fixture
def client_with():
    """An API client sending ``Authorization: <scheme> <token>`` (None: no header)."""
    from rest_framework.test import APIClient

    def make(token: str | None, scheme: str = "token") -> APIClient:
        client = APIClient()
        if token is not None:
            client.credentials(HTTP_AUTHORIZATION=f"{scheme} {token}")
        return client

    return make


@pytest.fixture
def api(acme_admin, token_for, client_with):
    """acme.com's primary admin, over the API with a user token."""
    return client_with(token_for(acme_admin))


@pytest.fixture
def api_endpoint(api):
    """An endpoint created over the API: its JSON answer."""
    response = api.post(
        "/api/endpoints",
        {
            "url": "https://hooks.acme.com/camio",
            "event_types": ["camera.created", "camera.deleted"],
            "headers": {"Authorization": "token XYZPDQ", "X-Team": "ops"},
            "description": "ops",
        },
    )
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.fixture
def box_client(box, token_for, client_with):
    """The Lobby Box's API client, with its own Box token."""
    return client_with(token_for(kind="box", device=box), "Bearer")


# --- API: two populated domains (the route matrix), Schemathesis ----------------------


@pytest.fixture
def world_a(acme, acme_admin, box, endpoint_for) -> dict[str, str]:
    """acme.com's objects (its Box is the ``box`` fixture)."""
    from tests.support.routes import populate

    return populate(acme, acme_admin, endpoint_for, device=box)


@pytest.fixture
def world_b(beta, beta_admin, endpoint_for) -> dict[str, str]:
    """beta.org's objects: the ids another domain's callers must not reach."""
    from tests.support.routes import populate

    return populate(beta, beta_admin, endpoint_for)


@pytest.fixture
def wsgi_app():
    """The project's WSGI app, keeping the test's connection (and transaction) open
    across requests, as Django's test client does."""
    from django.core.handlers.wsgi import WSGIHandler

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(wsgi_app):
    import schemathesis
    from schemathesis.config import SchemathesisConfig

    from tests.support.schema import CHECK_CONFIG

    config = SchemathesisConfig.from_dict({"checks": CHECK_CONFIG})
    return schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app, config=config)


@pytest.fixture
def admin_auth_header(acme_admin, token_for) -> dict[str, str]:
    """acme.com's primary admin's user token, as a header."""
    return {"Authorization": f"token {token_for(acme_admin)}"}


@pytest.fixture
def no_network(monkeypatch):
    """Refuse and record every callback DNS lookup and every broker send."""
    from callbacks import egress
    from callbacks.delivery import outbox

    calls: list[str] = []

    def refuse_dns(host: str, port: int) -> list:
        calls.append(f"DNS {host}:{port}")
        raise OSError(f"{host}: network access is stubbed in this test")

    monkeypatch.setattr(egress, "getaddrinfo", refuse_dns)
    monkeypatch.setattr(outbox.current_app, "send_task",
                        lambda name, **kw: calls.append(f"enqueue {name}"))
    return calls


@pytest.fixture
def schema_world(acme_admin, box, camera, zone, endpoint_for):
    """acme.com's objects a generated request may name (tests/support/schema.py)."""
    from tests.support.schema import World

    return World(acme_admin, box, camera, zone, endpoint_for)


# --- Portal pages: an object for every route parameter (the isolation walk) -----------


@pytest.fixture
def acme_objects(
    endpoint_for, box, acme_admin, acme_teammate, acme, django_capture_on_commit_callbacks
):
    """One of each object a portal route names, keyed by the route's path parameter."""
    endpoint = endpoint_for("https://hooks.acme.com/", ["camera.created"])
    with django_capture_on_commit_callbacks(execute=False):
        camera = services.camera_create(owner=acme_admin, device=box, name="Cam")
    delivery = Delivery.objects.get()
    Delivery.objects.update(state="failed")
    services.domain_admin_add(domain=acme, user=acme_teammate, actor=acme_admin)
    job = ReplayJob.objects.create(
        endpoint=endpoint, start=timezone.now(), end=timezone.now() + datetime.timedelta(hours=1)
    )
    from pacs import services as pacs_services

    integration = pacs_services.integration_create(owner=acme_admin, vendor="onguard", name="HQ")
    pacs_services.devices_replace(integration=integration, devices=[{"device_id": "1_1"}])
    pacs_token, _ = pacs_services.integration_token_issue(integration=integration, actor=None)
    token, _ = services.token_issue(kind="user", user=acme_admin, name="ci", actor=None)
    return {
        "integration_id": integration.integration_id,
        "device_id": "1_1",
        "user_token_prefix": token.prefix,
        "prefix": pacs_token.prefix,
        "camera_id": camera.camera_id,
        "name": "acme.com",
        "endpoint_id": endpoint.endpoint_id,
        "delivery_id": str(delivery.pk),
        "job_id": job.job_id,
        "user_id": acme_teammate.user_id,
    }


# --- Incidents ------------------------------------------------------------------------


@pytest.fixture
def counter_rules(db):
    """The default counter rules (a data migration; transactional tests flush them)."""
    from incidents.models import CounterRule
    from incidents.services import rules_reset

    if not CounterRule.objects.exists():
        rules_reset(actor=None)


@pytest.fixture
def incident_max_age_ten_years(settings):
    """Reports are judged for ten years (tests/test_incident_rules.py's T0 counts as recent)."""
    settings.INCIDENT_MAX_AGE = 10 * 365 * 24 * 3600  # T0 counts as recent in these tests


@pytest.fixture
def restart_storm(box, camera):
    """A report of 47 segmentation restarts from the camera, judged: an incident now."""
    now = timezone.now()
    ids = incident_services.ingest_reports(
        device=box,
        reports=[
            {
                "time": now.isoformat(),
                "cameras": {
                    camera.camera_id: {
                        "segmentation_process_restart_count": 47,
                        "movies_purged_count": 2,
                    }
                },
            }
        ],
    ).report_ids
    incident_services.evaluate_reports(ids)
    return now


# --- PACS -----------------------------------------------------------------------------


@pytest.fixture
def integration(acme_admin):
    """acme.com's OnGuard integration, as in the seed's example."""
    from pacs.services import integration_create

    return integration_create(
        owner=acme_admin,
        vendor="onguard",
        name="HQ OnGuard",
        source_server="apac.int.acme.com:443",
    )


@pytest.fixture
def pacs_client(integration, client_with):
    """A PACS gateway's client with the integration's token."""
    from pacs.services import integration_token_issue

    _, raw = integration_token_issue(integration=integration, actor=None)
    return client_with(raw, "Bearer")


@pytest.fixture
def pacs_labels(db):
    """The vendors' default label maps (a data migration; transactional tests flush it)."""
    from pacs.models import PacsLabel
    from pacs.vendors import NORMALIZERS

    for vendor, normalizer in NORMALIZERS.items():
        for code, label in normalizer.default_labels.items():
            PacsLabel.objects.get_or_create(vendor=vendor, code=code, defaults={"label": label})


# --- Outages and error reports --------------------------------------------------------


@pytest.fixture
def fresh_outage(monkeypatch):
    """Forget earlier cache errors (the skip window and the log interval)."""
    monkeypatch.setattr(outage, "failed_at", float("-inf"))
    monkeypatch.setattr(outage, "logged_at", float("-inf"))
    monkeypatch.setattr(outage, "suppressed", 0)


@pytest.fixture
def private_redis(tmp_path):
    """A Redis of this test's own on a free port; yields (port, process)."""
    port = free_port()
    process = start_redis(port, tmp_path)
    wait_for(lambda: redis_answers(port), what="the private Redis")
    yield port, process
    kill_group(process)


@pytest.fixture
def database_down(monkeypatch):
    """Call it to make every query from then on fail as a refused connection does."""

    def refuse(self):
        raise OperationalError(
            'connection to server at "127.0.0.1", port 5432 failed: Connection refused'
        )

    return lambda: monkeypatch.setattr(BaseDatabaseWrapper, "ensure_connection", refuse)


@pytest.fixture
def sentry_collector():
    """A loopback Sentry collector (tests/support/sentry.py)."""
    server = Collector()
    yield server
    server.server.shutdown()


@pytest.fixture
def listening():
    """A connection of its own that LISTENs on every channel; yields a reader of
    (channel, payload) pairs heard so far."""
    import psycopg
    from django.db import connection

    from callbacks.delivery.outbox import CHANNEL, CHANNELS

    params = connection.get_connection_params()
    conn = psycopg.connect(**{k: v for k, v in params.items() if k != "cursor_factory"},
                           autocommit=True)
    for n in range(CHANNELS):
        conn.execute(f"LISTEN {CHANNEL}_{n}")

    def heard() -> list[tuple[str, str]]:
        return sorted((note.channel, note.payload) for note in conn.notifies(timeout=0.5))

    yield heard
    conn.close()


@pytest.fixture
def loopback_names(monkeypatch):
    """Host names that resolve to 127.0.0.1 through the SSRF guard's DNS seam
    (callbacks.egress.getaddrinfo): the test adds them with ``loopback_names.add(...)``."""
    import socket

    from callbacks import egress

    names: set[str] = set()
    real = egress.getaddrinfo

    def getaddrinfo(host: str, port: int) -> list[tuple]:
        if host in names:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port)

    monkeypatch.setattr(egress, "getaddrinfo", getaddrinfo)
    return names


@pytest.fixture
def in_process_sentry(sentry_collector):
    """Sentry as a deployment sets it up (camio_portal/monitoring.py), reporting to the
    loopback collector from this process; off again afterwards."""
    import sentry_sdk

    from camio_portal.monitoring import init_sentry

    init_sentry(sentry_collector.dsn, "test")
    yield sentry_collector
    sentry_sdk.flush(5)
    sentry_sdk.init()  # no DSN: reporting off
