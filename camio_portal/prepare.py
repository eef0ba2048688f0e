"""Prepare embedded mode's database, in a process of its own before the launcher starts
the others (so the launcher itself never loads Django and stays small):

    python -m camio_portal.prepare

Creates the portal's database in the embedded PostgreSQL (importing the data folder's
database of the SQLite era when there is one: camio_portal/legacy_import.py), migrates,
seeds the demo and
prints its sign-ins on stdout (the launcher shows them in its banner).
"""

from __future__ import annotations

import sys

from camio_portal import pgembed
from camio_portal.env import use_default_settings


def main() -> int:
    use_default_settings()
    import django
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
    except ImproperlyConfigured as problem:
        print(problem, file=sys.stderr)
        return 2
    from django.conf import settings
    from django.core.management import call_command

    from camio_portal.monitoring import clear_metrics_folder

    clear_metrics_folder(settings.PROMETHEUS_MULTIPROC_DIR)  # this run's counts start at 0
    embedded = getattr(settings, "EMBEDDED_POSTGRES", None)
    name = settings.DATABASES["default"]["NAME"]
    if embedded is not None and not pgembed.database_exists(embedded, name):
        from camio_portal.legacy_import import ImportRefused, import_legacy, legacy_database

        legacy = legacy_database(settings.DATA_DIR)
        if legacy is not None:
            try:
                import_legacy(legacy, name)
            except ImportRefused as refused:
                print(f"Cannot import {legacy}: {refused}", file=sys.stderr)
                return 2
        else:
            pgembed.ensure_database(embedded, name)
    print("Preparing the database ...", file=sys.stderr, flush=True)
    call_command("migrate", interactive=False, verbosity=0)
    call_command("seed_demo", verbosity=0)
    call_command("seed_demo", show=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
