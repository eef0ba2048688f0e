"""The Celery app: configured from Django settings (CELERY_* names)."""

from typing import Any

from celery import Celery
from celery.signals import celeryd_init, setup_logging

from camio_portal.env import use_default_settings
from camio_portal.logs import configure, configured

use_default_settings()

app = Celery("camio_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect  # instead of Celery's own handlers and format
def _use_django_logging(**kwargs: object) -> None:
    """Log workers and beat through Django's LOGGING (LOG_FORMAT), unless already done."""
    from django.conf import settings

    if not configured():
        configure(settings.LOGGING)


@celeryd_init.connect
def _quiet_when_json(instance: Any, **kwargs: object) -> None:
    """Set up logging before the worker's first warning; in JSON, skip its banner (plain
    text; ``celery beat`` needs ``--quiet`` for the same)."""
    from django.conf import settings

    _use_django_logging()
    if settings.LOG_FORMAT == "json":
        instance.quiet = True
