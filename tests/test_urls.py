"""Absolute URLs for content that leaves the site."""

from __future__ import annotations

from bs4 import BeautifulSoup

from encounter_habit.urls import make_urls_absolute

BASE = "https://example.com/2009/09/a-post/"


def test_relative_links_and_images_become_absolute():
    html = (
        '<p><a href="../../03/other/">other</a> <a href="/about/">about</a> '
        '<img src="images/cover.png" alt="" srcset="a.png 1x, /b.png 2x"></p>'
    )
    soup = BeautifulSoup(make_urls_absolute(html, BASE), "html.parser")
    assert [a["href"] for a in soup.find_all("a")] == [
        "https://example.com/2009/03/other/",
        "https://example.com/about/",
    ]
    assert soup.img["src"] == "https://example.com/2009/09/a-post/images/cover.png"
    assert (
        soup.img["srcset"]
        == "https://example.com/2009/09/a-post/a.png 1x, https://example.com/b.png 2x"
    )


def test_absolute_fragment_and_mailto_links_are_kept():
    html = '<a href="https://other.org/x">x</a><a href="#c1">c</a><a href="mailto:a@b.c">m</a>'
    soup = BeautifulSoup(make_urls_absolute(html, BASE), "html.parser")
    assert [a["href"] for a in soup.find_all("a")] == ["https://other.org/x", "#c1", "mailto:a@b.c"]


def test_entity_encoded_mailto_links_from_markdown_are_kept():
    import markdown

    html = markdown.markdown("Write to <mailto:steve@example.com> or see [a](?a=1&b=2).")
    soup = BeautifulSoup(make_urls_absolute(html, BASE), "html.parser")
    assert [a["href"] for a in soup.find_all("a")] == [
        "mailto:steve@example.com",
        "https://example.com/2009/09/a-post/?a=1&b=2",
    ]


def test_only_attributes_of_tags_are_rewritten():
    html = (
        '<p title="a > b" class=\'x\'><a title="1 > 0" href="next/">n</a></p>'
        '<pre><code>&lt;a href="raw/"&gt; and src="raw.png"</code></pre>'
    )
    out = make_urls_absolute(html, BASE)
    assert '<a title="1 > 0" href="https://example.com/2009/09/a-post/next/">' in out
    assert '&lt;a href="raw/"&gt; and src="raw.png"' in out  # text, not a tag: left alone
    assert out.startswith("<p title=\"a > b\" class='x'>")
