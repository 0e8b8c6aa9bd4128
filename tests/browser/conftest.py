"""Browser tests: Playwright's sync API on Debian's Chromium against pytest-django's live server.

Playwright's sync API runs an event loop in this thread, so Django's async-safety check must be
told that the ORM calls made here (fixtures, assertions) are fine.
"""

import os
from pathlib import Path

import pytest

from tests.helpers import require

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="session")
def chromium():
    require(CHROMIUM.exists(), f"Chromium is missing at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def new_page(chromium):
    contexts = []

    def build(viewport: dict | None = None):
        context = chromium.new_context(viewport=viewport or {"width": 1440, "height": 900})
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield build
    for context in contexts:
        context.close()


@pytest.fixture
def screenshots_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
