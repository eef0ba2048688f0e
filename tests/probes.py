"""Test-only code that a web server or worker started by a test loads (test settings:
``CAMIO_TEST_URLCONF=tests.probes``, ``CAMIO_TEST_CELERY_IMPORTS=tests.probes``): a
view and a task that fail while an endpoint's secret and header values are at hand."""

from __future__ import annotations

from celery import shared_task
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from callbacks.models import Endpoint


class ProbeError(RuntimeError):
    """Raised on purpose, for the error reporter to catch."""


def fail_with(endpoint_pk: int) -> None:
    endpoint = Endpoint.objects.get(pk=endpoint_pk)
    # Locals Sentry must not send.
    headers, secret = dict(endpoint.headers), endpoint.current_key().secret
    raise ProbeError(f"probe failed for endpoint {endpoint.endpoint_id} ({len(headers)} "
                     f"headers, a {len(secret)}-character secret)")


@csrf_exempt
def probe_view(request: HttpRequest, pk: int) -> HttpResponse:
    body = request.body  # read, as a form view would
    fail_with(pk)
    return HttpResponse(body)


@shared_task(name="tests.probe_task")
def probe_task(pk: int) -> None:
    fail_with(pk)


urlpatterns = [
    path("probe/<int:pk>", probe_view),
    path("", include("camio_portal.urls")),
]
