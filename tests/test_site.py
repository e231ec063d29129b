"""The site itself: every page type renders, URLs are pretty, templates autoescape, meta tags."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest


@pytest.fixture
def small_site(site):
    site.post(
        "make-this-the-week-of-encounter",
        "Make this the Week of Encounter",
        date="2009-09-21 09:14",
        tags="encounters, habits",
        summary="Notice every interaction.",
    )
    site.post(
        "recalibrating",
        "Recalibrating Customer Interactions",
        date="2009-03-31 10:00",
        tags="brand harmony",
    )
    site.write("pages/about.md", "Title: About\nSlug: about\n\nWho writes this.\n")
    site.write(
        "pages/404.md",
        "Title: Page not found\nSlug: 404\nSave_as: 404.html\nURL: 404.html\nStatus: hidden\nTemplate: 404\n\nNothing here.\n",
    )
    report = site.build()
    assert report.errors == []
    return site


EVERY_PAGE = [
    "index.html",
    "2009/09/make-this-the-week-of-encounter/index.html",
    "2009/09/index.html",
    "archives/index.html",
    "tag/encounters/index.html",
    "tags/index.html",
    "author/steve-yastrow/index.html",
    "authors/index.html",
    "about/index.html",
    "404.html",
]


@pytest.mark.parametrize("page", EVERY_PAGE)
def test_every_page_type_has_landmarks_skip_link_and_the_ebook_offer(small_site, page):
    soup = small_site.soup(page)
    assert soup.html["lang"] == "en"
    for landmark in ("header", "nav", "main", "footer"):
        assert soup.find(landmark), f"{page} has no <{landmark}>"
    skip = soup.find("a", class_="skip-link")
    assert skip["href"] == "#main" and soup.find(id="main").name == "main"
    cta = soup.find("aside", class_="cta")
    assert "free when you subscribe" in cta.get_text(" ", strip=True)
    assert cta.find("input", attrs={"type": "email"})["id"] == cta.find("label")["for"]
    assert soup.find("meta", attrs={"name": "description"})["content"].strip()
    assert soup.title.get_text().strip()


def test_post_urls_are_pretty_and_listed_on_the_home_page(small_site):
    home = small_site.soup("index.html")
    links = [a["href"] for a in home.select(".post-card__title a")]
    assert links == ["/2009/09/make-this-the-week-of-encounter/", "/2009/03/recalibrating/"]
    assert (small_site.output / "2009/09/make-this-the-week-of-encounter/index.html").is_file()


def test_home_page_cards_show_title_date_and_summary(small_site):
    card = small_site.soup("index.html").select_one(".post-card")
    assert (
        card.select_one(".post-card__title").get_text(strip=True)
        == "Make this the Week of Encounter"
    )
    assert card.find("time")["datetime"].startswith("2009-09-21T09:14")
    assert (
        card.select_one(".post-card__summary").get_text(strip=True) == "Notice every interaction."
    )


def test_post_page_has_canonical_open_graph_and_tags(small_site):
    soup = small_site.soup("2009/09/make-this-the-week-of-encounter/index.html")
    assert soup.find("link", rel="canonical")["href"] == "/2009/09/make-this-the-week-of-encounter/"
    assert soup.find("meta", property="og:type")["content"] == "article"
    assert (
        soup.find("meta", attrs={"name": "description"})["content"] == "Notice every interaction."
    )
    assert [a.get_text() for a in soup.select(".post__tags a[rel=tag]")] == ["encounters", "habits"]


def test_archives_group_posts_by_month_newest_first(small_site):
    soup = small_site.soup("archives/index.html")
    months = [h.get_text(strip=True) for h in soup.select(".archive-month__title")]
    assert months == ["September 2009", "March 2009"]
    assert soup.select_one(".archive-month__title a")["href"] == "/2009/09/"


def test_current_page_is_marked_in_the_navigation(small_site):
    soup = small_site.soup("archives/index.html")
    current = soup.select('nav[aria-label="Main"] [aria-current="page"]')
    assert [a["href"] for a in current] == ["/archives/"]


def test_sitemap_and_robots_point_at_each_other(small_site):
    tree = ET.parse(small_site.output / "sitemap.xml")
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    entries = {
        url.findtext("s:loc", namespaces=ns): url.findtext("s:lastmod", namespaces=ns)
        for url in tree.getroot().findall("s:url", ns)
    }
    locations = list(entries)
    # lastmod comes from the post, not from the clock, so rebuilds are byte-identical
    assert entries["/2009/09/make-this-the-week-of-encounter/"] == "2009-09-21"
    assert "/archives/" in locations and entries["/archives/"] is None
    assert not any("404" in loc for loc in locations)
    assert "Sitemap: /sitemap.xml" in small_site.page("robots.txt")


def test_a_script_in_a_title_is_shown_as_text(site):
    site.post("hostile", "<script>alert(1)</script> & friends", tags="<b>bold</b>")
    assert site.build().errors == []
    soup = site.soup("2009/09/hostile/index.html")
    assert soup.find("script") is None
    assert soup.find("h1").get_text() == "<script>alert(1)</script> & friends"
    assert "<script>alert(1)</script>" in soup.title.get_text()
    assert site.soup("index.html").find("script") is None


def test_drafts_are_not_listed(site):
    site.post("visible", "Visible")
    site.post("unfinished", "Unfinished", status="draft")
    assert site.build().errors == []
    titles = [a.get_text() for a in site.soup("index.html").select(".post-card__title a")]
    assert titles == ["Visible"]
