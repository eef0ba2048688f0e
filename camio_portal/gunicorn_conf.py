"""gunicorn's settings module (``gunicorn -c python:camio_portal.gunicorn_conf ...``):
its error and access logs go through the portal's formatter (LOG_FORMAT, LOG_LEVEL),
the same one Django and Celery use. Command-line options still apply on top."""

from __future__ import annotations

import logging

from camio_portal.env import env, mode
from camio_portal.logs import default_format, logging_config

logconfig_dict = logging_config(
    env.str("LOG_FORMAT", default=default_format(mode())).strip().lower(),
    env.str("LOG_LEVEL", default="INFO").upper(),
)
logging.captureWarnings(True)  # Python's warnings as log lines, not bare stderr
