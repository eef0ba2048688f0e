"""`make container-smoke`: build the image, start compose.yaml's stack with podman, deliver
a verified callback, and tear everything down.

    python deploy/container/smoke.py [--keep]

Steps (each printed with its time): podman and debootstrap are installed with apt-get when
missing (as root); a local Debian base image is made with debootstrap unless it exists (no
registry is reachable on CI machines, so every FROM is local); the portal's image and
PostgreSQL and Redis images are built from it; compose.yaml's stack starts under
podman-compose with a generated .env (podman-compose does not enforce `service_healthy`,
so this script polls each container's health check itself); the demo domain is seeded, an
endpoint registered against a receiver container that verifies signatures
(`receive_callbacks --secret`), a test event and a real camera change are delivered, and
the receiver's log must show both verified; the camera's request id must be on its
callback and on the web's and the delivery worker's log lines. The stack, its volume and
network, the receiver and the built images are removed at the end, also on failure
(`--keep` leaves the stack running to look at). The Debian base image is kept for the
next run.

podman runs with deploy/container/containers.conf (runc, capped ulimits: see
../shared/notes or docs/operations.md, "Containers").
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "deploy" / "container"
PROJECT = "camio-smoke"
BASE = "localhost/debian:bookworm"
IMAGES = {
    "portal": ("localhost/camio-portal:smoke", ROOT / "Dockerfile"),
    "postgres": ("localhost/camio-smoke-postgres:15", HERE / "postgres.Dockerfile"),
    "redis": ("localhost/camio-smoke-redis:7", HERE / "redis.Dockerfile"),
}
SERVICES = ["postgres", "redis", "web", "worker-deliveries", "worker-other", "beat"]
RECEIVER = f"{PROJECT}-receiver"
PORT = int(os.environ.get("CAMIO_SMOKE_PORT", "18000"))
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
STARTED = time.monotonic()


def say(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.1f} s] {message}", flush=True)


def run(*args: str, check: bool = True, quiet: bool = False, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("text", True)
    if quiet:
        kw.setdefault("capture_output", True)
    done = subprocess.run(args, check=False, **kw)
    if check and done.returncode != 0:
        output = (done.stdout or "") + (done.stderr or "") if quiet else ""
        raise SystemExit(f"failed ({done.returncode}): {' '.join(args)}\n{output[-3000:]}")
    return done


def compose(*args: str, env_file: Path, **kw) -> subprocess.CompletedProcess:
    tool = Path(sys.executable).parent / "podman-compose"
    return run(str(tool), "--project-name", PROJECT, "--env-file", str(env_file),
               "-f", str(ROOT / "compose.yaml"), *args, cwd=ROOT, **kw)


def ensure_tools() -> None:
    missing = [tool for tool in ("podman", "runc", "debootstrap") if shutil.which(tool) is None]
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise SystemExit(f"missing {', '.join(missing)}: apt-get install podman buildah runc "
                         "debootstrap")
    say(f"installing {', '.join(missing)} with apt-get")
    run("apt-get", "update", "-q", quiet=True)
    run("apt-get", "install", "-y", "-q", "podman", "buildah", "runc", "debootstrap", quiet=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def ensure_base() -> None:
    if run("podman", "image", "exists", BASE, check=False).returncode == 0:
        say(f"base image {BASE}: present (kept from an earlier run)")
        return
    mirror = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
    say(f"base image {BASE}: debootstrap bookworm from {mirror} (about a minute)")
    with tempfile.TemporaryDirectory(prefix="camio-rootfs-") as scratch:
        rootfs = Path(scratch) / "rootfs"
        run("debootstrap", "--variant=minbase", "bookworm", str(rootfs), mirror, quiet=True)
        for leftovers in ("var/lib/apt/lists", "var/cache/apt"):
            shutil.rmtree(rootfs / leftovers, ignore_errors=True)
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        run("podman", "import", "-", BASE, stdin=tar.stdout, quiet=True)
        tar.wait()


def build() -> None:
    trust = []
    if os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE"):
        # This machine reaches PyPI through a proxy with its own CA: give it to pip.
        ca = Path(os.environ.get("PIP_CERT") or os.environ["SSL_CERT_FILE"])
        trust = ["-v", f"{ca}:/etc/ssl/host-ca.crt:ro", "--build-arg",
                 "PIP_CERT=/etc/ssl/host-ca.crt"]
    for name, (tag, dockerfile) in IMAGES.items():
        say(f"building {tag}")
        args = trust if name == "portal" else []
        run("podman", "build", "--format", "docker", "--build-arg", f"BASE={BASE}", *args,
            "-f", str(dockerfile), "-t", tag, ".", cwd=ROOT, quiet=True)
    size = run("podman", "image", "inspect", "--format", "{{.Size}}", IMAGES["portal"][0],
               quiet=True).stdout.strip()
    say(f"the portal's image: {int(size) / 1e6:.0f} MB")


def write_env(folder: Path) -> tuple[Path, dict[str, str]]:
    values = {
        "CAMIO_IMAGE": IMAGES["portal"][0],
        "POSTGRES_IMAGE": IMAGES["postgres"][0],
        "REDIS_IMAGE": IMAGES["redis"][0],
        "CAMIO_PORT": str(PORT),
        "POSTGRES_PASSWORD": secrets.token_urlsafe(24),
        "SECRET_KEY": secrets.token_urlsafe(64),
        "FIELD_ENCRYPTION_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "ALLOWED_HOSTS": "localhost",
        "CSRF_TRUSTED_ORIGINS": f"http://localhost:{PORT}",
        "PORTAL_URL": f"http://localhost:{PORT}",
        "EMAIL_URL": "consolemail://",
        "SECURE_SSL_REDIRECT": "false",
        # The receiver is a container on the stack's own (private) network.
        "CALLBACK_ALLOWED_NETWORKS": "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16",
    }
    path = folder / ".env"
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    path.chmod(0o600)
    return path, values


def container(service: str) -> str:
    return f"{PROJECT}_{service}_1"


def wait_healthy(up: subprocess.Popen, timeout: float = 300) -> None:
    """Poll `podman healthcheck run` for every long-running service, and migrate's exit,
    until they pass and ``up`` (podman-compose up -d) has returned."""
    deadline, shown = time.monotonic() + timeout, 0.0
    while True:
        if up.poll() not in (None, 0):
            raise SystemExit(f"podman-compose up failed:\n{up.stdout.read()[-3000:]}")
        states = {}
        for service in SERVICES:
            done = run("podman", "healthcheck", "run", container(service), check=False,
                       quiet=True)
            said = (done.stdout + done.stderr).strip().splitlines() or ["unhealthy"]
            states[service] = ("healthy" if done.returncode == 0 else "not created yet"
                               if "unable to look up" in said[-1] else said[-1][:60])
        migrate = run("podman", "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}",
                      container("migrate"), check=False, quiet=True).stdout.strip()
        states["migrate"] = "done" if migrate == "exited 0" else migrate or "missing"
        if up.poll() == 0 and all(state in ("healthy", "done") for state in states.values()):
            say("healthy: " + ", ".join(states))
            return
        if time.monotonic() >= deadline:
            raise SystemExit(f"not healthy after {timeout:.0f} s: {states}")
        if time.monotonic() - shown >= 10:
            say("waiting: " + ", ".join(f"{s} {v}" for s, v in states.items() if v not in
                                         ("healthy", "done")))
            shown = time.monotonic()
        time.sleep(2)


def api(method: str, path: str, token: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{PORT}/api{path}", method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"token {token}", "Content-Type": "application/json",
                 "Host": "localhost", "X-Request-ID": "container-smoke"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - loopback
            return json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as refused:
        raise SystemExit(f"{method} {path}: {refused.code} {refused.read()[:500]!r}") from None


def deliver(values: dict[str, str]) -> None:
    web = container("web")
    demo = ["podman", "exec", web, "camio-portal", "manage", "seed_demo",
            "--credentials-file", "/var/lib/camio/demo-credentials.json"]
    run(*demo, "--verbosity", "0", quiet=True)
    token = run(*demo, "--token", quiet=True).stdout.strip()
    endpoint = api("POST", "/endpoints", token, {
        "url": f"http://{RECEIVER}:9000/camio", "event_types": ["camera.created"]})
    say(f"endpoint {endpoint['endpoint_id']} registered against http://{RECEIVER}:9000/camio")
    portal_env = [f"--env={key}={values[key]}" for key in
                  ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "ALLOWED_HOSTS", "EMAIL_URL")]
    run("podman", "run", "-d", "--name", RECEIVER, "--network", f"{PROJECT}_default",
        *portal_env, "--env=DATABASE_URL=postgres://unused@postgres/unused",
        "--env=CELERY_BROKER_URL=redis://redis:6379/0", "--env=CACHE_URL=redis://redis:6379/1",
        "--env=LOG_FORMAT=text", IMAGES["portal"][0], "manage", "receive_callbacks",
        "--host", "0.0.0.0", "--port", "9000", "--secret", endpoint["secret"], quiet=True)  # noqa: S104
    wait_for_log("Receiving callbacks at", 60)
    test = api("POST", f"/endpoints/{endpoint['endpoint_id']}/test?wait=true", token,
               {"event_type": "camera.created"})
    say(f"test event: {test.get('state')}, HTTP {test.get('status')}")
    box = api("GET", "/devices", token)["results"][0]["device_id"]
    camera = api("POST", "/cameras", token, {"name": "Smoke Door", "device_id": box})
    say(f"camera {camera['camera_id']} created: its camera.created goes through the outbox")
    deadline = time.monotonic() + 60
    while True:
        found = api("GET", f"/deliveries?endpoint={endpoint['endpoint_id']}", token)["results"]
        real = [d for d in found if d["event_type"] == "camera.created" and not d.get("test")]
        done = [d for d in real if d["state"] == "succeeded"]
        if done:
            break
        if time.monotonic() >= deadline:
            raise SystemExit(f"the camera's callback did not succeed: {found}")
        time.sleep(1)
    # The camera's request id (X-Request-ID: container-smoke) went with its callback and
    # onto the web's and the delivery worker's JSON log lines.
    detail = api("GET", f"/deliveries/{done[0]['id']}", token)
    sent = dict(detail["attempts"][-1]["request_headers"])
    say(f"the callback carried camio-request-id: {sent.get('camio-request-id')}, "
        f"traceparent: {sent.get('traceparent')}")
    lines = {}
    for service in ("web", "worker-deliveries"):
        logs = run("podman", "logs", container(service), check=False, quiet=True)
        lines[service] = [line for line in (logs.stdout + logs.stderr).splitlines()
                          if '"request_id": "container-smoke"' in line]
    say(f"log lines with request_id container-smoke: web {len(lines['web'])}, "
        f"worker-deliveries {len(lines['worker-deliveries'])}")
    if sent.get("camio-request-id") != "container-smoke" or not all(lines.values()):
        raise SystemExit("the request id did not reach the callback and both logs")
    log = wait_for_log("Smoke Door", 30)
    verified = [line for line in log.splitlines() if " verified" in line]
    refused = [line for line in log.splitlines() if "REFUSED" in line]
    say(f"receiver: {len(verified)} callbacks verified, {len(refused)} refused")
    for line in verified:
        print("    " + line)
    if len(verified) < 2 or refused:
        raise SystemExit("the receiver did not verify both callbacks:\n" + log[-3000:])


def wait_for_log(text: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        log = run("podman", "logs", RECEIVER, check=False, quiet=True)
        output = log.stdout + log.stderr
        if text in output:
            return output
        if time.monotonic() >= deadline:
            raise SystemExit(f"the receiver never printed {text!r}:\n{output[-3000:]}")
        time.sleep(1)


def tear_down(env_file: Path) -> None:
    say("tearing down: the stack, its volume and network, the receiver, the built images")
    run("podman", "rm", "--force", "--ignore", RECEIVER, check=False, quiet=True)
    compose("down", "--volumes", "--timeout", "5", env_file=env_file, check=False, quiet=True)
    for tag, _ in IMAGES.values():
        run("podman", "rmi", "--force", tag, check=False, quiet=True)
    run("podman", "image", "prune", "--force", check=False, quiet=True)
    left = run("podman", "ps", "--all", "--filter", f"name={PROJECT}", "--format", "{{.Names}}",
               check=False, quiet=True).stdout.split()
    say(f"left running: {', '.join(left) or 'nothing'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="leave the stack running")
    args = parser.parse_args()
    os.environ["CONTAINERS_CONF"] = str(HERE / "containers.conf")
    ensure_tools()
    ensure_base()
    with tempfile.TemporaryDirectory(prefix="camio-smoke-") as scratch:
        env_file, values = write_env(Path(scratch))
        try:
            build()
            say("starting the stack: " + ", ".join(["migrate", *SERVICES]))
            # podman-compose waits for `service_healthy` by watching health states that only
            # `podman healthcheck run` updates here (no systemd timers): poll while it waits.
            tool = Path(sys.executable).parent / "podman-compose"
            up = subprocess.Popen(
                [str(tool), "--project-name", PROJECT, "--env-file", str(env_file), "-f",
                 str(ROOT / "compose.yaml"), "up", "-d", "--no-build"], cwd=ROOT,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            wait_healthy(up)
            deliver(values)
            say("container smoke passed")
        finally:
            if args.keep:
                say(f"--keep: the stack runs at http://localhost:{PORT}/ "
                    f"(podman-compose -p {PROJECT} down --volumes stops it)")
            else:
                tear_down(env_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
