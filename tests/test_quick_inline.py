"""encounter_habit.quick_inline: Python-Markdown's HTML, without the tries that cannot match."""

from __future__ import annotations

import re
from xml.etree import ElementTree

import markdown
import pytest
from markdown.inlinepatterns import InlineProcessor as Pattern
from markdown.treeprocessors import InlineProcessor

from encounter_habit.quick_inline import QuickInlineProcessor
from tests.markdown_equivalence import same_html_on_random_texts, same_html_on_the_sites_posts

# The site's extensions (pelicanconf MARKDOWN) but this one.
SITE = [
    "markdown.extensions.extra",
    "markdown.extensions.meta",
    "markdown.extensions.toc",
    "encounter_habit.smarty",
    "encounter_habit.backticks",
]
TRICKY = [
    "Plain text with nothing inline at all.",
    'A [link](http://example.org/a_b) and ![an image](/i.png "t") and [a ref][r].\n\n[r]: /x',
    "<http://auto.link/x?a=1&b=2> <me@example.org> &amp; &copy; &#169; &#xA9; & alone",
    "*em* **strong** ***both*** _u_ __uu__ snake_case_word 2*3*4 \\*escaped\\*",
    "Line with two spaces  \nbreak, `code [not a link]` and <span>*html*</span>",
    "Footnote[^1] and [^missing].\n\n[^1]: The *note* with a [link](/n).",
    "Abbr HTML here.\n\n*[HTML]: Hyper Text",
    "# Heading with [link](/h) {: #id }\n\n- item *one*\n- item [two](/2)\n\n> quote & `c`",
    "Term\n:   Definition with **bold** and <b>tag</b>",
    "| a | *b* |\n|---|---|\n| [c](/c) | `d` |",
    "'Quotes' -- \"and\" ... dashes --- [x](/y 'title')",
    "![alt *not em*](/i.png) [![img in link](/j.png)](/k)",
    "[unclosed [nested] link](/u and [empty]() <not-a-tag and 1 < 2 > 0",
]


def html(text: str, *extra: str) -> str:
    md = markdown.Markdown(extensions=[*SITE, *extra], output_format="html5")
    return md.convert(text)


def test_the_site_gets_the_quick_inline_pass():
    md = markdown.Markdown(extensions=[*SITE, "encounter_habit.quick_inline"])
    assert type(md.treeprocessors["inline"]) is QuickInlineProcessor
    plain = markdown.Markdown(extensions=SITE)
    index = md.treeprocessors.get_index_for_name("inline")
    assert index == plain.treeprocessors.get_index_for_name("inline")  # run at the same point


@pytest.mark.parametrize("text", TRICKY)
def test_the_html_is_python_markdowns(text):
    assert html(text, "encounter_habit.quick_inline") == html(text)


def test_random_texts_make_python_markdowns_html():
    pieces = [
        *"[]()!<>&#;*_`\\'\"-.:/@^{} ax1\n",
        "  \n",
        "\n\n",
        "&amp;",
        "http://e.org",
        "- ",
        "> ",
    ]
    same_html_on_random_texts("encounter_habit.quick_inline", SITE, pieces)


def test_the_sites_posts_make_the_same_html():
    same_html_on_the_sites_posts("encounter_habit.quick_inline", SITE)


class Searches:
    """A compiled pattern that counts the texts it is searched in."""

    def __init__(self, pattern: str) -> None:
        self.compiled = re.compile(pattern)
        self.texts: list[str] = []

    def finditer(self, text: str, pos: int = 0):
        self.texts.append(text)
        return self.compiled.finditer(text, pos)

    def __getattr__(self, name: str):
        return getattr(self.compiled, name)


class Shout(Pattern):
    """@@word@@ becomes <b>word</b>."""

    def handleMatch(self, m, data):  # noqa: N802 (Markdown's name)
        element = ElementTree.Element("b")
        element.text = m.group(1)
        return element, m.start(0), m.end(0)


def with_shout(*extensions: str) -> tuple[markdown.Markdown, Searches]:
    md = markdown.Markdown(extensions=list(extensions))
    pattern = Shout(r"@@(\w+)@@", md)
    spy = pattern.compiled_re = Searches(pattern.compiled_re.pattern)
    md.inlinePatterns.register(pattern, "shout", 5)
    return md, spy


def test_a_pattern_is_searched_only_in_text_that_holds_what_it_needs():
    md, spy = with_shout("encounter_habit.quick_inline")
    assert md.convert("No shouting *here*, [nor](/x) here.") == (
        '<p>No shouting <em>here</em>, <a href="/x">nor</a> here.</p>'
    )
    assert spy.texts == []  # a pattern added after the extension was set up is known too
    assert md.reset().convert("Say @@hello@@ *now*") == "<p>Say <b>hello</b> <em>now</em></p>"
    assert spy.texts  # searched where it can match, and matched
    plain, plain_spy = with_shout()
    plain.convert("No shouting *here*, [nor](/x) here.")
    assert plain_spy.texts  # without the extension every text is searched


def test_another_inline_pass_is_left_alone():
    class Other(InlineProcessor):
        pass

    class OtherExtension(markdown.extensions.Extension):
        def extendMarkdown(self, md):  # noqa: N802 (Markdown's name)
            md.treeprocessors.register(Other(md), "inline", 20)

    md = markdown.Markdown(extensions=[OtherExtension(), "encounter_habit.quick_inline"])
    assert type(md.treeprocessors["inline"]) is Other
