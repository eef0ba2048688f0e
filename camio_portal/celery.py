"""The Celery app: configured from Django settings (CELERY_* names)."""

from celery import Celery

from camio_portal.env import use_default_settings

use_default_settings()

app = Celery("camio_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
