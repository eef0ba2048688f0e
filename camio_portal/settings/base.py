"""Settings shared by every run mode. Mode modules import * from here.

Every value an operator may set is read through ``camio_portal.env.env`` and
listed in docs/configuration.md.
"""

from __future__ import annotations

from importlib.metadata import version as _version
from pathlib import Path
from urllib.parse import unquote

from django.core.exceptions import ImproperlyConfigured

from camio_portal.env import PACKAGE_DIR, env
from camio_portal.logs import logging_config
from camio_portal.monitoring import init_sentry, metrics_folder, networks

# --- Core -----------------------------------------------------------------

DEBUG = False
ALLOWED_HOSTS: list[str] = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "domains",
    "callbacks",
    "incidents",
    "pacs",
]

MIDDLEWARE = [
    # First, so its time covers the rest: requests by route, method and status class.
    "camio_portal.http_metrics.RequestMetricsMiddleware",
    # Second: the request id and trace context of everything below (callbacks/tracing.py).
    "camio_portal.request_context.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "domains.outage.DatabaseOutageMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A row deleted by a concurrent request: the message and the way back (domains/rows.py).
    "domains.rows.GoneMiddleware",
]

ROOT_URLCONF = "camio_portal.urls"
WSGI_APPLICATION = "camio_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "domains.context_processors.portal",
            ],
        },
    },
]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Users and sign-in ----------------------------------------------------

AUTH_USER_MODEL = "domains.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "domains:index"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3 * 24 * 3600)
INVITATION_MAX_AGE_DAYS = env.int("INVITATION_MAX_AGE_DAYS", default=7)

# --- Portal ---------------------------------------------------------------

# Absolute base URL used in links that leave the portal (invitation e-mails
# sent from the command line have no request to build them from).
PORTAL_URL = env.str("PORTAL_URL", default="http://127.0.0.1:8000").rstrip("/")
SUPPORT_EMAIL = env.str("SUPPORT_EMAIL", default="support@camio-portal.invalid")

# --- Cache ----------------------------------------------------------------

# API throttling counts here: per process by default (embedded mode); production
# needs Redis (CACHE_URL=redis://host:6379/1) so every web process shares one count.
# Redis is used through a backend that fails open: an outage never fails a request.
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    CACHES["default"]["BACKEND"] = "domains.cache.FailOpenRedisCache"
    CACHES["default"].setdefault("OPTIONS", {}).update(
        socket_connect_timeout=env.float("CACHE_TIMEOUT", default=0.5),
        socket_timeout=env.float("CACHE_TIMEOUT", default=0.5),
    )

# --- REST API -------------------------------------------------------------

# Seconds a 503 asks clients to wait (Retry-After) while the database is unavailable.
OUTAGE_RETRY_AFTER = env.int("OUTAGE_RETRY_AFTER", default=5)

API_PAGE_SIZE = env.int("API_PAGE_SIZE", default=50)
API_MAX_PAGE_SIZE = env.int("API_MAX_PAGE_SIZE", default=500)
# "<n>/<second|minute|hour|day>"; empty turns a throttle off.
API_THROTTLE_RATES = {
    "user": env.str("API_THROTTLE_USER", default="1200/minute") or None,
    "anon": env.str("API_THROTTLE_ANON", default="60/minute") or None,
    "box": env.str("API_THROTTLE_BOX", default="600/minute") or None,
    # What a request carries counts too: a Box's counter reports, a gateway's events.
    "box_reports": env.str("API_THROTTLE_BOX_REPORTS", default="6000/minute") or None,
    "pacs": env.str("API_THROTTLE_PACS", default="1200/minute") or None,
    "pacs_events": env.str("API_THROTTLE_PACS_EVENTS", default="30000/minute") or None,
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apikit.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["apikit.permissions.UserCredentials"],
    "DEFAULT_PARSER_CLASSES": ["apikit.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": [
        "apikit.throttling.UserThrottle",
        "apikit.throttling.AnonThrottle",
    ],
    "DEFAULT_SCHEMA_CLASS": "apikit.schema.PortalAutoSchema",
    "EXCEPTION_HANDLER": "apikit.errors.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Camio Portal API",
    "DESCRIPTION": (
        "Domain-level callback endpoints, their events and deliveries, the domain's "
        "inventory and users' hooks. Authenticate with `Authorization: token <t>` "
        "(or `Bearer <t>`). The `webhooks` section lists the callbacks the portal sends."
    ),
    "VERSION": _version("camio-portal"),  # the release (pyproject.toml), as the API's
    # Operations grouped in the portal's order: what integrators use most first.
    "TAGS": [{"name": name} for name in (
        "endpoints", "deliveries", "events", "domains", "inventory", "hooks", "incidents",
        "pacs", "pacs gateway", "users")],
    "OAS_VERSION": "3.1.0",
    "SCHEMA_PATH_PREFIX": "/api/",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "token": {
                "type": "http",
                "scheme": "bearer",
                "description": "A user token: `Authorization: Bearer <t>` or `token <t>`.",
            }
        },
    },
    "SECURITY": [{"token": []}],
    "ENUM_NAME_OVERRIDES": {
        "DeliveryStateEnum": "callbacks.models.DeliveryState",
        "ReplayStateEnum": "callbacks.models.ReplayJob.State",
        "EventTypeEnum": "callbacks.api.serializers.EVENT_TYPES",
    },
    "AUTHENTICATION_WHITELIST": [],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apikit.schema.name_enum_values",
        "apikit.schema.add_error_schema",
        "apikit.schema.add_webhooks",
    ],
}

# --- E-mail ---------------------------------------------------------------

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
if EMAIL_CONFIG["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend":
    EMAIL_BACKEND = "camio_portal.mail.FramedConsoleBackend"  # a block that stands out
DEFAULT_FROM_EMAIL = env.str(
    "DEFAULT_FROM_EMAIL", default="Camio Portal <no-reply@camio-portal.invalid>"
)
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Static files ---------------------------------------------------------

STATIC_URL = "/static/"
# Inside the package, so an installed wheel has them.
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
# In the working folder by default, never inside the installed package.
STATIC_ROOT = env.str("STATIC_ROOT", default=str(Path.cwd() / "staticfiles"))

# --- Celery ---------------------------------------------------------------

CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=90)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_DEFAULT_QUEUE = "celery"
# Each kind of work on its own queue, so deliveries never wait behind evaluation,
# PACS flushes, replays or maintenance (docs/callbacks.md, "Queues and workers").
QUEUE_TASKS = {
    "deliveries": ["callbacks.deliver", "callbacks.sweep", "callbacks.endpoint_disable",
                   "callbacks.circuit_changed", "callbacks.announce"],
    "replay": ["callbacks.replay"],
    "incidents": ["incidents.evaluate", "incidents.evaluate_box", "incidents.sweep"],
    "pacs": ["pacs.flush", "pacs.sweep"],
    "maintenance": ["callbacks.retention", "incidents.retention", "pacs.retention"],
}
CELERY_TASK_ROUTES = {
    task: {"queue": queue} for queue, tasks in QUEUE_TASKS.items() for task in tasks
}
# What each kind of worker consumes (`--queues`): delivery workers, and the rest.
# "celery" drains messages queued by versions before the queues were split.
WORKER_QUEUES = {
    "deliveries": ["deliveries", "deliveries-replay"],
    "other": ["incidents", "pacs", "replay", "maintenance", "celery"],
}
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=2.0)
# Publishing after commit must not hang a web request when the broker is down:
# one quick retry, then the error is logged and the sweeper sends later.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0,
                                    "interval_step": 0.2, "interval_max": 0.2}
CELERY_BEAT_SCHEDULE: dict = {}  # filled in beat_schedule() below

# --- Callback delivery ----------------------------------------------------

# Seconds to wait before each attempt: immediately, 5 s, 5 min, 30 min, 2 h,
# 5 h, 10 h, 14 h, 20 h, 24 h (about three days), each ±jitter.
CALLBACK_RETRY_SCHEDULE = env.list(
    "CALLBACK_RETRY_SCHEDULE", cast=float,
    default=[0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400],
)
CALLBACK_RETRY_JITTER = env.float("CALLBACK_RETRY_JITTER", default=0.2)
CALLBACK_RETRY_AFTER_MAX = env.int("CALLBACK_RETRY_AFTER_MAX", default=3600)
CALLBACK_TIMEOUT = env.float("CALLBACK_TIMEOUT", default=15.0)
# Each callback carries traceparent, tracestate and camio-request-id of the change that
# caused it (callbacks/tracing.py); false leaves the three out.
CALLBACK_TRACE_HEADERS = env.bool("CALLBACK_TRACE_HEADERS", default=True)
CALLBACK_CONNECT_TIMEOUT = env.float("CALLBACK_CONNECT_TIMEOUT", default=5.0)
CALLBACK_RESPONSE_MAX_BYTES = env.int("CALLBACK_RESPONSE_MAX_BYTES", default=16_384)
CALLBACK_HEADERS_MAX_BYTES = env.int("CALLBACK_HEADERS_MAX_BYTES", default=8_192)
CALLBACK_ENDPOINT_INFLIGHT = env.int("CALLBACK_ENDPOINT_INFLIGHT", default=200)
CALLBACK_PROCESS_INFLIGHT = env.int("CALLBACK_PROCESS_INFLIGHT", default=500)
CALLBACK_BATCH_SIZE = env.int("CALLBACK_BATCH_SIZE", default=200)
CALLBACK_LEASE_SECONDS = env.float("CALLBACK_LEASE_SECONDS", default=120.0)
# Every worker heartbeats this often; a delivery worker silent for 3 beats is dead and
# its claims are taken back (the lease above is the last resort).
CALLBACK_WORKER_HEARTBEAT = env.float("CALLBACK_WORKER_HEARTBEAT", default=1.0)
# Delivery workers hear about new deliveries at once (PostgreSQL NOTIFY) and scan for due
# work (retries, what others gave back) this often.
CALLBACK_SCAN_INTERVAL = env.float("CALLBACK_SCAN_INTERVAL", default=1.0)
CALLBACK_SWEEP_INTERVAL = env.float("CALLBACK_SWEEP_INTERVAL", default=5.0)
CALLBACK_SWEEP_LIMIT = env.int("CALLBACK_SWEEP_LIMIT", default=5_000)
CALLBACK_DISABLE_AFTER_DAYS = env.float("CALLBACK_DISABLE_AFTER_DAYS", default=5.0)
# An endpoint may carry its own retry schedule, whose delays add up to at most this many
# seconds (capped at the auto-disable window above), and its own attempt timeout, from 1 s
# to CALLBACK_TIMEOUT_MAX (docs/callbacks.md, "Retry policy per endpoint").
CALLBACK_RETRY_MAX_AGE = min(env.float("CALLBACK_RETRY_MAX_AGE", default=4 * 86400.0),
                             CALLBACK_DISABLE_AFTER_DAYS * 86400)
CALLBACK_TIMEOUT_MAX = env.float("CALLBACK_TIMEOUT_MAX", default=60.0)
# The circuit breaker: open after this many consecutive failures that count (0: off);
# then one probe at a time, every PROBE_MIN seconds doubling up to PROBE_MAX.
CALLBACK_BREAKER_FAILURES = env.int("CALLBACK_BREAKER_FAILURES", default=10)
CALLBACK_BREAKER_PROBE_MIN = env.float("CALLBACK_BREAKER_PROBE_MIN", default=30.0)
CALLBACK_BREAKER_PROBE_MAX = env.float("CALLBACK_BREAKER_PROBE_MAX", default=600.0)
# Operational events (docs/callbacks.md): endpoint.failing after this many failed attempts
# in a row (or when the circuit opens, if sooner); delivery.exhausted at most once per
# endpoint per OPERATIONAL_DIGEST_SECONDS.
CALLBACK_FAILING_AFTER = env.int("CALLBACK_FAILING_AFTER", default=5)
OPERATIONAL_DIGEST_SECONDS = env.float("OPERATIONAL_DIGEST_SECONDS", default=300.0)
CALLBACK_SECRET_OVERLAP_HOURS = env.float("CALLBACK_SECRET_OVERLAP_HOURS", default=24.0)
# A deleted endpoint or PACS integration can be restored (Undo) for this long; after it an
# integration's devices, door mappings, events and tokens are purged (an endpoint stays
# soft-deleted with its delivery log).
UNDO_WINDOW_HOURS = env.float("UNDO_WINDOW_HOURS", default=24.0)
CALLBACK_TEST_WAIT_SECONDS = env.float("CALLBACK_TEST_WAIT_SECONDS", default=20.0)
CALLBACK_REPLAY_RATE = env.int("CALLBACK_REPLAY_RATE", default=500)  # deliveries/s created
# Networks a callback may reach although private or loopback (CIDRs).
CALLBACK_ALLOWED_NETWORKS: list[str] = env.list("CALLBACK_ALLOWED_NETWORKS", default=[])
# Fixed egress (docs/callbacks.md, "Egress proxy"): every callback through this HTTP proxy
# (credentials in the URL are kept encrypted nowhere: they are configuration), except to
# hosts in CALLBACK_NO_PROXY (names, ".domain" suffixes, or "*"). The guard judges the
# destination first; the proxy is trusted configuration.
CALLBACK_PROXY_URL = env.str("CALLBACK_PROXY_URL", default="")
CALLBACK_NO_PROXY: list[str] = env.list("CALLBACK_NO_PROXY", default=[])

# --- Incidents ------------------------------------------------------------

# Reports older than this (report time) are evaluated but publish nothing.
INCIDENT_MAX_AGE = env.int("INCIDENT_MAX_AGE", default=3600)  # seconds
INCIDENT_MAX_REPORTS = env.int("INCIDENT_MAX_REPORTS", default=1_000)  # per request
INCIDENT_MAX_BODY_BYTES = env.int("INCIDENT_MAX_BODY_BYTES", default=5 * 1024 * 1024)
INCIDENT_REPORT_RETENTION_DAYS = env.int("INCIDENT_REPORT_RETENTION_DAYS", default=7)
INCIDENT_ROLLUP_RETENTION_DAYS = env.int("INCIDENT_ROLLUP_RETENTION_DAYS", default=90)
# A report dated more than this many seconds ahead of the portal's clock is refused (422).
INCIDENT_REPORT_MAX_AHEAD = env.int("INCIDENT_REPORT_MAX_AHEAD", default=86400)
# Reports not evaluated after this many seconds are evaluated by the sweeper.
INCIDENT_SWEEP_AFTER = env.float("INCIDENT_SWEEP_AFTER", default=30.0)
# A Box's reports are evaluated this many per transaction (short: its rows stay locked
# for less), at most this many transactions per task, under a lease of this length.
INCIDENT_EVALUATION_CHUNK = env.int("INCIDENT_EVALUATION_CHUNK", default=100)
INCIDENT_EVALUATION_CHUNKS_PER_TASK = env.int("INCIDENT_EVALUATION_CHUNKS_PER_TASK", default=20)
INCIDENT_LEASE_SECONDS = env.float("INCIDENT_LEASE_SECONDS", default=120.0)

# --- PACS relay -----------------------------------------------------------

PACS_BATCH_SIZE = env.int("PACS_BATCH_SIZE", default=100)  # N: events per callback at most
PACS_FLUSH_DELAY_MS = env.int("PACS_FLUSH_DELAY_MS", default=1_000)  # T: wait to gather a batch
PACS_MAX_EVENTS = env.int("PACS_MAX_EVENTS", default=5_000)  # per request
PACS_MAX_BODY_BYTES = env.int("PACS_MAX_BODY_BYTES", default=5 * 1024 * 1024)
PACS_EVENT_RETENTION_DAYS = env.int("PACS_EVENT_RETENTION_DAYS", default=30)

# Django's own cap on a request body sits above the batch caps, so those answer 413
# in the API's format first.
DATA_UPLOAD_MAX_MEMORY_SIZE = max(INCIDENT_MAX_BODY_BYTES, PACS_MAX_BODY_BYTES) + 1024 * 1024

# --- Retention ---------------------------------------------------------------

RETENTION_EVENTS_DAYS = env.int("RETENTION_EVENTS_DAYS", default=30)
RETENTION_BATCH = env.int("RETENTION_BATCH", default=2_000)

# --- Field encryption -----------------------------------------------------

# Fernet keys, newest first: the first encrypts, all decrypt (key rotation).
FIELD_ENCRYPTION_KEYS: list[str] = []

# --- Logging --------------------------------------------------------------

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
# json: one JSON object per line (production's default); text: for people. gunicorn
# (camio_portal/gunicorn_conf.py) and Celery (camio_portal/celery.py) use it too.
LOG_FORMAT = env.str("LOG_FORMAT", default="text").strip().lower()
LOGGING = logging_config(LOG_FORMAT, LOG_LEVEL)
LOGGING_CONFIG = "camio_portal.logs.configure"  # warnings logged too

# --- Monitoring -----------------------------------------------------------

# /metrics answers without a token only to connections from these networks (the
# connection's own address, never X-Forwarded-For); METRICS_TOKEN, when set, lets
# anyone with it in (Authorization: Bearer <token>).
METRICS_ALLOWED_NETWORKS = networks("METRICS_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1"])
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# The folder where every process of a host (gunicorn's, Celery's) writes its metrics,
# so /metrics adds them up; empty: each process counts alone.
PROMETHEUS_MULTIPROC_DIR = metrics_folder()
# Errors of views and tasks to Sentry, without request bodies or header values.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    init_sentry(SENTRY_DSN, environment=env.str("CAMIO_MODE", default="embedded"))


def filesystem_broker(folder) -> tuple[str, dict]:
    """Return (broker URL, transport options) for kombu's serverless filesystem transport."""
    queue, processed, control = folder / "queue", folder / "processed", folder / "control"
    for path in (queue, processed, control):
        path.mkdir(parents=True, exist_ok=True)
    return "filesystem://localhost//", {
        "data_folder_in": str(queue),
        "data_folder_out": str(queue),
        "processed_folder": str(processed),
        "store_processed": False,
        "control_folder": str(control),
        "polling_interval": 0.1,
    }


def database_from_url(url: str) -> dict:
    """Return the DATABASES entry of a PostgreSQL ``url`` (DATABASE_URL); refuse any other
    engine, naming what to do instead."""
    config = env.db_url_config(url)
    if config.get("ENGINE") != "django.db.backends.postgresql":
        scheme = url.split(":", 1)[0]
        raise ImproperlyConfigured(
            f"DATABASE_URL names a {scheme} database; Camio Portal runs on PostgreSQL 15 or "
            "newer only (postgres://user:password@host:5432/name). Unset DATABASE_URL to use "
            "the embedded PostgreSQL; `make run` imports a data folder's old camio.sqlite3."
        )
    # A unix socket folder as the host, percent-encoded: postgres://user@%2Fpath%2Frun/name
    config["HOST"] = unquote(config.get("HOST") or "")
    return config


def embedded_database(base: Path, name: str) -> dict:
    """Return the DATABASES entry of the embedded PostgreSQL in ``base`` (camio_portal/
    pgembed.py): its unix socket, no password (only this user reaches the socket)."""
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": "postgres",
        "HOST": str(base.resolve() / "run"),
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }


def beat_schedule(sweep_interval: float) -> dict:
    """Return the periodic tasks: the delivery sweeper and retention."""
    return {
        "callbacks-sweep": {"task": "callbacks.sweep", "schedule": sweep_interval},
        "callbacks-retention": {"task": "callbacks.retention", "schedule": 3600.0},
        "incidents-sweep": {"task": "incidents.sweep", "schedule": max(sweep_interval, 10.0)},
        "incidents-retention": {"task": "incidents.retention", "schedule": 3600.0},
        "pacs-sweep": {"task": "pacs.sweep", "schedule": max(sweep_interval, 5.0)},
        "pacs-retention": {"task": "pacs.retention", "schedule": 3600.0},
    }


CELERY_BEAT_SCHEDULE = beat_schedule(CALLBACK_SWEEP_INTERVAL)


# Last: every process that loads these settings gets the Celery app, so shared tasks
# are sent through it (the package's __init__ does not import it, keeping the launcher
# and its database watchdog free of Django and Celery).
from camio_portal.celery import app as celery_app  # noqa: E402, F401
