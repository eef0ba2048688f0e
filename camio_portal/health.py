"""Health checks: ``/livez`` (the process answers) and ``/healthz`` (the database, the broker
and the sweeper's heartbeat), for load balancers and ``make run``'s launcher."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from callbacks.selectors import broker_status, heartbeat_status


@require_GET
@never_cache
def livez(request: HttpRequest) -> HttpResponse:
    """Liveness: the web process answers. Needs nothing (no database, cache or broker)."""
    return HttpResponse("ok\n", content_type="text/plain")


def healthz(request: HttpRequest) -> JsonResponse:
    """Report the database, the broker and the sweeper's heartbeat; 503 if one is down."""
    database = _check_database()
    checks = {
        "database": database,
        "broker": broker_status(),
        # The heartbeat is a row: unknown while the database does not answer.
        "beat": heartbeat_status(settings.CALLBACK_SWEEP_INTERVAL)
        if database == "ok"
        else "unknown (no database)",
    }
    healthy = (
        checks["database"] == "ok"
        and checks["broker"] == "ok"
        and not checks["beat"].startswith("stale")
    )
    return JsonResponse(
        {"status": "ok" if healthy else "error", "checks": checks}, status=200 if healthy else 503
    )


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # the health check reports; it never raises
        return f"error: {exc.__class__.__name__}"
    return "ok"
