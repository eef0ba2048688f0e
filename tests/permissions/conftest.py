"""The people of the permission tests, each with a signed-in client, and acme.com's
objects their requests name."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from callbacks import services as callbacks
from callbacks.models import Delivery, DeliveryState, ReplayJob
from callbacks.publishing import publish
from domains import services
from tests.support.portal import signed_in


@pytest.fixture
def owner_client(acme_admin):
    """acme.com's primary admin."""
    return signed_in(acme_admin)


@pytest.fixture
def co_admin(acme, acme_admin, acme_teammate):
    """acme.com's teammate, made an admin (not the primary one)."""
    services.domain_admin_add(domain=acme, user=acme_teammate, actor=acme_admin)
    return acme_teammate


@pytest.fixture
def co_admin_client(co_admin):
    return signed_in(co_admin)


@pytest.fixture
def teammate_client(acme_teammate):
    """A user of acme.com who administers nothing."""
    return signed_in(acme_teammate)


@pytest.fixture
def outsider_client(beta_admin):
    """beta.org's primary admin: an admin, of another domain."""
    return signed_in(beta_admin)


@pytest.fixture
def endpoint(endpoint_for):
    """An enabled endpoint of acme.com."""
    return endpoint_for("https://hooks.acme.com/camio", ["camera.created"])


@pytest.fixture
def disabled_endpoint(endpoint):
    callbacks.endpoint_disable(endpoint=endpoint, actor=None, reason="switched off")
    endpoint.refresh_from_db()
    return endpoint


@pytest.fixture
def delivery(acme, endpoint, django_capture_on_commit_callbacks):
    """A pending delivery to acme.com's endpoint (never sent: on-commit work is held)."""
    with django_capture_on_commit_callbacks(execute=False):
        publish(domain=acme, type="camera.created", object={"camera": {}})
    return Delivery.objects.get()


@pytest.fixture
def failed_delivery(delivery):
    """The delivery, finished and failed (so it may be sent again)."""
    Delivery.objects.filter(pk=delivery.pk).update(
        state=DeliveryState.FAILED, finished_at=timezone.now()
    )
    delivery.refresh_from_db()
    return delivery


@pytest.fixture
def replay_job(endpoint):
    now = timezone.now()
    return ReplayJob.objects.create(
        endpoint=endpoint, start=now - datetime.timedelta(hours=1), end=now
    )


@pytest.fixture
def owner_token(acme_admin):
    """acme.com's primary admin's API token."""
    token, _ = services.token_issue(kind="user", user=acme_admin, name="ci", actor=None)
    return token


@pytest.fixture
def door(integration):
    """Door 1_1 of acme.com's OnGuard integration."""
    from pacs import services as pacs_services

    pacs_services.devices_replace(integration=integration, devices=[{"device_id": "1_1"}])
    return integration.devices.get(device_id="1_1")


@pytest.fixture
def integration_token(integration):
    """The OnGuard integration's gateway token."""
    from pacs import services as pacs_services

    token, _ = pacs_services.integration_token_issue(integration=integration, actor=None)
    return token
