"""Screenshots from the browser tests: always into the test data folder's ``shots/``
(``.test-data/shots/``, never the tracked tree); ``make screenshots`` copies the ones the
README and docs/ show into docs/screenshots/."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings


def shots_folder() -> Path:
    folder = Path(settings.DATA_DIR) / "shots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def shot_name(page_name: str, width: int) -> str:
    """``"domain page", 390`` -> ``domain-page-390.png``."""
    slug = re.sub(r"[^a-z0-9]+", "-", page_name.lower()).strip("-")
    return f"{slug}-{width}.png"


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot as ``name`` in the shots folder."""
    path = shots_folder() / name
    page.screenshot(path=str(path), full_page=True)
    return path
