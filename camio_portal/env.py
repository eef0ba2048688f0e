"""The one django-environ reader of the process environment.

Settings modules, manage.py, WSGI/ASGI and the Celery app ask it; app code
reads ``django.conf.settings`` instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()

# The package (templates, static files) and, in a checkout, the folder holding it.
PACKAGE_DIR = Path(__file__).resolve().parent
BASE_DIR = PACKAGE_DIR.parent
MODES = ("embedded", "production", "test")


def mode() -> str:
    """Return the run mode named by CAMIO_MODE (embedded unless set)."""
    value = env.str("CAMIO_MODE", default="embedded").strip().lower()
    if value not in MODES:
        raise ImproperlyConfigured(
            f"CAMIO_MODE={value!r} is not a run mode; use one of {', '.join(MODES)}."
        )
    return value


def settings_module() -> str:
    """Return the dotted settings module for the current run mode."""
    return f"camio_portal.settings.{mode()}"


def data_dir() -> Path:
    """Return embedded mode's data folder: CAMIO_DATA_DIR, else ./data in the working folder.

    Never a folder beside the code: an installed portal's code is in site-packages.
    """
    return Path(env.str("CAMIO_DATA_DIR", default="") or Path.cwd() / "data").resolve()


def use_default_settings() -> None:
    """Point DJANGO_SETTINGS_MODULE at the current mode unless already set."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings_module())


def read_or_create_secret(path: Path, make: Callable[[], str]) -> str:
    """Return the secret stored at ``path``, creating it (mode 0600) on first use.

    O_EXCL makes two processes starting together agree on one value: the loser
    of the race reads the winner's file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        value = path.read_text().strip()
        if not value:
            raise ImproperlyConfigured(
                f"{path} is empty; delete it to generate a new one."
            ) from None
        return value
    with os.fdopen(fd, "w") as handle:
        handle.write(make() + "\n")
    return path.read_text().strip()
