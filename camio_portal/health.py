"""Health checks: ``/livez`` (the process answers), ``/readyz`` (this web process can serve:
its database answers; for a load balancer) and ``/healthz`` (the whole portal: the database,
the broker, the sweeper's heartbeat and a live worker of each role; for monitoring and
``make run``'s launcher)."""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from callbacks.selectors import broker_status, heartbeat_status, worker_status


@require_GET
@never_cache
def livez(request: HttpRequest) -> HttpResponse:
    """Liveness: the web process answers. Needs nothing (no database, cache or broker)."""
    return HttpResponse("ok\n", content_type="text/plain")


@require_GET
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness of this web process for a load balancer: its database answers (workers and
    the broker are not its business: a page still serves while they restart)."""
    database = _check_database()
    ready = database == "ok"
    return JsonResponse({"status": "ok" if ready else "error", "checks": {"database": database}},
                        status=200 if ready else 503)


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Report the database, the broker, the sweeper's heartbeat and the live workers of each
    role; 503 if one is down or a role has no live worker."""
    database = _check_database()
    checks = {"database": database, "broker": broker_status()}
    if database == "ok":
        checks["beat"] = heartbeat_status(settings.CALLBACK_SWEEP_INTERVAL)
        checks.update(worker_status())
    else:  # the heartbeats are rows: unknown while the database does not answer
        checks["beat"] = "unknown (no database)"
    healthy = (
        checks["database"] == "ok"
        and checks["broker"] == "ok"
        and not checks["beat"].startswith("stale")
        and all(not value.startswith("none") for role, value in checks.items()
                if role in settings.WORKER_QUEUES)
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
