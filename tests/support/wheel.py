"""Building and installing the wheel in a clean environment (tests/test_installed_wheel.py)."""

import os
import shutil
import site
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


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
