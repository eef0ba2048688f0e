"""`camio-portal`: production processes start with the README's options, and a command
run where embedded mode has no data says what it needs instead of creating ./data."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from camio_portal import cli, containers
from tests.processes import free_port

ROOT = Path(__file__).resolve().parent.parent


def test_web_is_gunicorn_with_the_production_options():
    command = cli.web_command(8000, 3)
    assert command[1:] == [
        "-m", "gunicorn", "camio_portal.wsgi:application",
        "--config", "python:camio_portal.gunicorn_conf", "--bind", "0.0.0.0:8000",
        "--workers", "3", "--access-logfile", "-",
    ]


@pytest.mark.parametrize("role", ["deliveries", "other"])
def test_a_worker_consumes_its_roles_queues(role):
    command = cli.worker_command(role)
    assert command[command.index("--queues") + 1] == ",".join(settings.WORKER_QUEUES[role])
    assert command[command.index("--hostname") + 1] == f"{role}@%h"
    assert command[command.index("--concurrency") + 1] == ("4" if role == "deliveries" else "2")


def test_the_procfile_names_the_same_queues():
    procfile = (ROOT / "Procfile").read_text()
    for role in ("deliveries", "other"):
        assert "--queues " + ",".join(settings.WORKER_QUEUES[role]) in procfile


def test_beat_and_its_schedule():
    assert cli.beat_command()[-3:] == ["beat", "--loglevel", "INFO"]
    assert cli.beat_command("/tmp/s")[-2:] == ["--schedule", "/tmp/s"]


def test_celery_leaves_its_banner_out_when_logging_json(settings):
    settings.LOG_FORMAT = "json"
    assert cli.beat_command()[-5:] == ["camio_portal", "--quiet", "beat", "--loglevel", "INFO"]
    assert "--quiet" in cli.worker_command("deliveries")


def test_production_refuses_to_start_a_worker_naming_what_is_missing():
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from camio_portal.cli import main; sys.exit(main())",
         "worker", "--role", "deliveries"],
        cwd=ROOT, env={**embedded_env(), "CAMIO_MODE": "production"},
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert "CAMIO_MODE=production refuses to start" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unknown_role_is_refused(capsys):
    with pytest.raises(SystemExit):
        cli.main(["worker", "--role", "everything"])
    assert "invalid choice" in capsys.readouterr().err


def embedded_env() -> dict[str, str]:
    drop = ("DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS", "CAMIO_")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


def test_seed_demo_token_elsewhere_says_what_it_needs_and_creates_nothing(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "seed_demo", "--token"],
        cwd=tmp_path, env=embedded_env(), capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert f"there is no {tmp_path / 'data'}" in done.stderr
    assert "CAMIO_DATA_DIR" in done.stderr and "make run" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_seed_demo_token_without_a_demo_names_the_file(tmp_path):
    data = tmp_path / "data"
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "seed_demo", "--token"],
        cwd=tmp_path, env={**embedded_env(), "CAMIO_DATA_DIR": str(data)},
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"No demo sign-ins at {data / 'demo-credentials.json'}" in done.stderr


@pytest.mark.django_db
def test_a_server_older_than_the_oldest_supported_is_refused_naming_both(monkeypatch):
    assert cli.server_problem() == ""  # this run's server (15 or newer)
    monkeypatch.setattr(cli, "OLDEST_POSTGRES", 990000)
    problem = cli.server_problem()
    assert problem.startswith("The database server runs PostgreSQL 1")
    assert "needs PostgreSQL 99 or newer" in problem


def test_a_sqlite_database_url_is_refused_in_one_line_by_every_command(tmp_path):
    env = {**embedded_env(), "CAMIO_DATA_DIR": str(tmp_path / "data"),
           "DATABASE_URL": "sqlite:///camio.sqlite3"}
    for argv in (["manage", "check"], ["dbshell"], ["database", "status"]):
        done = subprocess.run(
            [sys.executable, "-m", "camio_portal.cli", *argv], cwd=ROOT, env=env,
            capture_output=True, text=True, timeout=60,
        )
        assert done.returncode == 2, (argv, done.stderr)
        assert done.stderr.startswith("DATABASE_URL names a sqlite database"), done.stderr
        assert "Traceback" not in done.stderr


@pytest.mark.embedded
def test_a_management_command_starts_the_embedded_server_for_itself(tmp_path):
    """With the portal stopped, `manage migrate` in a new data folder creates the cluster
    and the database, migrates, and leaves no server running; `database status` where
    there is no data says so and creates nothing."""
    from tests.support.embedded import postgres_pids

    env = {**embedded_env(), "CAMIO_DATA_DIR": str(tmp_path / "data")}
    nothing = subprocess.run([sys.executable, "-m", "camio_portal.cli", "database", "status"],
                             cwd=tmp_path, env=embedded_env(), capture_output=True, text=True,
                             timeout=60)
    assert nothing.returncode == 2 and "No portal data here" in nothing.stderr
    assert list(tmp_path.iterdir()) == []
    done = subprocess.run([sys.executable, "-m", "camio_portal.cli", "manage", "migrate"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Applying callbacks.0001_initial... OK" in done.stdout
    assert not postgres_pids(tmp_path / "data")


def production_env(database_port: int) -> dict[str, str]:
    """Production settings whose database is a port nothing listens on."""
    return {**embedded_env(), "CAMIO_MODE": "production", "SECRET_KEY": "x" * 50,
            "FIELD_ENCRYPTION_KEYS": "ZmllbGQta2V5LWZvci10aGUtYnVpbGQtb25seS0wMDA=",
            "ALLOWED_HOSTS": "portal.test", "EMAIL_URL": "smtp://mail.test",
            "DATABASE_URL": f"postgres://camio@127.0.0.1:{database_port}/camio",
            "CELERY_BROKER_URL": "redis://127.0.0.1:1/0", "CACHE_URL": "redis://127.0.0.1:1/1"}


def test_migrate_waits_for_the_database_saying_so_then_gives_up():
    """A container stack's migrate step: it waits for the database, then says why not."""
    done = subprocess.run(
        [sys.executable, "-m", "camio_portal.cli", "migrate", "--wait", "1"], cwd=ROOT,
        env=production_env(free_port()), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("Waiting for the database (connection failed")
    assert "Gave up after 1 s waiting for the database" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_process_told_to_wait_for_the_database_gives_up_without_starting():
    env = {**production_env(free_port()), "CAMIO_WAIT_FOR_DATABASE": "1"}
    done = subprocess.run([sys.executable, "-m", "camio_portal.cli", "beat"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "Gave up after 1 s waiting for the database" in done.stderr


@pytest.mark.django_db(transaction=True)
def test_waiting_ends_at_once_when_every_migration_is_applied():
    assert containers.wait_for_database(5, migrated=True) == ""


@pytest.mark.parametrize(("role", "said"), [("deliveries", "deliveries: error: OperationalError"),
                                            ("beat", "beat: error: OperationalError"),
                                            ("web", "web: ConnectionRefusedError")])
def test_health_checks_fail_saying_why(role, said):
    env = {**production_env(free_port()), "PORT": str(free_port())}
    done = subprocess.run([sys.executable, "-m", "camio_portal.cli", "health", role], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stdout.startswith(said), done.stdout + done.stderr


@pytest.mark.django_db(transaction=True)
def test_health_checks_pass_for_a_live_role_and_a_live_web_server(live_server, capsys):
    from callbacks import liveness

    worker = liveness.register(["deliveries"])
    try:
        assert containers.health(["deliveries"]) == 0
        assert containers.health(["other"]) == 1
    finally:
        liveness.unregister(worker)
    assert containers.livez(int(live_server.url.rsplit(":", 1)[1])) == 0
    assert capsys.readouterr().out.splitlines() == [
        "deliveries: ok (1 alive here)", "other: none alive here", "web: ok"]


@pytest.mark.django_db(transaction=True)
def test_a_worker_health_check_counts_only_this_containers_workers(capsys):
    from callbacks.models import Worker

    now = timezone.now()
    Worker.objects.create(id=uuid.uuid4(), roles="deliveries", hostname="another-container",
                          pid=1, started_at=now, seen_at=now)
    assert containers.health(["deliveries"]) == 1
    assert containers.health(["beat"]) == 1  # no sweep has run yet: not healthy (yet)
    assert capsys.readouterr().out.splitlines() == ["deliveries: none alive here",
                                                    "beat: starting"]
