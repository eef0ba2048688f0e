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
    if embedded is not None and not _database_exists(embedded):
        from camio_portal.legacy_import import ImportRefused, import_legacy, legacy_database

        legacy = legacy_database(settings.DATA_DIR)
        if legacy is not None:
            try:
                import_legacy(legacy, settings.DATABASES["default"]["NAME"])
            except ImportRefused as refused:
                print(f"Cannot import {legacy}: {refused}", file=sys.stderr)
                return 2
        else:
            from camio_portal import pgembed

            pgembed.ensure_database(embedded, settings.DATABASES["default"]["NAME"])
    print("Preparing the database ...", file=sys.stderr, flush=True)
    call_command("migrate", interactive=False, verbosity=0)
    call_command("seed_demo", verbosity=0)
    call_command("seed_demo", show=True)
    return 0


def _database_exists(base) -> bool:
    import psycopg
    from django.conf import settings

    from camio_portal import pgembed

    name = settings.DATABASES["default"]["NAME"]
    with psycopg.connect(pgembed.dsn(base, "postgres")) as conn:
        return bool(conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                 [name]).fetchone())


if __name__ == "__main__":
    sys.exit(main())
