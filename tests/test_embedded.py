"""Embedded mode: keys generated once (0600) and reused; the demo; one command runs it all."""

import os
import re
import signal
import stat
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from django.core.management import call_command

from camio_portal.env import read_or_create_secret
from domains.models import Camera, Device, Domain, User, Zone
from tests.processes import free_port
from tests.support.embedded import ROOT, alive, descendants, run_readme_api_example, wait_for

# Not about the database or broker: CI runs it once, on SQLite.
pytestmark = pytest.mark.backend_independent


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
        assert "gunicorn" in commands and "worker" in commands and "beat" in commands
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login/") as page:
            assert page.status == 200
        assert re.search(r"API token\s+cpu_\S+", text)
        run_readme_api_example(port, environment, tmp_path)
        assert stat.S_IMODE((tmp_path / "data" / "secret_key").stat().st_mode) == 0o600
        assert stat.S_IMODE((tmp_path / "data" / "field_encryption_key").stat().st_mode) == 0o600
        launcher.send_signal(signal.SIGINT)
        assert launcher.wait(timeout=30) == 0
        wait_for(lambda: not any(alive(pid) for pid in children), 15, "children to exit")
        assert "Stopped." in log.read_text()
    finally:
        if launcher.poll() is None:
            launcher.send_signal(signal.SIGINT)
            try:
                launcher.wait(timeout=30)
            except subprocess.TimeoutExpired:
                launcher.kill()  # its children get SIGTERM from the kernel (PDEATHSIG)


