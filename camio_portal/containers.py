"""What a container stack needs of ``camio-portal`` (compose.yaml, docs/operations.md):
waiting for the database and its migrations (``CAMIO_WAIT_FOR_DATABASE``, ``migrate
--wait``), since nothing orders the services' starts, and each container's health check
(``health web|deliveries|other|beat``)."""

from __future__ import annotations

import argparse
import sys
import time

from camio_portal.cli import ROLES, loaded_settings, manage, settings_problem
from camio_portal.env import env


def wait_for_database(seconds: float, migrated: bool = False) -> str:
    """Wait up to ``seconds`` for the database to answer (and, if ``migrated``, to have no
    migration left to apply), saying what it waits for every 5 s; '' once it does, else
    why it gave up. ``seconds`` 0 checks nothing."""
    if seconds <= 0:
        return ""
    loaded_settings()
    import django

    django.setup()
    from django.db import DatabaseError, connection
    from django.db.migrations.executor import MigrationExecutor

    deadline, said = time.monotonic() + seconds, 0.0
    while True:
        try:
            executor = MigrationExecutor(connection)
            pending = len(executor.migration_plan(executor.loader.graph.leaf_nodes()))
            waiting = f"{pending} migrations to be applied" if migrated and pending else ""
        except DatabaseError as exc:
            waiting = f"the database ({' '.join(str(exc).split())[:200]})"
        finally:
            connection.close()
        if not waiting:
            return ""
        if time.monotonic() >= deadline:
            return f"Gave up after {seconds:.0f} s waiting for {waiting}."
        if time.monotonic() - said >= 5:
            print(f"Waiting for {waiting}...", file=sys.stderr, flush=True)
            said = time.monotonic()
        time.sleep(1)


def migrate(argv: list[str]) -> int:
    """Wait for the database (a container stack's migrate step), then apply migrations."""
    parsed = argparse.ArgumentParser(prog="camio-portal migrate")
    parsed.add_argument("--wait", type=float, default=120.0,
                        help="seconds to wait for the database to answer (default 120)")
    args = parsed.parse_args(argv)
    problem = settings_problem() or wait_for_database(args.wait)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    return manage(["migrate", "--noinput"], prog="camio-portal migrate")


def health(argv: list[str]) -> int:
    """A container's health check: ``web``, that this container's gunicorn answers
    /livez; ``deliveries`` and ``other``, that a worker of the role on this host (this
    container) heartbeats; ``beat``, that the sweeper it schedules ran within three
    intervals (a delivery worker runs it). Prints the check; exit 0 when healthy, 1 when
    not (a container's start period covers the time before the first heartbeat)."""
    parsed = argparse.ArgumentParser(prog="camio-portal health")
    parsed.add_argument("role", choices=("web", *ROLES, "beat"))
    role = parsed.parse_args(argv).role
    if role == "web":
        return livez(env.int("PORT", default=8000))
    problem = settings_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    import socket

    import django

    django.setup()
    from django.db import DatabaseError
    from django.utils import timezone

    from callbacks import liveness
    from callbacks.models import Worker
    from callbacks.selectors import heartbeat_status

    try:
        if role == "beat":
            state = heartbeat_status(loaded_settings().CALLBACK_SWEEP_INTERVAL)
        else:
            here = Worker.objects.filter(
                hostname=socket.gethostname()[:255], roles__contains=role,
                seen_at__gte=timezone.now() - liveness.window()).count()
            state = f"ok ({here} alive here)" if here else "none alive here"
    except DatabaseError as exc:
        state = f"error: {exc.__class__.__name__}"
    print(f"{role}: {state}")
    return 0 if state.startswith("ok") else 1


def livez(port: int) -> int:
    """GET /livez from this host's gunicorn as a client of the site would: with a host
    name ALLOWED_HOSTS names and as HTTPS behind a proxy (no redirect to follow)."""
    import http.client

    hosts = [h.lstrip(".") for h in env.list("ALLOWED_HOSTS", default=[]) if h.strip("*.")]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=4)
    status, problem = 0, ""
    try:
        connection.request("GET", "/livez", headers={
            "Host": hosts[0] if hosts else "localhost", "X-Forwarded-Proto": "https"})
        status = connection.getresponse().status
    except OSError as exc:
        problem = f"{exc.__class__.__name__}: {exc}"
    finally:
        connection.close()
    print(f"web: {'ok' if status == 200 else problem or f'HTTP {status}'}")
    return 0 if status == 200 else 1
