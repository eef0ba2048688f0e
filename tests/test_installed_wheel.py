"""The wheel runs anywhere: built from the checkout and installed into a fresh venv in
another folder, `camio-portal run` serves the sign-in page with the wheel's own
templates and static files, keeps its data in ./data of the folder it runs in, and
`camio-portal manage check` passes."""

import os
import shutil
import signal
import site
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tests.test_embedded import free_port, wait_for

# Not about the database or broker: CI runs it once, on SQLite.
pytestmark = pytest.mark.backend_independent

ROOT = Path(__file__).resolve().parent.parent


SOURCES = ["pyproject.toml", "README.md", "LICENSE", "camio_portal", "apikit", "domains",
           "callbacks", "incidents", "pacs"]


def build_wheel(folder: Path) -> Path:
    """Build the wheel from a copy of the sources (setuptools' build/ folder in the
    checkout could hold files that no longer exist)."""
    source = folder / "source"
    source.mkdir(parents=True)
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(folder), "."],
        cwd=source, check=True, capture_output=True, timeout=180,
    )
    (wheel,) = folder.glob("camio_portal-*.whl")
    return wheel


def install(wheel: Path, venv: Path) -> Path:
    """Install ``wheel`` alone into a new venv; its dependencies come from this test's
    environment through a .pth line (the network may not be there to fetch them)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    # A path line adds the folder only: the checkout's editable-install hooks there stay off.
    (Path(purelib) / "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         "--no-deps", str(wheel)],
        check=True, capture_output=True, timeout=120,
    )
    return Path(purelib)


def clean_env() -> dict[str, str]:
    drop = ("DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS", "CAMIO_", "PYTHONPATH")
    environment = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    return {**environment, "PYTHONUNBUFFERED": "1"}


def page_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as page:
            return page.status
    except OSError:
        return 0


def test_the_wheel_runs_from_another_folder(tmp_path):
    wheel = build_wheel(tmp_path / "dist")
    names = zipfile.ZipFile(wheel).namelist()
    assert "camio_portal/templates/registration/login.html" in names
    assert "camio_portal/static/css/portal.css" in names
    site_packages = install(wheel, tmp_path / "venv")
    script = str(tmp_path / "venv" / "bin" / "camio-portal")
    work = tmp_path / "work"
    work.mkdir()
    where = subprocess.run(
        [tmp_path / "venv" / "bin" / "python", "-c", "import camio_portal as c; print(c.__file__)"],
        cwd=work, capture_output=True, text=True, check=True,
    ).stdout
    assert where.startswith(str(site_packages)), where

    port = free_port()
    log = tmp_path / "run.log"
    with log.open("w") as out:
        portal = subprocess.Popen(
            [script, "run", "--port", str(port)],
            cwd=work, env=clean_env(), stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: "Ctrl-C stops it" in log.read_text(), 90, "the portal's banner")
        assert page_status(f"http://127.0.0.1:{port}/accounts/login/") == 200
        assert page_status(f"http://127.0.0.1:{port}/static/css/portal.css") == 200
        portal.send_signal(signal.SIGINT)
        assert portal.wait(timeout=30) == 0
    finally:
        if portal.poll() is None:
            portal.kill()
    assert (work / "data" / "camio.sqlite3").exists() and (work / "data" / "secret_key").exists()
    assert not (site_packages / "data").exists()

    check = subprocess.run(
        [script, "manage", "check"], cwd=work, env=clean_env(), capture_output=True, text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stderr
    assert "no issues" in check.stdout
    token = subprocess.run(
        [script, "manage", "seed_demo", "--token"], cwd=work, env=clean_env(),
        capture_output=True, text=True, timeout=60,
    )
    assert token.stdout.startswith("cpu_"), token.stderr
