"""Camio Portal: wiring only (settings, URLs, the Celery app, WSGI/ASGI)."""

from camio_portal.celery import app as celery_app

__all__ = ["celery_app"]
__version__ = "0.1.0"
