"""The README keeps every task and every setting this project adds honest (sqlite-utils style)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pelican.settings import DEFAULT_CONFIG

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def project_settings() -> dict:
    spec = importlib.util.spec_from_file_location("pelicanconf_for_docs", ROOT / "pelicanconf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {name: getattr(module, name) for name in dir(module) if name.isupper()}


# Pelican settings that Pelican documents but gives no default (so DEFAULT_CONFIG lacks them).
PELICAN_WITHOUT_DEFAULT = {
    "ARCHIVES_URL",
    "ARCHIVES_SAVE_AS",
    "AUTHORS_URL",
    "AUTHORS_SAVE_AS",
    "CATEGORIES_SAVE_AS",
    "FEED_ALL_RSS",
    "MENUITEMS",
    "SITESUBTITLE",
    "TAGS_URL",
    "TAGS_SAVE_AS",
    "TAG_FEED_ATOM",
    "TIMEZONE",
    "SUMMARY_MAX_PARAGRAPHS",
    "ROBOTS_SAVE_AS",  # <NAME>_SAVE_AS of a direct template, Pelican's own convention
}
ADDED = {
    name: value
    for name, value in project_settings().items()
    if name not in DEFAULT_CONFIG and name not in PELICAN_WITHOUT_DEFAULT
}


def task_names() -> list[str]:
    listing = subprocess.run(
        [sys.executable, "-m", "invoke", "--list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return re.findall(r"^  (\S+)", listing, flags=re.M)


def test_quickstart_has_exactly_two_commands():
    quickstart = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", quickstart, flags=re.S).group(1)
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    assert commands == ["./dev serve", "./dev test"]


def test_ci_runs_the_readme_test_command():
    assert "./dev test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("name", task_names())
def test_every_task_is_in_the_readme(name):
    assert f"./dev {name}" in README, f"task {name!r} is not documented in README.md"


@pytest.mark.parametrize("name", sorted(ADDED))
def test_every_added_setting_is_in_the_readme(name):
    assert f"`{name}`" in README, f"setting {name} is not documented in README.md"
    value = ADDED[name]
    if isinstance(value, dict):
        for key in value:
            assert f'"{key}"' in README or f"`{key}`" in README, (
                f"{name}[{key!r}] is not documented"
            )
