"""Start real workers (and other manage.py commands) in subprocesses that use the
test database and broker, so tests can kill them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def child_database_url(host: str = "", port: int = 0) -> str:
    """Return a DATABASE_URL naming the database this test run really uses (or the same
    database through another ``host`` and ``port``); a unix socket folder as the host
    is percent-encoded."""
    conf = connection.settings_dict
    auth = conf["USER"] + (f":{conf['PASSWORD']}" if conf.get("PASSWORD") else "")
    host = host or conf["HOST"] or "127.0.0.1"
    if host.startswith("/"):
        where = quote(host, safe="")
    else:
        where = f"{host}:{port or conf['PORT'] or 5432}"
    return f"postgres://{auth}@{where}/{conf['NAME']}"


def child_env(**overrides: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    environment.update(
        CAMIO_MODE="test",
        DJANGO_SETTINGS_MODULE="camio_portal.settings.test",
        DATABASE_URL=child_database_url(),
        PYTHONUNBUFFERED="1",
    )
    environment.update(overrides)
    return environment


def start_worker(
    log: Path, beat_schedule: Path, queues: str = "", pool: str = "solo", **overrides: str
) -> subprocess.Popen:
    """Start a worker with embedded beat (the sweeper) in its own process group, on
    ``queues`` (comma-separated; default: every queue), with ``pool`` (prefork: two
    processes)."""
    from django.conf import settings

    queues = queues or ",".join(q for qs in settings.WORKER_QUEUES.values() for q in qs)
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "camio_portal",
        "worker",
        "--pool",
        pool,
        *(["--concurrency", "2"] if pool == "prefork" else []),
        "--loglevel",
        "INFO",
        "--queues",
        queues,
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-B",
        "-s",
        str(beat_schedule),
    ]
    with log.open("a") as out:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env=child_env(**overrides),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def kill_group(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    process.wait(timeout=30)


def manage(*args: str, **overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=child_env(**overrides),
        capture_output=True,
        text=True,
        timeout=120,
    )


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_web(log: Path, port: int, workers: int = 1, **overrides: str) -> subprocess.Popen:
    """Start gunicorn (``workers`` sync processes) on 127.0.0.1:``port`` in its own
    process group, on the test database; wait for it with ``web_answers``."""
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "camio_portal.wsgi",
        "--config",  # logs through the portal's formatter, as in production
        "python:camio_portal.gunicorn_conf",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--timeout",
        "60",
    ]
    with log.open("a") as out:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env=child_env(**overrides),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def web_answers(port: int) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/livez", timeout=2) as page:
            return page.status == 200
    except OSError:
        return False


def start_redis(port: int, folder: Path) -> subprocess.Popen:
    """A private Redis on ``port`` (a test may stop it; never the shared one)."""
    return subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def redis_answers(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False
