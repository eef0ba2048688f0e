"""Embedded mode: keys generated once (0600) and reused; the demo; one command runs it all."""

import contextlib
import json
import os
import re
import signal
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.core.management import call_command

from camio_portal.env import read_or_create_secret
from domains.models import Camera, Device, Domain, User, Zone
from tests.processes import free_port
from tests.support.embedded import (
    ROOT,
    alive,
    create_endpoint,
    descendants,
    endpoints_and_keys,
    launch,
    portal_env,
    postgres_pids,
    postmaster_pid,
    run_readme_api_example,
    stop_portal,
    wait_for,
    wait_for_banner,
)


def test_secret_is_created_private_and_reused(tmp_path):
    path = tmp_path / "keys" / "secret_key"
    first = read_or_create_secret(path, lambda: "generated-1")
    second = read_or_create_secret(path, lambda: "generated-2")
    assert first == second == "generated-1"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.django_db
def test_seed_demo_creates_once(tmp_path, capsys):
    credentials = tmp_path / "demo.json"
    call_command("seed_demo", credentials_file=credentials)
    call_command("seed_demo", credentials_file=credentials)
    domain = Domain.objects.get(name="acme.test")
    admin = domain.primary_admin
    assert (Device.objects.count(), Camera.objects.count(), Zone.objects.count()) == (1, 3, 2)
    assert User.objects.get(email="support@camio-portal.test").is_superuser
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    out = capsys.readouterr().out
    password = re.search(r"admin@acme.test\s+password: (\S+)", out).group(1)
    assert admin.check_password(password)


@pytest.mark.embedded
def test_one_command_runs_web_worker_and_beat_and_ctrl_c_stops_them(tmp_path):
    port = free_port()
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS", "CAMIO_"))
    }
    environment.update(CAMIO_DATA_DIR=str(tmp_path / "data"), PYTHONUNBUFFERED="1")
    log = tmp_path / "launcher.log"
    with log.open("w") as out:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "camio_portal.launcher", "--port", str(port)],
            cwd=ROOT,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(
            lambda: re.search(r"admin@acme.test\s+password: \S+", log.read_text()),
            90,
            "the ready banner with the sign-ins",
        )
        text = log.read_text()
        assert f"http://127.0.0.1:{port}/" in text and "Ctrl-C stops it" in text
        assert re.search(r"support@camio-portal.test\s+password: \S+", text)
        children = descendants(launcher.pid)
        commands = " ".join(
            (Path("/proc") / str(pid) / "cmdline").read_text() for pid in children if alive(pid)
        )
        assert "gunicorn" in commands and "worker" in commands and "--beat-thread" in commands
        # Beat runs (its schedule file appears) though the console stays quiet: no worker
        # banner, no task or beat lines (make run without --verbose).
        wait_for(lambda: list((tmp_path / "data").glob("celerybeat-schedule*")), 30,
                 "beat in the other worker")
        database = postgres_pids(tmp_path / "data")
        assert postmaster_pid(tmp_path / "data") in database
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login/") as page:
            assert page.status == 200
        assert re.search(r"API token\s+cpu_\S+", text)
        run_readme_api_example(port, environment, tmp_path)
        after_banner = log.read_text().rsplit("=" * 72, 1)[1]
        assert ".> app:" not in after_banner and "beat: Starting" not in after_banner
        assert "succeeded in" not in after_banner  # no task lines
        assert stat.S_IMODE((tmp_path / "data" / "secret_key").stat().st_mode) == 0o600
        assert stat.S_IMODE((tmp_path / "data" / "field_encryption_key").stat().st_mode) == 0o600
        launcher.send_signal(signal.SIGINT)
        assert launcher.wait(timeout=30) == 0
        wait_for(lambda: not any(alive(pid) for pid in children), 15, "children to exit")
        assert not any(alive(pid) for pid in database), "PostgreSQL outlived Ctrl-C"
        assert "Stopped." in log.read_text()
    finally:
        if launcher.poll() is None:
            launcher.send_signal(signal.SIGINT)
            try:
                launcher.wait(timeout=30)
            except subprocess.TimeoutExpired:
                launcher.kill()  # its children get SIGTERM from the kernel (PDEATHSIG)


@pytest.mark.embedded
def test_kill_9_of_the_launcher_alone_stops_postgresql_within_10_seconds(tmp_path):
    """Acceptance (P14, 2): nothing runs the launcher's finally; the watchdog notices."""
    data, log = tmp_path / "data", tmp_path / "launcher.log"
    launcher = launch(data, free_port(), log)
    try:
        wait_for_banner(log)
        assert postgres_pids(data)
        launcher.kill()
        launcher.wait(timeout=10)
        wait_for(lambda: not postgres_pids(data), 10, "PostgreSQL of this data folder to stop")
    finally:
        stop_portal(launcher, data)


@pytest.mark.embedded
def test_after_kill_9_of_everything_the_portal_comes_back_with_its_data(tmp_path):
    """Acceptance (P14, 2): the launcher's group and the postmaster SIGKILLed (a stale
    postmaster.pid stays); the next start has the same endpoints and secrets. The data
    folder sits in a 0700 folder whose mode, and its parent's, nothing changes; dbshell
    shows the portal's tables."""
    parent = tmp_path / "private"
    parent.mkdir(mode=0o700)
    data, modes = parent / "data", {tmp_path: tmp_path.stat().st_mode, parent: 0}
    modes[parent] = parent.stat().st_mode
    launcher = launch(data, port := free_port(), tmp_path / "first.log")
    try:
        wait_for_banner(tmp_path / "first.log")
        create_endpoint(data, port)
        before = endpoints_and_keys(data)
        assert len(before) == 1
        os.killpg(launcher.pid, signal.SIGKILL)
        os.kill(postmaster_pid(data), signal.SIGKILL)
        launcher.wait(timeout=10)
        wait_for(lambda: not postgres_pids(data), 10, "the killed postmaster's children")
        assert (data / "postgres" / "data" / "postmaster.pid").exists()  # stale
        launcher = launch(data, port, tmp_path / "second.log")
        wait_for_banner(tmp_path / "second.log")
        assert endpoints_and_keys(data) == before
        launcher.send_signal(signal.SIGINT)
        assert launcher.wait(timeout=30) == 0
        assert not postgres_pids(data)
        shell = subprocess.run(
            [sys.executable, "-m", "camio_portal.cli", "dbshell", "--", "-c", "\\dt callbacks_*"],
            cwd=ROOT, env=portal_env(data), capture_output=True, text=True, timeout=60,
        )
        assert "callbacks_endpoint" in shell.stdout, shell.stderr
        assert not postgres_pids(data), "dbshell left the server it started running"
    finally:
        stop_portal(launcher, data)
    assert {path: path.stat().st_mode for path in modes} == modes
    for folder in (data / "postgres", data / "postgres" / "data", data / "postgres" / "run"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700


@pytest.mark.embedded
def test_footprint_prints_every_process_postgresql_included_and_stops(tmp_path):
    """P14 (5): the figure the README shows comes from this command."""
    data = tmp_path / "data"
    done = subprocess.run(
        [sys.executable, "-m", "camio_portal.cli", "run", "--port", str(free_port()),
         "--footprint"],
        cwd=ROOT, env=portal_env(data), capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stderr
    rows = re.findall(r"^\s+(\d+)\s+([\d.]+)\s+(.+)$", done.stdout, re.M)
    labels = [label.strip() for _, _, label in rows]
    assert {"launcher", "web", "worker", "worker-other"} <= set(labels)
    assert any(label.startswith("postgres: checkpointer") for label in labels)
    total = re.search(r"^Total: ([\d.]+) MiB \(([\d.]+) MB\) PSS in (\d+) processes", done.stdout,
                      re.M)
    assert total and int(total.group(3)) == len(rows)
    assert abs(float(total.group(1)) - sum(float(pss) for _, pss, _ in rows)) < 0.5
    assert not postgres_pids(data)


@pytest.mark.embedded
def test_a_cluster_made_by_another_major_is_refused_saying_what_to_do(tmp_path):
    """P14 (1): the wheel's major is pinned; another major's data is left as it is."""
    data = tmp_path / "data"
    cluster = data / "postgres" / "data"
    cluster.mkdir(parents=True)
    (cluster / "PG_VERSION").write_text("16\n")
    done = subprocess.run(
        [sys.executable, "-m", "camio_portal.launcher", "--port", str(free_port())],
        cwd=ROOT, env=portal_env(data), capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert "made by PostgreSQL 16; this portal runs PostgreSQL 18" in done.stderr
    assert "pg_dumpall" in done.stderr and "Traceback" not in done.stderr
    assert sorted(p.name for p in cluster.iterdir()) == ["PG_VERSION"]


@pytest.mark.embedded
def test_the_database_command_starts_and_stops_the_server_alone(tmp_path):
    data = tmp_path / "data"
    data.mkdir()

    def database(action: str) -> str:
        done = subprocess.run([sys.executable, "-m", "camio_portal.cli", "database", action],
                              cwd=ROOT, env=portal_env(data), capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    try:
        assert "running (pid " in database("start") and postgres_pids(data)
        assert "running (pid " in database("status")
        assert "stopped" in database("stop") and not postgres_pids(data)
    finally:
        from camio_portal import pgembed

        pgembed.stop(data / "postgres")


def health(port: int, path: str = "/healthz") -> tuple[int, dict]:
    """The status and JSON of a health page (a 503 is an answer too)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as page:
            return page.status, json.loads(page.read())
    except urllib.error.HTTPError as answer:
        return answer.code, json.loads(answer.read())


def role_pids(launcher: subprocess.Popen, role: str) -> set[int]:
    """The launcher's workers of ``role`` (named ``<role>@host``)."""
    found = set()
    for pid in descendants(launcher.pid):
        with contextlib.suppress(OSError):
            if f"\0{role}@" in (Path("/proc") / str(pid) / "cmdline").read_text():
                found.add(pid)
    return found


@pytest.mark.embedded
def test_a_delivery_worker_that_dies_is_started_again_and_healthz_follows(tmp_path):
    """P15 (4): the launcher starts a worker again when it stops on its own; /healthz
    answers 503 while no delivery worker is alive and 200 once one is; /readyz (the load
    balancer's probe) stays 200."""
    data, port, log = tmp_path / "data", free_port(), tmp_path / "launcher.log"
    launcher = launch(data, port, log)
    try:
        wait_for_banner(log)
        status, answer = health(port)
        assert status == 200 and answer["checks"]["deliveries"] == "ok (1 alive)"
        [first] = role_pids(launcher, "deliveries")
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: "worker stopped unexpectedly (exit code -9); starting it again"
                 in log.read_text(), 30, "the launcher to start the worker again")
        wait_for(lambda: role_pids(launcher, "deliveries") - {first}, 30, "a new worker")
        assert health(port, "/readyz") == (200, {"status": "ok", "checks": {"database": "ok"}})
        wait_for(lambda: health(port) == (200, health(port)[1])
                 and health(port)[1]["checks"]["deliveries"] == "ok (1 alive)", 60,
                 "/healthz to count the new worker alone")
        assert launcher.poll() is None
    finally:
        stop_portal(launcher, data)
