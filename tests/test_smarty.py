"""encounter_habit.smarty makes exactly what Python-Markdown's smarty makes, faster."""

from __future__ import annotations

import random

import markdown
import pytest

from encounter_habit.smarty import SmartyTypography
from tests.conftest import ROOT

OTHERS = ["markdown.extensions.extra", "markdown.extensions.meta", "markdown.extensions.toc"]

# Every pattern of smarty, next to each other, to placeholders, to markup and inside code.
TRICKY = [
    "'Twas the '80s -- \"quoted\" ... and 'single' \"'mixed'\" don't 'em ---dash---",
    "He said \"'hi'\" and '\"ok\"' -- then \"'\" '\"' \"\" ''\n\n'",
    "*'em* 'a *b* c' \"x `code 'q'` y\" **\"bold\"**'s",
    '# Heading \'with\' "quotes" -- yes\n\n## Another ... "one"\n\ntext',
    "a\u2014\"b\" &mdash;'c' &nbsp;\"d\" &#8211;'e' ''' \"\"\" .... ..... <<angled>>",
    "[link 'x'](http://a/'b' \"title 'q'\") <span title=\"a 'b'\">'c'</span> 'd'",
    "| a 'b' | c |\n|---|---|\n| \"d\" | e -- f |",
    "foo[^1] 'x'\n\n[^1]: note 'y' -- z...",
    "<div markdown=\"1\">'inside' \"html\"</div>\n\n'after'",
    "'s 's 'S's 1's 'twas 'n' 'tis rock 'n' roll \"'80s\"",
    "a --- b -- c - d ---- e -> f <- g",
    "    code 'block' -- ...\n\n```\nfenced \"code\"\n```\n\n> quoted 'reply' -- \"yes\"",
    "*[HTML]: Hyper 'Text'\n\nThe HTML 'spec' says \"no\".",
    "Title: A 'meta' \"title\"\nSummary: 'So' -- \"much\"\n\nBody 'here'.",
]
OPTIONS = [
    {},
    {"smart_angled_quotes": True},
    {"smart_dashes": False, "smart_ellipses": False},
    {"smart_quotes": False},
    {"substitutions": {"left-single-quote": "&sbquo;", "right-double-quote": "&ldquo;"}},
]


def rendered(text: str, smarty: str, options: dict) -> tuple:
    md = markdown.Markdown(
        extensions=[*OTHERS, smarty], extension_configs={smarty: options}, output_format="html5"
    )
    return md.convert(text), md.toc, md.Meta


def site_texts() -> list[str]:
    paths = sorted((ROOT / "content").glob("**/*.md"))
    assert len(paths) >= 10, paths  # the real posts, pages and ebook chapters
    return [path.read_text(encoding="utf-8") for path in paths]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda options: ",".join(options) or "defaults")
def test_the_output_is_smartys_byte_for_byte(options):
    for text in TRICKY + site_texts():
        expected = rendered(text, "markdown.extensions.smarty", options)
        assert rendered(text, "encounter_habit.smarty", options) == expected, text[:80]


def test_the_tricky_texts_do_get_curly_quotes_dashes_and_ellipses():
    # smarty's own reading, mistakes included: a leading apostrophe opens a quote ('Twas, 'em).
    html, _toc, meta = rendered(TRICKY[0], "encounter_habit.smarty", {})
    assert html == (
        "<p>&lsquo;Twas the &rsquo;80s &ndash; &ldquo;quoted&rdquo; &hellip; and &lsquo;single&rsquo;"
        " &ldquo;&lsquo;mixed&rsquo;&rdquo; don&rsquo;t &lsquo;em &mdash;dash&mdash;</p>"
    )
    assert meta == {}


def test_one_instance_reset_between_texts_makes_what_fresh_instances_make():
    md = markdown.Markdown(extensions=[*OTHERS, "encounter_habit.smarty"], output_format="html5")
    assert isinstance(md.treeprocessors["smarty"], SmartyTypography)
    for text in TRICKY:
        assert md.reset().convert(text) == rendered(text, "markdown.extensions.smarty", {})[0]


def test_random_texts_of_quotes_dashes_and_dots_come_out_as_smarty_makes_them():
    # Where patterns meet, what one replaced must stay hidden from the next, as in smarty.
    rng = random.Random(20261124)
    alphabet = ["a", "s", "80", "'", "'", '"', '"', "-", "--", ".", "...", " ", " ", "\n", "*", "`"]
    fast = markdown.Markdown(extensions=["encounter_habit.smarty"])
    slow = markdown.Markdown(extensions=["markdown.extensions.smarty"])
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 14)))
        assert fast.reset().convert(text) == slow.reset().convert(text), repr(text)
