"""encounter_habit.regex_needs: texts any match of a pattern needs, and only those."""

from __future__ import annotations

import random
import re

import markdown
import pytest

from encounter_habit.regex_needs import required_texts


@pytest.mark.parametrize(
    "pattern, needed",
    [
        (r"(?<!\.)\.{3}(?!\.)", ("...",)),
        (r"(?<!-)--(?!-)", ("--",)),
        (r"(\s|&nbsp;|--)'(?=\w)", ("'",)),
        (r"(?<!\w)'(?=\d{2}s)", ("'",)),
        (r"\"'(?=\w)", ("\"'",)),
        (r"ab{2,}c", ("abb",)),
        (r"x+yz", ("yz",)),
        (r"a?b", ("b",)),
        (r"(?<!\!)\[", ("[",)),  # a link: the lookbehind consumes nothing
        (r"\*|_", ("*", "_")),  # emphasis: one of two characters
        (r"[ab]", ("a", "b")),
        (r"(&(?:\#[0-9]+|[a-z]+);)", ("&",)),  # inside a group
        (r"(?:x|yz)+", ("x", "yz")),  # each branch consumes something
        (r"(?>ab)", ("ab",)),
        (r"a++b", ("a",)),  # the first of the longest runs
        (r"(?:x|\s)", None),  # one branch consumes no known text
        (r"[^ab]", None),
        (r"\w+", None),
        (r"(?=abc)", ("abc",)),  # a lookahead consumes nothing, but its text must be there
        (r"x(?<=ab)", ("x",)),
        (r"(?!abc)", None),
        (r"(?<!a)b", ("b",)),
        (r"(?i)a", None),  # a literal that need not be this character
        (r"b(?i:a)", ("b",)),
        (r"(?i:a)", None),
    ],
)
def test_the_texts_a_pattern_needs(pattern, needed):
    assert required_texts(pattern) == needed


def test_flags_given_apart_from_the_pattern_count():
    assert required_texts("a", re.IGNORECASE) is None
    assert required_texts("a", re.DOTALL | re.UNICODE) == ("a",)


def test_a_pattern_the_parser_refuses_is_searched_for():
    assert required_texts("(unclosed") is None


def markdown_patterns() -> list[re.Pattern]:
    """The inline patterns of the site's Markdown (smarty's own included)."""
    md = markdown.Markdown(
        extensions=[
            "markdown.extensions.extra",
            "markdown.extensions.toc",
            "markdown.extensions.smarty",
        ]
    )
    found = [pattern.getCompiledRegExp() for pattern in md.inlinePatterns]
    smarty = md.treeprocessors["smarty"].inlinePatterns  # smarty runs a second inline pass
    return found + [pattern.getCompiledRegExp() for pattern in smarty]


def test_no_text_without_the_required_texts_matches_a_real_pattern():
    # The claim both users rest on, tried on random text of the characters the patterns use.
    rng = random.Random(11)
    alphabet = list("[]()!<>&#;*_`\\'\"-.:/@ ax1\n") + ["  \n", "--", "...", "&amp;", "http://"]
    patterns = markdown_patterns()
    assert len(patterns) >= 25
    skipped = 0
    for compiled in patterns:
        needed = required_texts(compiled.pattern, compiled.flags)
        if needed is None:
            continue
        for _ in range(2_000):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
            if not any(part in text for part in needed):
                skipped += 1
                assert compiled.search(text) is None, (compiled.pattern, text)
    assert skipped > 10_000  # the test did try texts the patterns are skipped on
