"""Every request counted and timed by route, method and status class (``/metrics``).

The route is the URL pattern's name (``api:endpoint-detail``, ``domains:domain``,
``pacs:webhooks``, an admin view's name), never the path: ids would make a series per
object. A static file is ``static``; a path no pattern matches is ``unmatched``. The
middleware sits first, so the time covers every other middleware (the outage page, the
session, throttles answered by views) and whitenoise's static files.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import Counter, Histogram

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUESTS = Counter(
    "camio_http_requests",
    "HTTP requests answered, by route name, method and status class (2xx, 4xx, ...).",
    ["route", "method", "status"],
)
SECONDS = Histogram(
    "camio_http_request_duration_seconds",
    "Time to answer an HTTP request, by route name and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


def route_of(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is not None and match.view_name:
        return match.view_name
    if request.path.startswith(settings.STATIC_URL):
        return "static"
    return "unmatched"


class RequestMetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        method = request.method if request.method in METHODS else "other"
        route = route_of(request)
        REQUESTS.labels(route, method, f"{response.status_code // 100}xx").inc()
        SECONDS.labels(route, method).observe(time.perf_counter() - started)
        return response
