"""Fixtures of the web UI's tests: the `browser` marker and a headless Chromium.

Browser tests drive Debian's chromium (/usr/bin/chromium) through Playwright against
pytest-django's live server. Playwright's sync API runs an event loop in the test thread,
so Django's async-safety check must be told that the ORM calls there are fine.
"""

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "screenshots"


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives a real Chromium (slower; needs chromium)")


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session (a browser start costs ~1 s)."""
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs it with apt-get")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium"),
            args=CHROMIUM_ARGS,
        )
        yield instance
        instance.close()


@pytest.fixture
def screenshot():
    """Save a screenshot of the page under screenshots/ (git-ignored) for reviewers."""
    SCREENSHOTS.mkdir(exist_ok=True)

    def take(page, name: str, full_page: bool = False):
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)

    return take
