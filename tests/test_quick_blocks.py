"""encounter_habit.quick_blocks: Python-Markdown's HTML, without asking processors that refuse."""

from __future__ import annotations

import markdown
import pytest
from markdown.blockparser import BlockParser
from markdown.blockprocessors import BlockQuoteProcessor

from encounter_habit.quick_blocks import QuickBlockParser, needed_by
from tests.markdown_equivalence import same_html_on_random_texts, same_html_on_the_sites_posts

# The site's extensions (pelicanconf MARKDOWN) but this one.
SITE = [
    "markdown.extensions.extra",
    "markdown.extensions.meta",
    "markdown.extensions.toc",
    "encounter_habit.smarty",
    "encounter_habit.backticks",
    "encounter_habit.quick_inline",
]
TRICKY = [
    "# Heading\n\nText.\n\nSetext\n======\n\nAnother\n-------\n\n### Closed ###",
    "- one\n- two\n    - nested\n\n1. first\n2. second\n\n* star\n+ plus",
    "> quote\n> > nested\n\n>not quote? > yes",
    "***\n\n- - -\n\n___\n\ntext --- not a rule\n\n* * *",
    "| a | b |\n|---|:-:|\n| c | d |\n\n| one |\n| --- |\n| cell |\n\na | b\n--|--\nc | d",
    "Term\n:   Definition\n\nOther term\n: other definition",
    "Text[^1].\n\n[^1]: The note.\n    More of it.\n\n*[HTML]: Hyper Text\n\nHTML here.",
    '[ref]: http://example.org "Title"\n\nUse [ref] and [x][ref].\n\n[not: a ref',
    "    code block\n    # not a heading\n\n```\nfenced > not quote\n```",
    '<div markdown="1">\n# In HTML\n\n- item\n</div>\n\n<p>raw | html</p>',
    "Para with # hash and > angle and : colon and 1. numbers\nand a second line\n===",
]


def html(text: str, *extra: str) -> str:
    return markdown.Markdown(extensions=[*SITE, *extra], output_format="html5").convert(text)


def test_the_site_gets_the_quick_block_parser():
    md = markdown.Markdown(extensions=[*SITE, "encounter_habit.quick_blocks"])
    assert type(md.parser) is QuickBlockParser
    plain = markdown.Markdown(extensions=SITE)  # the same processors, in the same order
    assert [type(p) for p in md.parser.blockprocessors] == [
        type(p) for p in plain.parser.blockprocessors
    ]


def test_what_the_processors_need():
    md = markdown.Markdown(extensions=[*SITE, "encounter_habit.quick_blocks"])
    needs = {type(p).__name__: needed_by(p) for p in md.parser.blockprocessors}
    assert needs["HashHeaderProcessor"] == ("#",)
    assert needs["BlockQuoteProcessor"] == (">",)
    assert needs["TableProcessor"] == ("|",)
    assert needs["FootnoteBlockProcessor"] == ("[^",)
    assert needs["HRProcessor"] == ("-", "_", "*")
    assert needs["ParagraphProcessor"] is None  # takes whatever is left
    assert needs["CodeBlockProcessor"] is None  # not a search: always asked


@pytest.mark.parametrize("text", TRICKY)
def test_the_html_is_python_markdowns(text):
    assert html(text, "encounter_habit.quick_blocks") == html(text)


def test_random_texts_make_python_markdowns_html():
    pieces = [
        *"#>|:-_*+=[]^ ax1.\n",
        "\n\n",
        "    ",
        "  ",
        "1. ",
        "- ",
        "> ",
        "# ",
        "| ",
        "---",
        "[^1]: ",
        "[r]: /u",
        "*[a]: b",
        ": ",
        "```",
    ]
    same_html_on_random_texts("encounter_habit.quick_blocks", SITE, pieces)


def test_the_sites_posts_make_the_same_html():
    same_html_on_the_sites_posts("encounter_habit.quick_blocks", SITE)


def test_a_processor_is_asked_only_about_blocks_holding_what_it_needs(monkeypatch):
    asked: list[str] = []
    test = BlockQuoteProcessor.test

    def spy(self, parent, block):
        asked.append(block)
        return test(self, parent, block)

    monkeypatch.setattr(BlockQuoteProcessor, "test", spy)
    md = markdown.Markdown(extensions=["encounter_habit.quick_blocks"])
    assert md.convert("One.\n\nTwo.\n\n> Three.") == (
        "<p>One.</p>\n<p>Two.</p>\n<blockquote>\n<p>Three.</p>\n</blockquote>"
    )
    assert asked == ["> Three."]  # not the blocks without ">", outside the quote or in it
    asked.clear()
    markdown.Markdown().convert("One.\n\nTwo.")
    assert asked == ["One.", "Two."]  # without the extension it is asked about every block


def test_a_parser_of_another_kind_is_left_alone():
    class Other(BlockParser):
        pass

    class OtherExtension(markdown.extensions.Extension):
        def extendMarkdown(self, md):  # noqa: N802 (Markdown's name)
            md.parser.__class__ = Other

    md = markdown.Markdown(extensions=[OtherExtension(), "encounter_habit.quick_blocks"])
    assert type(md.parser) is Other
