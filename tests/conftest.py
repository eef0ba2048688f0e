"""Shared fixtures: a registered domain with its primary admin, a teammate, an
outsider in another domain, and support staff, so permission tests read like prose."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, cast

import pytest
from django.conf import settings
from django.db import connection

from domains import services
from domains.models import Domain, User

if TYPE_CHECKING:
    from kombu.transport.virtual import Channel as VirtualChannel


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Show which database and broker this run really uses."""
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    broker = settings.CELERY_BROKER_URL.split("://", 1)[0]
    return [f"camio: database={engine} broker={broker}"]


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
def db_vendor(db) -> str:
    return connection.vendor


# --- Delivery pipeline: a real worker and a loopback receiver -----------------


@pytest.fixture
def receiver():
    from tests.receiver import Receiver

    server = Receiver()
    yield server
    server.close()


def all_queues() -> list[str]:
    return [q for queues in settings.WORKER_QUEUES.values() for q in queues]


def purge_broker() -> None:
    from camio_portal.celery import app

    with app.connection_for_write() as conn:
        for queue in all_queues():
            # A queue that was never declared has nothing to purge. Both brokers the tests
            # use (filesystem, Redis) are kombu virtual transports.
            with contextlib.suppress(Exception):
                cast("VirtualChannel", conn.default_channel).queue_purge(queue)


@contextlib.contextmanager
def running_worker(queues: list[str] | None = None):
    """Run a real Celery worker in this process (so patches and settings apply), on
    ``queues`` (default: every queue, both workers' work in one)."""
    from celery.contrib.testing.worker import start_worker

    from callbacks.delivery.dispatcher import shutdown_dispatcher
    from camio_portal.celery import app

    purge_broker()
    with start_worker(
        app,
        pool="solo",
        concurrency=1,
        perform_ping_check=False,
        loglevel="WARNING",
        shutdown_timeout=30,
        queues=queues or all_queues(),
    ) as w:
        yield w
        shutdown_dispatcher(timeout=30)
    purge_broker()


@pytest.fixture
def worker(transactional_db):
    """A real Celery worker for one test."""
    with running_worker() as w:
        yield w


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


# --- API: tokens and clients ----------------------------------------------------


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
def counter_rules(db):
    """The default counter rules (a data migration; transactional tests flush them)."""
    from incidents.models import CounterRule
    from incidents.services import rules_reset

    if not CounterRule.objects.exists():
        rules_reset(actor=None)


# --- PACS -------------------------------------------------------------------------


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
