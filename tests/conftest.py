"""Shared fixtures: tiny content trees built by a real Pelican run of the project's settings."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from encounter_habit.build import BuildReport, build_site

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Site:
    """A content tree in a temporary folder, built with the project's pelicanconf.py."""

    root: Path

    @property
    def content(self) -> Path:
        return self.root / "content"

    @property
    def output(self) -> Path:
        return self.root / "output"

    def write(self, relative: str, text: str) -> Path:
        """Write a content file (dedented) under content/ and return its path."""
        path = self.content / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    def post(
        self,
        slug: str,
        title: str | None = None,
        date: str = "2009-09-21 09:00",
        body: str = "Body text.",
        **meta: str,
    ) -> Path:
        """Write a minimal valid post; extra metadata as keyword arguments (series_part -> Series-part)."""
        lines = [
            f"Title: {title or slug.replace('-', ' ').title()}",
            f"Date: {date}",
            f"Slug: {slug}",
        ]
        lines += [f"{key.replace('_', '-').capitalize()}: {value}" for key, value in meta.items()]
        return self.write(f"posts/{slug}.md", "\n".join(lines) + "\n\n" + body + "\n")

    def settings_overrides(self, **overrides) -> dict:
        base = {
            "PATH": str(self.content),
            "OUTPUT_PATH": str(self.output),
            "CACHE_PATH": str(self.root / "cache"),
            "SITEURL": "",
        }
        base.update(overrides)
        return base

    def build(self, settings_file: Path = ROOT / "pelicanconf.py", **overrides) -> BuildReport:
        """Run a real Pelican build of this tree; returns the report (output path, error lines)."""
        self.content.mkdir(parents=True, exist_ok=True)
        return build_site(settings_file, self.settings_overrides(**overrides))

    def page(self, relative: str) -> str:
        return (self.output / relative).read_text(encoding="utf-8")

    def soup(self, relative: str) -> BeautifulSoup:
        """The parsed HTML of an output file."""
        return BeautifulSoup(self.page(relative), "html.parser")


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(tmp_path)


@dataclass
class BuiltSite:
    """The project's real content, built once per test session with every plugin."""

    output: Path
    settings: dict
    errors: list[str]


@pytest.fixture(scope="session")
def full_site(tmp_path_factory) -> BuiltSite:
    from encounter_habit.build import load_settings

    root = tmp_path_factory.mktemp("full-site")
    overrides = {"OUTPUT_PATH": str(root / "output"), "CACHE_PATH": str(root / "cache")}
    report = build_site(ROOT / "pelicanconf.py", overrides)
    return BuiltSite(
        report.output, load_settings(ROOT / "pelicanconf.py", overrides), report.errors
    )
