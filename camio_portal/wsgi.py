"""WSGI entry point (gunicorn camio_portal.wsgi)."""

from django.core.wsgi import get_wsgi_application

from camio_portal.env import use_default_settings

use_default_settings()
application = get_wsgi_application()
