"""reused_markdown: one reset Markdown instance reads every post as fresh instances would."""

from __future__ import annotations

import pytest
from pelican.readers import MarkdownReader
from pelican.settings import read_settings

from plugins.reused_markdown.reused_markdown import ReusedMarkdownReader
from tests.conftest import ROOT
from tests.test_incremental import differences

# Each post leaves state in a Markdown instance that the next must not see: footnotes, link
# references, abbreviations, headings for the table of contents, a summary (a formatted field,
# converted after Pelican takes the metadata preprocessor out), raw HTML in the stash.
POSTS = {
    "first": """\
        Title: First
        Date: 2009-09-01 09:00
        Summary: A *formatted* summary with a [reference](https://example.org/s) -- and "quotes".
        Tags: one, two

        # Heading 'one'

        Text with a footnote[^note], an HTML abbreviation and a [reference][ref].

        *[HTML]: Hyper Text Markup Language

        [ref]: https://example.org/first "First"
        [^note]: The first post's note.

        <div class="raw">raw <b>HTML</b></div>
        """,
    "second": """\
        Title: Second
        Date: 2009-09-02 09:00

        # Heading 'one'

        Another footnote[^note], HTML again, and [ref] without its definition.

        [^note]: The second post's note.
        """,
    "third": """\
        Title: Third
        Date: 2009-09-03 09:00
        Summary: Short.

        Just text, and a summary: nothing to carry over.
        """,
}


def test_a_build_with_one_reused_instance_equals_a_build_with_fresh_ones(site):
    for slug, text in POSTS.items():
        site.write(f"posts/{slug}.md", text)
    report = site.build()
    plugins = read_settings(str(ROOT / "pelicanconf.py"))["PLUGINS"]
    assert "reused_markdown" in plugins
    fresh = site.build(
        OUTPUT_PATH=str(site.root / "fresh"),
        CACHE_PATH=str(site.root / "fresh-cache"),
        PLUGINS=[name for name in plugins if name != "reused_markdown"],
    )
    # the same lines too (the footnotes' #fn links are reported as breaking in mail)
    assert fresh.errors == report.errors
    assert differences(site.output, site.root / "fresh") == []
    second = site.page("2009/09/second/index.html")
    assert "The second post&rsquo;s note." in second
    # nothing of the first post carried over: its note, reference, abbreviation
    assert "first post" not in second
    assert "example.org/first" not in second
    assert "<abbr" not in second
    assert "<abbr" in site.page("2009/09/first/index.html")
    assert "<em>formatted</em> summary" in site.page("index.html")


@pytest.mark.parametrize("order", [["first", "second", "third"], ["third", "first", "second"]])
def test_each_post_read_after_another_is_read_as_by_a_fresh_instance(site, order):
    paths = {slug: site.write(f"posts/{slug}.md", text) for slug, text in POSTS.items()}
    settings = read_settings(str(ROOT / "pelicanconf.py"), override=site.settings_overrides())
    reused = ReusedMarkdownReader(settings)
    for slug in order + order:
        expected = MarkdownReader(settings).read(str(paths[slug]))
        assert reused.read(str(paths[slug])) == expected, slug
