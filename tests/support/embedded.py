"""The embedded-services check (tests/test_embedded.py): README blocks, the API example
they run, and the process tree a stopped portal must leave empty."""

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.processes import free_port

ROOT = Path(__file__).resolve().parents[2]


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def descendants(pid: int) -> set[int]:
    found, frontier = set(), [pid]
    while frontier:
        parent = frontier.pop()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                if ppid == parent and int(entry.name) not in found:
                    found.add(int(entry.name))
                    frontier.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def readme_block(name: str) -> str:
    """Return the README's sh block marked ``<!-- api-example: name -->``."""
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"<!-- api-example: {name} -->\n```sh\n(.*?)```", text, re.S)
    assert match, f"README has no api-example block {name!r}"
    return match.group(1)


def run_readme_api_example(port: int, environment: dict, tmp_path: Path) -> None:
    """Acceptance: the README's curl examples work against the demo, as written, with
    PORT set to this run's port (the receiver's port is this run's too); each answer is
    on its own line."""
    receiver_port = free_port()
    environment = {**environment, "PORT": str(port)}

    def ported(script: str) -> str:
        return script.replace("9000", str(receiver_port))

    log = tmp_path / "receiver.log"
    with log.open("w") as receiver_log:
        receiver = subprocess.Popen(
            ["bash", "-c", ported(readme_block("receiver"))],
            cwd=ROOT,
            env={**environment, "PYTHONUNBUFFERED": "1"},
            stdout=receiver_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(lambda: "Receiving callbacks" in log.read_text(), 60, "the receiver")
        done = subprocess.run(
            ["bash", "-c", ported(readme_block("curl"))],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        out = done.stdout
        lines = out.splitlines()
        assert sum(line.startswith("{") for line in lines) >= 5, out  # one answer a line
        assert '"email":"admin@acme.test"' in out
        assert '"state":"succeeded"' in out and '"status":200' in out, out
        assert '"name":"Back Door"' in out and '"hook_id"' in out, out
        wait_for(
            lambda: (
                log.read_text().count("camera.created") >= 2 and "hook.created" in log.read_text()
            ),
            60,
            "camera.created (test and real) and hook.created at the receiver",
        )
    finally:
        os.killpg(receiver.pid, signal.SIGINT)
        receiver.wait(timeout=30)


# --- A portal started as `make run` would, and its PostgreSQL ---------------------------


def portal_env(data: Path) -> dict[str, str]:
    """The environment of a user's shell: embedded mode in ``data``, no test settings."""
    drop = ("DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS", "CAMIO_", "PYTEST")
    environment = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    environment.update(CAMIO_DATA_DIR=str(data), PYTHONUNBUFFERED="1")
    return environment


def launch(data: Path, port: int, log: Path) -> subprocess.Popen:
    """Start the launcher in a process group of its own (so a test can kill that group)."""
    with log.open("a") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "camio_portal.launcher", "--port", str(port)],
            cwd=ROOT, env=portal_env(data), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for_banner(log: Path) -> None:
    wait_for(lambda: "Ctrl-C stops it" in log.read_text(), 90, f"the banner in {log}")


def postgres_pids(data: Path) -> set[int]:
    """Live processes working in the data folder's cluster: its postmaster and children."""
    cluster = (data / "postgres" / "data").resolve()
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and alive(int(entry.name)):
            with contextlib.suppress(OSError):
                if Path(os.readlink(entry / "cwd")) == cluster:
                    found.add(int(entry.name))
    return found


def postmaster_pid(data: Path) -> int:
    return int((data / "postgres" / "data" / "postmaster.pid").read_text().split()[0])


def create_endpoint(data: Path, port: int) -> str:
    """Register an endpoint through the API with the demo admin's token; return its id."""
    token = json.loads((data / "demo-credentials.json").read_text())["api_token"]["token"]
    body = json.dumps({"method": "POST", "url": "http://127.0.0.1:9/hook",
                       "event_types": ["camera.created"]}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/endpoints", data=body, method="POST",
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())["endpoint_id"]


def endpoints_and_keys(data: Path) -> list[tuple]:
    """Every endpoint with its signing keys as stored (encrypted), read through the socket."""
    import psycopg

    from camio_portal import pgembed

    with psycopg.connect(pgembed.dsn(data / "postgres", "camio")) as conn:
        return conn.execute(
            "SELECT e.endpoint_id, e.url, k.secret FROM callbacks_endpoint e "
            "JOIN callbacks_signingkey k ON k.endpoint_id = e.id ORDER BY 1, 3"
        ).fetchall()


def stop_portal(launcher: subprocess.Popen, data: Path) -> None:
    """Whatever a test left running: the launcher (Ctrl-C, then SIGKILL) and PostgreSQL."""
    from camio_portal import pgembed

    if launcher.poll() is None:
        launcher.send_signal(signal.SIGINT)
        try:
            launcher.wait(timeout=30)
        except subprocess.TimeoutExpired:
            launcher.kill()
    pgembed.stop(data / "postgres")
