"""What the settings need for monitoring, read before anything else starts: the
networks that may read /metrics, the metrics folder that every process of a host
shares, and error reporting to Sentry (when SENTRY_DSN is set).

Sentry gets no request bodies, cookies, query strings, local variables, header
values or breadcrumb data: an endpoint's custom headers and secrets, a user's
token or a Box's payload could be in any of them.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured

from camio_portal.env import env

if TYPE_CHECKING:
    from sentry_sdk.types import Breadcrumb, BreadcrumbHint, Event, Hint

FILTERED = "[Filtered]"
# Log fields (camio_portal/logs.py) and Celery's task name: ids, never values.
_KEPT_EXTRA = frozenset({"domain", "endpoint_id", "delivery_id", "event_id", "event_type"})


def networks(name: str, default: list[str]) -> list[str]:
    """Read a comma-separated list of networks (CIDRs or addresses), each checked."""
    values = env.list(name, default=default)
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: {value!r} is not a network (e.g. 10.0.0.0/8, 127.0.0.1 or ::1)."
            ) from None
    return values


def metrics_folder(default: Path | None = None) -> str:
    """Return PROMETHEUS_MULTIPROC_DIR (else ``default``; "" for none), created, and set
    in this process's environment, where prometheus-client and child processes read it.

    Settings call this before anything imports prometheus-client, which chooses its
    multi-process mode when it is first imported.
    """
    value = env.str("PROMETHEUS_MULTIPROC_DIR", default="") or (str(default) if default else "")
    if value:
        Path(value).mkdir(parents=True, exist_ok=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = value  # for prometheus-client and children
    return value


def clear_metrics_folder(folder: str) -> int:
    """Delete the metrics files of earlier runs (before any process of this run starts,
    as prometheus-client asks); return how many."""
    files = list(Path(folder).glob("*.db")) if folder else []
    for path in files:
        path.unlink(missing_ok=True)
    return len(files)


def init_sentry(dsn: str, environment: str) -> None:
    """Report unhandled errors of views and tasks (and error log lines) to Sentry."""
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.logging import LoggingIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        # Breadcrumbs from warnings up: not one per delivery attempt (INFO lines).
        integrations=[DjangoIntegration(), CeleryIntegration(),
                      LoggingIntegration(level=logging.WARNING, event_level=logging.ERROR)],
        # Only these two (and the defaults, logging among them): no aiohttp or redis
        # instrumentation on the delivery path, no outgoing URLs in breadcrumbs.
        auto_enabling_integrations=False,
        send_default_pii=False,
        max_request_body_size="never",
        include_local_variables=False,
        include_source_context=False,
        send_client_reports=False,
        auto_session_tracking=False,
        traces_sample_rate=None,
        before_send=scrub,
        before_breadcrumb=scrub_breadcrumb,
    )


def scrub(event: Event, hint: Hint) -> Event:
    """Keep what locates an error (type, message, stack, URL path, ids); drop values."""
    request = event.get("request")
    if isinstance(request, dict):
        for key in ("data", "cookies", "query_string", "env"):
            request.pop(key, None)
        url, headers = request.get("url"), request.get("headers")
        if isinstance(url, str):
            request["url"] = url.split("?", 1)[0]
        if isinstance(headers, dict):
            request["headers"] = dict.fromkeys(headers, FILTERED)
    extra = event.get("extra")
    if isinstance(extra, dict):
        job = extra.get("celery-job")
        event["extra"] = {k: v for k, v in extra.items() if k in _KEPT_EXTRA}
        if isinstance(job, dict) and "task_name" in job:
            event["extra"]["celery-job"] = {"task_name": job["task_name"]}
    # The SDK sends {"values": [...]}, though its Event type says a list: take either.
    crumbs: Any = event.get("breadcrumbs")
    for crumb in crumbs.get("values", []) if isinstance(crumbs, dict) else crumbs or []:
        scrub_breadcrumb(crumb, {})
    for exception in (event.get("exception") or {}).get("values", []):
        for frame in (exception.get("stacktrace") or {}).get("frames", []):
            frame.pop("vars", None)
    return event


def scrub_breadcrumb(crumb: Breadcrumb, hint: BreadcrumbHint) -> Breadcrumb:
    """Keep a breadcrumb's category and message, never its data (URLs, headers, extras)."""
    crumb.pop("data", None)
    return crumb
