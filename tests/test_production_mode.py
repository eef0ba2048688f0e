"""CAMIO_MODE=production refuses to start without its secrets or EMAIL_URL, with DEBUG on,
or with throttles and no shared cache; `camio-portal web`, `worker` and `beat` say so in
one line before starting anything."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
GOOD = {
    "CAMIO_MODE": "production",
    "SECRET_KEY": "k" * 20 + "-production-secret-key-for-tests-0123456789",
    "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "ALLOWED_HOSTS": "portal.example.com",
    "DATABASE_URL": "postgres://camio@127.0.0.1:5432/camio",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "CACHE_URL": "redis://127.0.0.1:6379/1",
    "EMAIL_URL": "smtp+tls://portal:secret@smtp.example.com:587",
}


def run(command: list[str], **overrides: str | None) -> subprocess.CompletedProcess:
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in {*GOOD, "DJANGO_SETTINGS_MODULE", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    environment.update(GOOD)
    for name, value in overrides.items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    return subprocess.run(
        command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


MANAGE_CHECK = [sys.executable, "manage.py", "check"]
WSGI_IMPORT = [sys.executable, "-c", "import camio_portal.wsgi"]


@pytest.mark.parametrize(
    "missing", ["SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "ALLOWED_HOSTS", "EMAIL_URL"]
)
@pytest.mark.parametrize("command", [MANAGE_CHECK, WSGI_IMPORT], ids=["manage", "wsgi"])
def test_refuses_to_start_without(missing, command):
    result = run(command, **{missing: None})
    assert result.returncode != 0
    assert "CAMIO_MODE=production refuses to start" in result.stderr
    assert f"{missing} is not set" in result.stderr


# `camio-portal` as installed, except that it prints what it would exec instead of running it.
CLI = [sys.executable, "-c", """
import os, sys
def instead(path, argv):
    print("would run:", *argv[1:3])
    sys.exit(0)
os.execv = instead
from camio_portal.cli import main
sys.exit(main())
"""]
PROCESSES = [["web"], ["worker", "--role", "deliveries"], ["beat"]]


@pytest.mark.parametrize("process", PROCESSES, ids=["web", "worker", "beat"])
def test_the_processes_refuse_to_start_without_email_url_in_one_line(process):
    result = run([*CLI, *process], EMAIL_URL=None)
    assert (result.returncode, result.stdout) == (2, "")  # nothing started
    [line] = result.stderr.splitlines()
    assert line.startswith("CAMIO_MODE=production refuses to start: EMAIL_URL is not set (")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("process", PROCESSES, ids=["web", "worker", "beat"])
def test_an_explicit_console_backend_starts_with_a_warning(process):
    result = run([*CLI, *process], EMAIL_URL="consolemail://")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("would run: -m ")
    assert result.stderr.splitlines() == [
        "Warning: EMAIL_URL=consolemail:// prints every e-mail, sign-in links included, on "
        "stdout; set it to an SMTP server (smtp+tls://user:password@host:587) to send e-mail."
    ]
    assert run([*CLI, *process]).stderr == ""  # an SMTP server: nothing to say


def test_the_procfile_and_the_benchmark_set_email_url():
    assert "EMAIL_URL" in (ROOT / "Procfile").read_text()  # its list of what to set
    assert '"EMAIL_URL": ' in (ROOT / "bench" / "run.py").read_text()  # what it starts with


def test_refuses_to_start_with_debug_on():
    result = run(WSGI_IMPORT, DEBUG="true")
    assert result.returncode != 0
    assert "DEBUG is on" in result.stderr


def test_refuses_throttling_without_a_shared_cache():
    result = run(WSGI_IMPORT, CACHE_URL=None)
    assert result.returncode != 0
    assert "throttling is on (API_THROTTLE_USER, API_THROTTLE_ANON, API_THROTTLE_BOX, " in (
        result.stderr
    )
    assert "CACHE_URL is not a Redis URL" in result.stderr
    local = run(WSGI_IMPORT, CACHE_URL="locmemcache://")
    assert "CACHE_URL is not a Redis URL" in local.stderr


def test_starts_without_a_shared_cache_when_throttles_are_off():
    off = {f"API_THROTTLE_{scope}": ""
           for scope in ("USER", "ANON", "BOX", "BOX_REPORTS", "PACS", "PACS_EVENTS")}
    result = run(WSGI_IMPORT, CACHE_URL=None, **off)
    assert result.returncode == 0, result.stderr


def test_refuses_a_malformed_encryption_key():
    result = run(MANAGE_CHECK, FIELD_ENCRYPTION_KEYS="not-a-key")
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS item 1 is not a Fernet key" in result.stderr


def test_check_deploy_is_clean():
    result = run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"])
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_unknown_mode_is_refused():
    result = run(MANAGE_CHECK, CAMIO_MODE="staging")
    assert result.returncode != 0
    assert "CAMIO_MODE='staging' is not a run mode" in result.stderr
