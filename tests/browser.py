"""Shared browser fixture: Debian's Chromium driven by Playwright (never a downloaded browser).

Use it from a test module with ``pytest_plugins = ["tests.browser"]`` and a ``chromium``
argument; mark the test ``@pytest.mark.browser``. Without /usr/bin/chromium the test is skipped
with the command that installs it, unless ENCOUNTER_REQUIRE_BROWSER=1 (CI), where it fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.tools import unavailable

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
# Headless in containers and CI: no sandbox (no user namespaces), no GPU, and nothing that
# phones home, so a test run never touches the network.
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def browser_unavailable(reason: str) -> None:
    """Skip with ``reason`` and the fix, or fail when CI requires the browser."""
    unavailable(f"{reason}; install it with `apt-get install chromium`")


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """A launched headless Chromium (playwright Browser), shared by the whole session."""
    if not CHROMIUM.exists():
        browser_unavailable(f"{CHROMIUM} is missing")
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
            )
        except Error as exc:
            browser_unavailable(f"{CHROMIUM} would not start ({str(exc).splitlines()[0]})")
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def screenshots() -> Path:
    """The folder (gitignored) where browser tests save their screenshots."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
