"""encounter_habit.backticks: the same HTML as Python-Markdown's, without hopeless code-span
searches."""

from __future__ import annotations

import random
import re

import markdown
import pytest
from markdown.inlinepatterns import BACKTICK_RE

from encounter_habit.backticks import KNOWN_PATTERN, NeedsBacktick
from tests.conftest import ROOT

EXTENSIONS = [
    "markdown.extensions.extra",
    "markdown.extensions.meta",
    "markdown.extensions.toc",
    "encounter_habit.smarty",
]
TRICKY = [
    "Plain text, no code at all.",
    "One `span`, two ``spans with ` inside``, and an `unclosed one.",
    "Escaped \\`not code\\` and \\\\`code after two backslashes\\\\`.",
    "\\\\\\\\` four backslashes, then a backtick `x`",
    "A list:\n\n- `a`\n- b\n\n> quoted `code` and *emphasis `in` it*",
    "[link `text`](http://example.org/`x`) <span>`html`</span>",
    "```\nfenced\n```\n\n    indented `code`\n\n`` ` `` and ` `` `",
    "| a `b` | c |\n|---|---|\n| `d` | e |",
]


def html(text: str, *extra: str) -> str:
    return markdown.Markdown(extensions=[*EXTENSIONS, *extra], output_format="html5").convert(text)


def test_the_pattern_is_the_one_the_shortcut_was_worked_out_for():
    # A Python-Markdown that changed it gets no shortcut (and this test says so: work it out
    # again for the new pattern and update KNOWN_PATTERN).
    assert BACKTICK_RE == KNOWN_PATTERN
    md = markdown.Markdown(extensions=["encounter_habit.backticks"])
    assert isinstance(md.inlinePatterns["backtick"].compiled_re, NeedsBacktick)


def test_no_match_of_the_pattern_lacks_a_backtick():
    # The claim the shortcut rests on, tried on random text of the characters that matter.
    pattern = re.compile(BACKTICK_RE)
    rng = random.Random(7)
    for _ in range(20_000):
        text = "".join(rng.choice("\\\\`` ab\n") for _ in range(rng.randint(0, 12)))
        if "`" not in text:
            assert pattern.search(text) is None, text


@pytest.mark.parametrize("text", TRICKY)
def test_the_html_is_python_markdowns(text):
    assert html(text, "encounter_habit.backticks") == html(text)


def test_the_sites_posts_make_the_same_html():
    paths = sorted((ROOT / "content").glob("**/*.md"))
    assert len(paths) >= 10
    for path in paths:
        text = path.read_text(encoding="utf-8")
        assert html(text, "encounter_habit.backticks") == html(text), path.name
