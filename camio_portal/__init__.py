"""Camio Portal: wiring only (settings, URLs, the Celery app, WSGI/ASGI).

The Celery app (camio_portal/celery.py) is imported by the settings, so every process
that loads Django has it; the launcher and the database watchdog load neither and stay
small. ``celery -A camio_portal`` finds it as ``camio_portal.celery``.
"""

__version__ = "0.1.0"
