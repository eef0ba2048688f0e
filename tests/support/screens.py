"""Screenshots from the browser tests."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def screenshot(page, name: str, tmp_path: Path) -> Path:
    """Save a full-page screenshot: into CAMIO_SCREENSHOTS (the README's are made with
    CAMIO_SCREENSHOTS=docs/screenshots) or the test's temporary folder."""
    from camio_portal.env import env

    folder = (
        ROOT / env.str("CAMIO_SCREENSHOTS", default="")
        if env.str("CAMIO_SCREENSHOTS", default="")
        else tmp_path
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    page.screenshot(path=str(path), full_page=True)
    return path
