"""The embedded-services check (tests/test_embedded.py): README blocks, the API example
they run, and the process tree a stopped portal must leave empty."""

import os
import re
import signal
import subprocess
import time
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
    """Acceptance: the README's curl examples work against the demo, as written
    (only the two port numbers are this run's)."""
    receiver_port = free_port()

    def ported(script: str) -> str:
        return script.replace("127.0.0.1:8000", f"127.0.0.1:{port}").replace(
            "9000", str(receiver_port)
        )

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
