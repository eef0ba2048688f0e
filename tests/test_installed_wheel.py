"""The wheel runs anywhere: built from the checkout and installed into a fresh venv in
another folder, `camio-portal run` serves the sign-in page with the wheel's own
templates and static files, keeps its data in ./data of the folder it runs in, and
`camio-portal manage check` passes."""

import signal
import subprocess
import zipfile

import pytest

from tests.processes import free_port
from tests.support.embedded import wait_for
from tests.support.wheel import build_wheel, clean_env, install, page_status

pytestmark = pytest.mark.embedded


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
    assert (work / "data" / "postgres" / "data" / "PG_VERSION").exists()
    assert (work / "data" / "secret_key").exists()
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
