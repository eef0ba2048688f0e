"""Browser tests: Playwright driving Debian's Chromium (never a downloaded browser).

Skipped, saying why, where /usr/bin/chromium is missing; `.ci/run` installs it.
"""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = os.environ.get("CAMIO_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CAMIO_CHROMIUM)")
    # Playwright's sync API runs an event loop in this thread; the ORM calls the
    # tests make around it are ordinary synchronous ones.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                ],
            )
            yield chromium
            chromium.close()
    finally:  # later tests (and their subprocesses) must not inherit it
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def signed_in(page, acme_admin):
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill("hq@acme.com")
    page.get_by_label("Password").fill("correct horse battery")
    page.locator("main").get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/domains")
    return page


@pytest.fixture(scope="package")
def browser_worker(django_db_setup, django_db_blocker):
    """One real Celery worker for all the browser tests, stopped when they end (so it
    cannot take work meant for later tests' own workers). Its threads use the database
    whenever a test lets them; between tests they try again."""
    from tests.support.workers import running_worker

    with django_db_blocker.unblock():
        started = running_worker()
        started.__enter__()
    yield
    with django_db_blocker.unblock():
        started.__exit__(None, None, None)


@pytest.fixture
def worker(browser_worker, transactional_db):
    """The session's worker, with each test's own database state; waits for its sends."""
    from callbacks.delivery.dispatcher import get_dispatcher

    yield
    get_dispatcher().wait_idle(timeout=30)
