"""Checks that a Markdown extension which only saves time leaves the HTML as it was."""

from __future__ import annotations

import random

import markdown

from tests.conftest import ROOT


def same_html_on_random_texts(extension: str, base: list[str], pieces: list[str]) -> None:
    """1,500 random texts of ``pieces`` convert alike with and without ``extension``."""
    rng = random.Random(20261124)
    quick = markdown.Markdown(extensions=[*base, extension])
    plain = markdown.Markdown(extensions=base)
    for _ in range(1_500):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        assert quick.reset().convert(text) == plain.reset().convert(text), repr(text)


def same_html_on_the_sites_posts(extension: str, base: list[str]) -> None:
    """Every post, page and chapter of the site converts alike with and without ``extension``."""
    paths = sorted((ROOT / "content").glob("**/*.md"))
    assert len(paths) >= 10
    quick = markdown.Markdown(extensions=[*base, extension], output_format="html5")
    plain = markdown.Markdown(extensions=base, output_format="html5")
    for path in paths:
        text = path.read_text(encoding="utf-8")
        assert quick.reset().convert(text) == plain.reset().convert(text), path.name
