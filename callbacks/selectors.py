"""Reads of callbacks data for other apps' pages (domains' views, the health check)."""

from __future__ import annotations

from django.utils import timezone

from callbacks.models import Heartbeat


def heartbeat_status(interval: float, name: str = "sweeper") -> str:
    """Return "ok", "starting" (never seen) or "stale (N s ago)" for a periodic task."""
    beat = Heartbeat.objects.filter(name=name).first()
    if beat is None:
        return "starting"
    age = (timezone.now() - beat.at).total_seconds()
    return "ok" if age <= max(3 * interval, 30) else f"stale ({age:.0f} s ago)"


def broker_status() -> str:
    """Return "ok" when the Celery broker accepts a connection, else the error's name."""
    from celery import current_app

    try:
        with current_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=0, timeout=2)
    except Exception as exc:  # the health check reports; it never raises
        return f"error: {exc.__class__.__name__}"
    return "ok"
