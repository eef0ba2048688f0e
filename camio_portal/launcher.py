"""Run the whole portal in embedded mode with one command.

    python -m camio_portal.launcher [--port 8000]     (or: camio-portal run)

Prepares the data folder (keys, SQLite database, demo), then starts the web
server (gunicorn on 127.0.0.1), two Celery workers (deliveries, and the rest) and
Celery beat,
prints the URL and sign-ins, and on Ctrl-C stops every process it started.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the functions import Django only once the settings are chosen
    from django.conf import LazySettings

STOP_GRACE_SECONDS = 10
READY_TIMEOUT_SECONDS = 60


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    return parser.parse_args(argv)


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def prepare(port: int) -> None:
    """Generate keys, migrate and seed the demo (in this process, before any child starts)."""
    os.environ.setdefault("CAMIO_MODE", "embedded")
    os.environ.setdefault("PORTAL_URL", f"http://127.0.0.1:{port}")
    from camio_portal.env import data_dir, use_default_settings

    # ./data of the folder we started in, named for the children whatever their folder.
    os.environ.setdefault("CAMIO_DATA_DIR", str(data_dir()))

    use_default_settings()
    import django
    from django.core.management import call_command

    django.setup()
    from django.conf import settings

    from camio_portal.monitoring import clear_metrics_folder

    clear_metrics_folder(settings.PROMETHEUS_MULTIPROC_DIR)  # this run's counts start at 0
    print("Preparing the database ...", flush=True)
    call_command("migrate", interactive=False, verbosity=0)
    call_command("seed_demo", verbosity=0)


def worker_command(role: str) -> list[str]:
    """A solo Celery worker consuming the queues of ``role`` (settings.WORKER_QUEUES)."""
    from django.conf import settings

    # The other worker runs at a lower CPU priority: deliveries come first.
    nice = ["nice", "-n", "10"] if role != "deliveries" and shutil.which("nice") else []
    return [
        *nice,
        sys.executable, "-m", "celery", "-A", "camio_portal", *quiet(), "worker",
        "--loglevel", "INFO",
        "--concurrency", "1", "--pool", "solo", "--hostname", f"{role}@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
        "--queues", ",".join(settings.WORKER_QUEUES[role]),
    ]


def quiet() -> list[str]:
    """Celery's --quiet when logging JSON: its banners are plain text."""
    from django.conf import settings

    return ["--quiet"] if settings.LOG_FORMAT == "json" else []


def children(port: int) -> dict[str, list[str]]:
    python = sys.executable
    return {
        "web": [
            python,
            "-m",
            "gunicorn",
            "camio_portal.wsgi:application",
            "--config",  # its logs through the portal's formatter
            "python:camio_portal.gunicorn_conf",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--access-logfile",
            "-",
            "--graceful-timeout",
            "5",
            "--no-control-socket",
        ],
        # Two workers: one delivers, the other evaluates incidents, flushes PACS events,
        # replays and maintains, so a slow evaluation never holds a delivery.
        "worker": worker_command("deliveries"),
        "worker-other": worker_command("other"),
        "beat": [python, "-m", "celery", "-A", "camio_portal", *quiet(), "beat",
                 "--loglevel", "INFO"],
    }


def _die_with_parent() -> None:
    """In a child: ask Linux to SIGTERM us if the launcher dies (even by SIGKILL)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: Ctrl-C and SIGTERM still stop everything


def stop(processes: dict[str, subprocess.Popen]) -> None:
    """Stop each child's whole process group: TERM, then KILL after a grace period."""
    for proc in processes.values():
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for proc in processes.values():
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # stragglers: gunicorn or celery children


def wait_until_ready(url: str, processes: dict[str, subprocess.Popen]) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if any(proc.poll() is not None for proc in processes.values()):
            return False
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.3)
    return False


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not port_is_free(args.port):
        print(
            f"Port {args.port} on 127.0.0.1 is in use; run with --port N to pick another.",
            file=sys.stderr,
        )
        return 2
    prepare(args.port)
    from django.conf import settings

    processes: dict[str, subprocess.Popen] = {}
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    # Own sessions: the terminal's Ctrl-C reaches only us, and we stop them in order.
    for name, command in children(args.port).items():
        processes[name] = subprocess.Popen(command, start_new_session=True,
                                           preexec_fn=_die_with_parent)
    try:
        if not wait_until_ready(settings.PORTAL_URL, processes) and not stopping:
            print("The portal did not start; see the messages above.", file=sys.stderr)
            return 1
        if not stopping:
            call_banner(settings)
        while not stopping:
            exited = [name for name, proc in processes.items() if proc.poll() is not None]
            if exited:
                print(f"{', '.join(exited)} stopped unexpectedly; shutting down.", file=sys.stderr)
                return 1
            time.sleep(0.5)
        return 0
    finally:
        print("\nStopping web server, workers and beat ...", flush=True)
        stop(processes)
        print("Stopped.", flush=True)


def call_banner(settings: LazySettings) -> None:
    from django.core.management import call_command

    line = "=" * 72
    print(f"\n{line}\nCamio Portal is running at {settings.PORTAL_URL}/  (Ctrl-C stops it)")
    print(f"Data folder: {settings.DATA_DIR}")
    call_command("seed_demo", show=True)
    print(f"{line}\n", flush=True)


if __name__ == "__main__":
    sys.exit(main())
