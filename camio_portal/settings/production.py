"""Production mode (CAMIO_MODE=production): PostgreSQL, Redis, gunicorn.

Refuses to start, naming what is wrong, without SECRET_KEY,
FIELD_ENCRYPTION_KEYS, ALLOWED_HOSTS, DATABASE_URL, CELERY_BROKER_URL or EMAIL_URL,
with DEBUG on, or with a throttle on and no shared (Redis) CACHE_URL. An EMAIL_URL
that sends nothing (consolemail://, say) is allowed, and ``EMAIL_WARNING`` says what
it does instead (the ``camio-portal`` command prints it at start).
"""

from __future__ import annotations

import binascii

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from camio_portal.env import env
from camio_portal.logs import logging_config
from camio_portal.settings.base import *  # noqa: F403

CAMIO_MODE = "production"

_REQUIRED = {
    "SECRET_KEY": "a long random string, e.g. from: "
    "python3 -c 'import secrets; print(secrets.token_urlsafe(64))'",
    "FIELD_ENCRYPTION_KEYS": "comma-separated Fernet keys, newest first",
    "ALLOWED_HOSTS": "comma-separated host names the portal answers to",
    "DATABASE_URL": "postgres://user:password@host:5432/name",
    "CELERY_BROKER_URL": "redis://host:6379/0",
    # Without it e-mails, sign-in links included, would go to stdout and the logs.
    "EMAIL_URL": "where e-mail goes, e.g. smtp+tls://user:password@smtp.example.com:587; "
    "consolemail:// prints e-mails on stdout instead",
}
# Backends an explicit EMAIL_URL may choose that send nothing, and what they do instead.
_NOT_SENT = {
    "django.core.mail.backends.console.EmailBackend":
        "prints every e-mail, sign-in links included, on stdout",
    "django.core.mail.backends.filebased.EmailBackend":
        "writes every e-mail, sign-in links included, to files",
    "django.core.mail.backends.dummy.EmailBackend":
        "drops every e-mail: invitations and password resets never arrive",
    "django.core.mail.backends.locmem.EmailBackend":
        "keeps every e-mail in memory: invitations and password resets never arrive",
}


def _problems() -> list[str]:
    """List every reason production mode cannot start."""
    found = [
        f"{name} is not set ({hint})"
        for name, hint in _REQUIRED.items()
        if not env.str(name, default="").strip()
    ]
    if env.bool("DEBUG", default=False):
        found.append("DEBUG is on; production never runs with DEBUG (unset it or set DEBUG=false)")
    throttled = [
        f"API_THROTTLE_{scope.upper()}"
        for scope, rate in API_THROTTLE_RATES.items()  # noqa: F405
        if rate
    ]
    if throttled and not env.str("CACHE_URL", default="").startswith(("redis://", "rediss://")):
        found.append(
            f"throttling is on ({', '.join(throttled)}) but CACHE_URL is not a Redis URL, so "
            "each web process would count alone; set CACHE_URL=redis://host:6379/1 (or turn "
            "the throttles off by setting them empty)"
        )
    for index, key in enumerate(env.list("FIELD_ENCRYPTION_KEYS", default=[])):
        try:
            Fernet(key)
        except (ValueError, binascii.Error):
            found.append(f"FIELD_ENCRYPTION_KEYS item {index + 1} is not a Fernet key")
    return found


if _problems():
    raise ImproperlyConfigured(
        "CAMIO_MODE=production refuses to start: " + "; ".join(_problems()) + "."
    )

SECRET_KEY = env.str("SECRET_KEY")
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
DEBUG = False

DATABASES = {"default": database_from_url(env.str("DATABASE_URL"))}  # noqa: F405
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL")
# Long retry countdowns must outlive Redis' visibility timeout; the sweeper
# re-enqueues anything lost, so an hour is enough.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}

# An explicit EMAIL_URL that sends nothing is allowed; camio-portal says so at start.
_sends_nothing = _NOT_SENT.get(EMAIL_CONFIG["EMAIL_BACKEND"], "")  # noqa: F405 - from EMAIL_URL
EMAIL_WARNING = (
    f"EMAIL_URL={env.str('EMAIL_URL').split(':', 1)[0]}:// {_sends_nothing}; set it to an "
    "SMTP server (smtp+tls://user:password@host:587) to send e-mail"
    if _sends_nothing
    else ""
)

CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# Prometheus scrapes each host's gunicorn directly, over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# One JSON object per line for log collectors (LOG_FORMAT=text for people).
LOG_FORMAT = env.str("LOG_FORMAT", default="json").strip().lower()
LOGGING = logging_config(LOG_FORMAT, LOG_LEVEL)  # noqa: F405
