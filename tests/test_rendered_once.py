"""rendered_once: a card shown on many listings is rendered once a build, and still tracked."""

from __future__ import annotations

from types import SimpleNamespace

import jinja2
import pytest

from encounter_habit import incremental
from plugins.rendered_once.rendered_once import once

TEMPLATE = """\
{%- macro card(post) -%}<b>{{ post.title }}{{ count(post) }}</b>{%- endmacro -%}
{{ once(card, first) }}|{{ once(card, first) }}|{{ once(card, second) }}|{{ once(card, first) }}"""


@pytest.fixture
def memo():
    memo = incremental.NullMemo()
    incremental.activate(memo)
    yield memo
    incremental.activate(None)


def environment(rendered: list[str]) -> jinja2.Environment:
    env = jinja2.Environment(autoescape=True)
    env.globals["once"] = once

    def count(post):  # what the macro's every render leaves behind
        rendered.append(post.title)
        incremental.active().read_body(post)  # as reading post.summary does
        return ""

    env.globals["count"] = count
    return env


@pytest.fixture
def listing(memo):
    """A page template listing two posts' cards, the posts, and the titles of the cards drawn."""
    rendered: list[str] = []
    first = SimpleNamespace(title="First", source_path="posts/first.md")
    second = SimpleNamespace(title="Second <2>", source_path="posts/second.md")
    template = environment(rendered).from_string(TEMPLATE)
    return SimpleNamespace(
        rendered=rendered,
        render=lambda siteurl="": template.render(first=first, second=second, SITEURL=siteurl),
    )


def test_the_same_arguments_render_once_and_give_the_same_html(listing):
    html = listing.render()
    assert html == "<b>First</b>|<b>First</b>|<b>Second &lt;2&gt;</b>|<b>First</b>"
    assert listing.rendered == ["First", "Second <2>"]
    # Another page of the same build: nothing rendered again...
    assert listing.render() == html
    assert listing.rendered == ["First", "Second <2>"]
    # ...unless SITEURL differs (relative URLs depend on the page's depth)
    listing.render("..")
    assert listing.rendered == ["First", "Second <2>"] * 2


def test_a_new_build_renders_afresh(listing):
    listing.render()
    incremental.activate(incremental.NullMemo())  # the next build (or live rebuild)
    listing.render()
    assert listing.rendered == ["First", "Second <2>"] * 2


def test_each_page_is_told_what_its_cards_read(listing, memo):
    for _ in range(2):  # the second page only reuses the cards: it must read the same
        memo.reading, memo.reading_comments = set(), set()
        listing.render()
        assert memo.reading == {"posts/first.md", "posts/second.md"}
    memo.reading = memo.reading_comments = None  # a page nobody tracks
    listing.render()
    assert memo.reading is None


def test_a_changed_summary_shows_on_every_listing_after_an_incremental_build(site):
    site.post("one", body="The first version of the summary.", tags="shared")
    site.post("two", date="2009-09-22 09:00", body="Another post.", tags="shared")
    site.build()
    for page in ("index.html", "tag/shared/index.html"):
        assert "The first version of the summary." in site.page(page)
    site.post("one", body="The second version of the summary.", tags="shared")
    report = site.build()
    assert report.errors == []
    for page in ("index.html", "tag/shared/index.html", "author/steve-yastrow/index.html"):
        text = site.page(page)
        assert "The second version of the summary." in text, page
        assert "The first version" not in text, page
