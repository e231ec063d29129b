"""External tools some tests need (Chromium, Java): skip with a hint locally, fail in CI."""

from __future__ import annotations

import os
import shutil

import pytest

REQUIRED = os.environ.get("ENCOUNTER_REQUIRE_BROWSER") == "1"


def require_executable(name: str, install_hint: str) -> str:
    """Path of ``name``; skip (or fail when ENCOUNTER_REQUIRE_BROWSER=1) when it is missing."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not installed: {install_hint}"
    if REQUIRED:
        pytest.fail(message + " (ENCOUNTER_REQUIRE_BROWSER=1 makes this a failure)")
    pytest.skip(message)
