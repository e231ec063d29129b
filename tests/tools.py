"""External tools some tests need (Chromium, Java): skip with a hint locally, fail in CI."""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest

REQUIRED = os.environ.get("ENCOUNTER_REQUIRE_BROWSER") == "1"


def unavailable(message: str) -> NoReturn:
    """Skip with ``message`` (which says how to install the missing tool), or fail in CI."""
    if REQUIRED:
        pytest.fail(f"{message} (ENCOUNTER_REQUIRE_BROWSER=1 makes this a failure)", pytrace=False)
    pytest.skip(message)


def require_executable(name: str, install_hint: str) -> str:
    """Path of ``name``; skip (or fail when ENCOUNTER_REQUIRE_BROWSER=1) when it is missing."""
    path = shutil.which(name)
    if not path:
        unavailable(f"{name} is not installed: {install_hint}")
    return path
