"""Embedded mode (the default): PostgreSQL (camio_portal/pgembed.py, started by the
launcher) and a filesystem broker in a data folder.

Nothing to install or configure: the first run writes a SECRET_KEY and a
field-encryption key into the data folder (mode 0600) and later runs reuse them.
"""

from __future__ import annotations

from cryptography.fernet import Fernet
from django.core.management.utils import get_random_secret_key

from camio_portal.broker import TRANSPORT
from camio_portal.env import data_dir, env, read_or_create_secret
from camio_portal.monitoring import metrics_folder
from camio_portal.settings.base import *  # noqa: F403
from camio_portal.settings.base import database_from_url, embedded_database, filesystem_broker

CAMIO_MODE = "embedded"
# The working folder's data/ (or CAMIO_DATA_DIR), wherever the code is installed.
DATA_DIR = data_dir()

SECRET_KEY = env.str("SECRET_KEY", default="") or read_or_create_secret(
    DATA_DIR / "secret_key", get_random_secret_key
)
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[]) or [
    read_or_create_secret(DATA_DIR / "field_encryption_key", lambda: Fernet.generate_key().decode())
]

DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

# The launcher starts the server in DATA_DIR/postgres and creates the database.
# None when DATABASE_URL names the server.
EMBEDDED_POSTGRES = None if env.str("DATABASE_URL", default="") else DATA_DIR / "postgres"
DATABASES = {
    "default": embedded_database(EMBEDDED_POSTGRES, "camio")
    if EMBEDDED_POSTGRES
    else database_from_url(env.str("DATABASE_URL"))
}

_broker_url, _broker_options = filesystem_broker(DATA_DIR / "broker")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or _broker_url
CELERY_BROKER_TRANSPORT_OPTIONS = _broker_options if _broker_url == CELERY_BROKER_URL else {}
# Atomic message files (camio_portal/broker.py) when the filesystem broker is used.
CELERY_BROKER_TRANSPORT = TRANSPORT if _broker_url == CELERY_BROKER_URL else None
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")

# Without collectstatic: WhiteNoise serves straight from the finders.
WHITENOISE_USE_FINDERS = True
STATIC_ROOT = None

# The demo's receivers run on this machine; the server itself listens on 127.0.0.1 only.
CALLBACK_ALLOWED_NETWORKS = env.list("CALLBACK_ALLOWED_NETWORKS",
                                     default=["127.0.0.0/8", "::1/128"])

# Every process the launcher starts adds its metrics here; the launcher empties it first.
PROMETHEUS_MULTIPROC_DIR = metrics_folder(DATA_DIR / "metrics")
