"""Test settings: an embedded PostgreSQL in the test data folder (tests/conftest.py
starts it) + the filesystem broker, or the servers DATABASE_URL and CELERY_BROKER_URL
name. Keys are generated per test folder.
"""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet
from django.core.management.utils import get_random_secret_key

from camio_portal.broker import TRANSPORT
from camio_portal.env import BASE_DIR, env, read_or_create_secret
from camio_portal.settings.base import *  # noqa: F403
from camio_portal.settings.base import database_from_url, embedded_database, filesystem_broker

CAMIO_MODE = "test"
DATA_DIR = Path(env.str("CAMIO_TEST_DATA_DIR", default=str(BASE_DIR / ".test-data")))

SECRET_KEY = read_or_create_secret(DATA_DIR / "secret_key", get_random_secret_key)
FIELD_ENCRYPTION_KEYS = [
    read_or_create_secret(DATA_DIR / "field_encryption_key", lambda: Fernet.generate_key().decode())
]
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]

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

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
WHITENOISE_USE_FINDERS = True
STATIC_ROOT = None
PORTAL_URL = "http://testserver"

CALLBACK_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
CELERY_BROKER_CONNECTION_TIMEOUT = 1.0

# Throttling is tested by tests that turn it on (in process, or API_THROTTLE_* for a web
# server a test starts); the rest (and schemathesis) run without.
API_THROTTLE_RATES = {
    scope: env.str(f"API_THROTTLE_{scope.upper()}", default="") or None
    for scope in ("user", "anon", "box", "box_reports", "pacs", "pacs_events")
}

# Test-only routes and tasks (tests/probes.py) for a web server or worker a test starts.
ROOT_URLCONF = env.str("CAMIO_TEST_URLCONF", default="camio_portal.urls")
CELERY_IMPORTS = env.list("CAMIO_TEST_CELERY_IMPORTS", default=[])
