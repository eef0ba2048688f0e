"""Run the whole portal in embedded mode with one command.

    python -m camio_portal.launcher [--port 8000] [--verbose] [--footprint]
                                                                     (or: camio-portal run)

Starts PostgreSQL from the wheel in the data folder (camio_portal/pgembed.py) with a
watchdog that stops it if this process dies, prepares the database in a process of its
own (camio_portal/prepare.py: import of an old SQLite data folder, migrations, the
demo), then starts the web server (gunicorn on 127.0.0.1, one process with threads) and
two Celery workers (deliveries; and the rest, with beat as a thread of it), prints the URL and
sign-ins, and on Ctrl-C (or SIGTERM, SIGHUP) stops every process it started, PostgreSQL
last. This process never loads Django: it only starts and watches the others.

The console stays quiet unless ``--verbose``: one line per web request, warnings and
errors, e-mails as framed blocks; no worker banners, task or beat lines (LOG_LEVEL=WARNING
for the children, unless LOG_LEVEL is set).

``--footprint`` starts the portal, waits until it is at rest, prints the memory (PSS)
of every process it started and of PostgreSQL's, then stops.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from camio_portal import pgembed
from camio_portal.env import data_dir, env

STOP_GRACE_SECONDS = 10
READY_TIMEOUT_SECONDS = 60
FOOTPRINT_SETTLE_SECONDS = 10
WEB_THREADS = 8


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--verbose", action="store_true",
                        help="log everything (worker banners, every task, beat's ticks)")
    parser.add_argument("--footprint", action="store_true",
                        help="start, measure the memory of every process at rest, and stop")
    return parser.parse_args(argv)


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def embedded_postgres() -> Path | None:
    """The embedded server's folder, or None when DATABASE_URL names a server."""
    return None if env.str("DATABASE_URL", default="") else data_dir() / "postgres"


def start_database(base: Path) -> None:
    """Start the embedded PostgreSQL, saying what it does the first time."""
    if os.geteuid() == 0:
        print("Running as root: PostgreSQL will not run as root, so it runs in a user "
              "namespace as uid 1000, mapped to root (no account is created, no "
              "permission changes).", flush=True)
    if not pgembed.initialised(base):
        print(f"Creating the database cluster (PostgreSQL {pgembed.MAJOR}) in {base} ...",
              flush=True)
    if pgembed.start(base):
        print(f"PostgreSQL {pgembed.MAJOR} started (socket in {pgembed.socket_folder(base)}, "
              "no TCP port).", flush=True)


def start_watchdog(base: Path) -> subprocess.Popen:
    """A small process that stops PostgreSQL once this one is gone, however it ended:
    it waits for the end of a pipe only this process holds open."""
    # Run as a script in isolated mode (-I): only the standard library and psutil load.
    return subprocess.Popen([sys.executable, "-I", pgembed.__file__, "watch", str(base)],
                            stdin=subprocess.PIPE, start_new_session=True)


def quiet_console(verbose: bool) -> None:
    """Tell the children how much to say (they read the environment): by default warnings,
    errors and one line per web request (gunicorn's access log); with ``verbose``,
    everything at INFO."""
    if verbose:
        os.environ.setdefault("LOG_LEVEL", "INFO")
        os.environ.pop("CAMIO_QUIET", None)
    else:
        os.environ.setdefault("LOG_LEVEL", "WARNING")
        os.environ["CAMIO_QUIET"] = "1"


def prepare() -> str | None:
    """Run camio_portal/prepare.py; return the demo sign-ins it printed, or None if it
    failed (it said why on stderr)."""
    done = subprocess.run([sys.executable, "-m", "camio_portal.prepare"],
                          stdout=subprocess.PIPE, text=True, check=False)
    return done.stdout if done.returncode == 0 else None


def worker_command(role: str, *extra: str) -> list[str]:
    """A solo Celery worker consuming the queues of ``role`` (settings.WORKER_QUEUES)."""
    return [
        sys.executable, "-m", "camio_portal.cli", "worker", "--role", role,
        "--concurrency", "1", "--pool", "solo",
        "--without-gossip", "--without-mingle", "--without-heartbeat", *extra,
    ]


def children(port: int) -> dict[str, list[str]]:
    schedule = str(data_dir() / "celerybeat-schedule")
    return {
        # One process with threads: the portal's pages and API are light next to a worker.
        "web": [
            sys.executable, "-m", "gunicorn", "camio_portal.wsgi:application",
            "--config", "python:camio_portal.gunicorn_conf",  # logs through our formatter
            "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", str(WEB_THREADS),
            "--access-logfile", "-", "--graceful-timeout", "5", "--no-control-socket",
        ],
        # Two workers: one delivers, the other evaluates incidents, flushes PACS events,
        # replays, maintains and runs beat (a thread: camio_portal/celery.py), so a slow
        # evaluation never holds a delivery. The other runs at a lower CPU priority
        # (camio_portal/cli.py).
        "worker": worker_command("deliveries"),
        "worker-other": worker_command("other", "--beat-thread", "--schedule", schedule),
    }


def spawn(command: list[str]) -> subprocess.Popen:
    """Start a child in its own session (the terminal's Ctrl-C reaches only us, and we stop
    the children in order), told to stop if we die."""
    return subprocess.Popen(command, start_new_session=True, preexec_fn=_die_with_parent)


class Restarts:
    """Start again a child that stopped on its own (a worker that lost its broker for good
    exits non-zero): at once the first time, then after 1, 2, 5, 10 and 30 s while it keeps
    stopping within a minute of its start."""

    BACKOFF = (0, 1, 2, 5, 10, 30)
    STEADY_SECONDS = 60

    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.failures: dict[str, int] = {}
        self.due: dict[str, float] = {}

    def watch(self, processes: dict[str, subprocess.Popen],
              commands: dict[str, list[str]]) -> None:
        now = time.monotonic()
        for name, proc in processes.items():
            self.started.setdefault(name, now)
            code = proc.poll()
            if code is None or name in self.due:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # what it left behind (pool children)
            if now - self.started[name] > self.STEADY_SECONDS:
                self.failures[name] = 0
            failures = self.failures.get(name, 0)
            delay = self.BACKOFF[min(failures, len(self.BACKOFF) - 1)]
            self.failures[name] = failures + 1
            self.due[name] = now + delay
            print(f"{name} stopped unexpectedly (exit code {code}); starting it again"
                  f"{f' in {delay} s' if delay else ''}.", file=sys.stderr, flush=True)
        for name, when in list(self.due.items()):
            if when <= now:
                del self.due[name]
                processes[name] = spawn(commands[name])
                self.started[name] = now


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
    os.environ.setdefault("CAMIO_MODE", "embedded")
    quiet_console(args.verbose)
    os.environ.setdefault("PORTAL_URL", f"http://127.0.0.1:{args.port}")
    # ./data of the folder we started in, named for the children whatever their folder.
    os.environ.setdefault("CAMIO_DATA_DIR", str(data_dir()))
    base = embedded_postgres()
    processes: dict[str, subprocess.Popen] = {}
    watchdog: subprocess.Popen | None = None
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGHUP: terminal closed
        signal.signal(signum, on_signal)
    try:
        if base is not None:
            watchdog = start_watchdog(base)
            try:
                start_database(base)
            except pgembed.EmbeddedPostgresError as problem:
                print(problem, file=sys.stderr)
                return 2
        sign_ins = prepare()
        if stopping:
            return 0
        if sign_ins is None:
            print("The database could not be prepared; see the messages above.",
                  file=sys.stderr)
            return 1
        commands = children(args.port)
        for name, command in commands.items():
            processes[name] = spawn(command)
        url = os.environ["PORTAL_URL"]
        if not wait_until_ready(url, processes) and not stopping:
            print("The portal did not start; see the messages above.", file=sys.stderr)
            return 1
        if stopping:
            return 0
        print_banner(url, sign_ins)
        if args.footprint:
            return print_footprint(base, processes, lambda: stopping)
        restarts = Restarts()
        while not stopping:
            restarts.watch(processes, commands)
            time.sleep(0.5)
        return 0
    finally:
        if processes:
            print("\nStopping the web server and workers ...", flush=True)
            stop(processes)
        if base is not None:
            pgembed.stop(base)
        if watchdog is not None and watchdog.stdin is not None:
            watchdog.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                watchdog.wait(timeout=STOP_GRACE_SECONDS)
        print("Stopped.", flush=True)


def print_banner(url: str, sign_ins: str) -> None:
    line = "=" * 72
    print(f"\n{line}\nCamio Portal is running at {url}/  (Ctrl-C stops it)")
    print(f"Data folder: {data_dir()}")
    print(sign_ins.rstrip())
    print(f"{line}\n", flush=True)


def print_footprint(base: Path | None, processes: dict[str, subprocess.Popen],
                    stopping: Callable[[], bool]) -> int:
    """Wait until the portal is at rest, then print each process's PSS and the sum:
    this process, every process it started (and theirs), and PostgreSQL's postmaster
    with all its children."""
    deadline = time.monotonic() + FOOTPRINT_SETTLE_SECONDS
    while time.monotonic() < deadline and not stopping():
        time.sleep(0.2)
    rows = footprint(base, processes)
    total = sum(pss for _, _, pss in rows)
    print(f"{'PID':>8}  {'PSS MiB':>8}  process")
    for pid, label, pss in rows:
        print(f"{pid:>8}  {pss / 2**20:>8.1f}  {label}")
    print(f"Total: {total / 2**20:.1f} MiB ({total / 1e6:.1f} MB) PSS in {len(rows)} processes, "
          f"PostgreSQL included.", flush=True)
    return 0


def footprint(base: Path | None,
              processes: dict[str, subprocess.Popen]) -> list[tuple[int, str, int]]:
    """(pid, label, PSS bytes) of every process of the running portal."""
    import psutil

    me = psutil.Process()
    roles = {proc.pid: name for name, proc in processes.items()}
    found = [me, *me.children(recursive=True)]
    if base is not None:
        found += pgembed.processes(base)
        postmaster = pgembed.running_pid(base)
        if postmaster is not None:
            roles[postmaster] = "postgres (postmaster)"
    rows, seen = [], set()
    for proc in found:
        if proc.pid in seen:
            continue
        seen.add(proc.pid)
        with contextlib.suppress(psutil.Error):
            rows.append((proc.pid, _label(proc, me.pid, roles), proc.memory_full_info().pss))
    return rows


def _label(proc: Any, me: int, roles: dict[int, str]) -> str:
    """What a process of the portal is: its role, its parent's, or its command line."""
    command = " ".join(proc.cmdline())
    parent = roles.get(proc.ppid(), "")
    if proc.pid in roles:
        return roles[proc.pid]
    if proc.pid == me:
        return "launcher"
    if "pgembed.py watch" in command:
        return "database watchdog"
    if parent and not parent.startswith("postgres"):
        return f"{parent} (its child)"
    return command[:60].strip() or proc.name()


if __name__ == "__main__":
    sys.exit(main())
