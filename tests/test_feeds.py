"""The feeds plugin: RSS, Atom and JSON Feed checked the way the W3C validator and readers would."""

from __future__ import annotations

import json
import locale
import re
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import feedparser
import pytest
from bs4 import BeautifulSoup
from feedgen.feed import FeedGenerator
from lxml import etree
from pelican.settings import read_settings

ROOT = Path(__file__).resolve().parent.parent
BASE_PLUGINS = read_settings(str(ROOT / "pelicanconf.py"))["PLUGINS"]
# The newsletter is not this feature's: it stays out of these builds, which are quicker without it.
PLUGINS = [
    *dict.fromkeys(
        [*(p for p in BASE_PLUGINS if p != "newsletter_email"), "comments", "weekof", "feeds"]
    )
]
HOME = "https://theencounterhabit.com/"
NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "slash": "http://purl.org/rss/1.0/modules/slash/",
    "wfw": "http://wellformedweb.org/CommentAPI/",
    "thr": "http://purl.org/syndication/thread/1.0",
}
RFC_822 = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$"
)
RFC_3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)$")
URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")
HOSTILE = '<script>alert("x")</script><img src=x onerror="alert(1)"> [link](javascript:alert(1))'


def feed_errors(report) -> list[str]:
    """This plugin's error lines. Pelican's signals keep the receivers of every plugin an earlier
    test of the session loaded, so other plugins may report on the same tree: not our concern."""
    return [line for line in report.errors if line.startswith("feeds:")]


def rss(site, path: str = "feeds/rss.xml") -> etree._Element:
    return etree.parse(str(site.output / path)).getroot()


def atom(site, path: str = "feeds/atom.xml") -> etree._Element:
    return etree.parse(str(site.output / path)).getroot()


def rss_titles(root: etree._Element) -> list[str]:
    return [t.text for t in root.iterfind("channel/item/title")]


def atom_titles(root: etree._Element) -> list[str]:
    return [t.text for t in root.iterfind("atom:entry/atom:title", NS)]


def is_absolute(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


def comment(site, post: str, name: str, author: str, date: str, body: str, **header: str) -> None:
    lines = [f"Author: {author}", f"Date: {date}"]
    lines += [f"{key.replace('_', '-').title()}: {value}" for key, value in header.items()]
    site.write(f"comments/{post}/{name}.md", "\n".join(lines) + "\n\n" + body + "\n")


@pytest.fixture
def blog(site):
    """Three published posts (a week, a series part, tags), a draft, a future post, comments."""
    site.write("pages/about.md", "Title: About\n\nAbout us.\n")
    site.post(
        "first",
        "First & Foremost",
        "2009-09-21 09:00",
        body=(
            "Opening paragraph of the first post.\n\n"
            "See [about](/about/), [a sibling](../../10/third/) and ![a picture](pic.png).\n\n"
            "A footnote[^1].\n\n<script>alert('post')</script>\n\n"
            "Closing paragraph of the first post.\n\n[^1]: The note."
        ),
        tags="encounters, habits",
        author="Steve Yastrow",
    )
    site.post(
        "second",
        "Make this the Week of Encounter",
        "2009-09-28 09:00",
        tags="encounters",
        week="Encounter",
    )
    site.post("third", "Habits, part one", "2009-10-05 09:00", series="Habits", series_part="1")
    site.post("unfinished", "A draft", "2009-10-06 09:00", status="draft", tags="encounters")
    site.post("tomorrow", "From the future", "2999-01-01 09:00", tags="encounters")
    comment(site, "first", "c1", "Amanda Cullen", "2009-09-21T10:00:00", "First comment.")
    comment(site, "first", "c2", "Steve Yastrow", "2009-09-22T10:00:00", "A reply.", reply_to="c1")
    comment(site, "first", "c3", "Mallory", "2009-09-23T10:00:00", HOSTILE)
    comment(site, "first", "p1", "Some blog", "2009-09-24T10:00:00", "Mention.", type="pingback")
    return site


@pytest.fixture
def built(blog):
    report = blog.build(PLUGINS=PLUGINS)
    assert feed_errors(report) == []
    return blog


# -- order, content, drafts ---------------------------------------------------------------------


def test_main_feeds_list_published_posts_newest_first_without_drafts_or_future(built) -> None:
    expected = ["Habits, part one", "Make this the Week of Encounter", "First & Foremost"]
    assert rss_titles(rss(built)) == expected
    assert atom_titles(atom(built)) == expected
    data = json.loads((built.output / "feeds/feed.json").read_text())
    assert [item["title"] for item in data["items"]] == expected


def test_feedparser_reads_every_main_feed_cleanly_in_the_same_order(built) -> None:
    for path in ("feeds/rss.xml", "feeds/atom.xml"):
        parsed = feedparser.parse((built.output / path).read_bytes())
        assert parsed.bozo == 0, (path, parsed.get("bozo_exception"))
        assert [e.title for e in parsed.entries][0] == "Habits, part one"
        first = parsed.entries[-1]
        assert first.link == f"{HOME}2009/09/first/"
        assert [t.term for t in first.tags] == ["encounters", "habits"]
        assert first.author == "Steve Yastrow"


def test_items_carry_the_full_sanitised_content_and_a_summary(built) -> None:
    item = rss(built).find("channel/item[title='First & Foremost']")
    body = BeautifulSoup(item.findtext("content:encoded", namespaces=NS), "html.parser")
    paragraphs = [p.get_text() for p in body.find_all("p")]
    assert "Opening paragraph of the first post." in paragraphs
    assert "Closing paragraph of the first post." in paragraphs
    assert body.find("script") is None
    summary = BeautifulSoup(item.findtext("description"), "html.parser").get_text()
    assert "Opening paragraph" in summary and "Closing paragraph" not in summary
    entry = atom(built).find("atom:entry[atom:title='First & Foremost']", NS)
    assert entry.find("atom:content", NS).get("type") == "html"
    assert entry.find("atom:summary", NS).get("type") == "html"
    assert "Closing paragraph" in entry.findtext("atom:content", namespaces=NS)


def test_urls_inside_feed_content_are_absolute(built) -> None:
    item = rss(built).find("channel/item[title='First & Foremost']")
    body = BeautifulSoup(item.findtext("content:encoded", namespaces=NS), "html.parser")
    urls = [a["href"] for a in body.find_all("a")] + [img["src"] for img in body.find_all("img")]
    assert urls and all(is_absolute(url) for url in urls), urls
    assert f"{HOME}about/" in urls
    assert f"{HOME}2009/10/third/" in urls
    assert f"{HOME}2009/09/first/pic.png" in urls
    assert any(url.startswith(f"{HOME}2009/09/first/#fn") for url in urls)


def test_pelican_own_feeds_are_not_written(built) -> None:
    assert not (built.output / "feeds/all.atom.xml").exists()
    assert sorted(p.name for p in (built.output / "feeds").iterdir() if p.is_file()) == [
        "atom.xml",
        "feed.json",
        "rss.xml",
    ]


# -- RSS validity -------------------------------------------------------------------------------


def test_rss_channel_link_is_the_home_page_and_self_link_is_the_feed(built) -> None:
    channel = rss(built).find("channel")
    assert channel.findtext("link") == HOME
    selves = channel.findall("atom:link[@rel='self']", NS)
    assert len(selves) == 1
    assert selves[0].get("href") == f"{HOME}feeds/rss.xml"
    assert selves[0].get("type") == "application/rss+xml"
    tag_channel = rss(built, "feeds/tag/encounters/rss.xml").find("channel")
    assert tag_channel.findtext("link") == f"{HOME}tag/encounters/"
    assert tag_channel.find("atom:link[@rel='self']", NS).get("href") == (
        f"{HOME}feeds/tag/encounters/rss.xml"
    )


def test_rss_guids_are_unique_tag_uris_that_are_not_permalinks(built) -> None:
    guids = rss(built).findall("channel/item/guid")
    assert len({g.text for g in guids}) == len(guids) == 3
    for guid in guids:
        assert guid.get("isPermaLink") == "false"
        assert guid.text.startswith("tag:theencounterhabit.com,2009:")


def test_rss_dates_are_rfc_822(built) -> None:
    channel = rss(built).find("channel")
    dates = [channel.findtext("lastBuildDate")] + [d.text for d in channel.iterfind("item/pubDate")]
    for date in dates:
        assert RFC_822.match(date), date
        assert parsedate_to_datetime(date).tzinfo is not None


def test_rss_dates_are_written_as_feedgen_would_without_switching_the_locale(monkeypatch) -> None:
    """feedgen's formatter switches the whole process's locale for every date; the plugin's
    writes the same text and never calls setlocale."""
    import feedgen.entry
    import feedgen.feed
    from feedgen.util import formatRFC2822
    from feeds.feeds import use_locale_free_dates

    zones = [UTC, timezone(timedelta(hours=5, minutes=30)), ZoneInfo("America/Chicago")]
    dates = [datetime(2014, 1, 7, 2, 27, tzinfo=zone) for zone in zones]
    dates.append(datetime(2009, 7, 31, 23, 59, 59, tzinfo=ZoneInfo("America/Chicago")))
    expected = [formatRFC2822(date) for date in dates]
    for module in (feedgen.entry, feedgen.feed):  # undone after the test
        monkeypatch.setattr(module, "formatRFC2822", module.formatRFC2822)
    use_locale_free_dates()

    def no_locale_switch(*args):
        raise AssertionError(f"setlocale{args} called")

    monkeypatch.setattr(locale, "setlocale", no_locale_switch)
    feed = FeedGenerator()
    feed.title("Dates")
    feed.link(href=HOME)
    feed.description("Dates")
    feed.lastBuildDate(dates[-1])
    for number, date in enumerate(dates):
        entry = feed.add_entry(order="append")
        entry.title(f"Item {number}")
        entry.guid(f"tag:example.com,2009:{number}")
        entry.pubDate(date)
    channel = etree.fromstring(feed.rss_str()).find("channel")
    assert [d.text for d in channel.iterfind("item/pubDate")] == expected
    assert channel.findtext("lastBuildDate") == expected[-1] == "Fri, 31 Jul 2009 23:59:59 -0500"


def test_rss_items_have_author_categories_comment_count_and_comment_feed(built) -> None:
    item = rss(built).find("channel/item[title='First & Foremost']")
    assert item.findtext("dc:creator", namespaces=NS) == "Steve Yastrow"
    assert item.find("author") is None  # RSS <author> must be an email address
    assert [c.text for c in item.findall("category")] == ["encounters", "habits"]
    assert item.findtext("comments") == f"{HOME}2009/09/first/#comments"
    assert item.findtext("slash:comments", namespaces=NS) == "3"  # the pingback is no comment
    assert item.findtext("wfw:commentRss", namespaces=NS) == f"{HOME}feeds/comments/first/rss.xml"
    quiet = rss(built).find("channel/item[title='Habits, part one']")
    assert quiet.findtext("slash:comments", namespaces=NS) == "0"
    assert quiet.find("wfw:commentRss", NS) is None


# -- Atom validity ------------------------------------------------------------------------------


def test_atom_entries_keep_one_typed_alternate_link_despite_feedgen_issue_135(built) -> None:
    for entry in atom(built).iterfind("atom:entry", NS):
        links = entry.findall("atom:link", NS)
        assert all(link.get("rel") for link in links), "a link lost its rel"
        alternates = [link for link in links if link.get("rel") == "alternate"]
        assert len(alternates) == 1
        assert alternates[0].get("type") == "text/html"
        assert is_absolute(alternates[0].get("href"))


def test_atom_replies_links_carry_the_thread_count(built) -> None:
    entry = atom(built).find("atom:entry[atom:title='First & Foremost']", NS)
    replies = entry.findall("atom:link[@rel='replies']", NS)
    assert {link.get("type") for link in replies} == {"application/atom+xml", "text/html"}
    assert {link.get(f"{{{NS['thr']}}}count") for link in replies} == {"3"}


def test_atom_feed_has_id_updated_author_and_self_link(built) -> None:
    root = atom(built)
    assert URI.match(root.findtext("atom:id", namespaces=NS))
    assert RFC_3339.match(root.findtext("atom:updated", namespaces=NS))
    assert root.findtext("atom:author/atom:name", namespaces=NS) == "Steve Yastrow"
    assert root.find("atom:link[@rel='self']", NS).get("href") == f"{HOME}feeds/atom.xml"
    assert root.find("atom:link[@rel='self']", NS).get("type") == "application/atom+xml"
    feed_alternates = root.findall("atom:link[@rel='alternate']", NS)
    assert [link.get("href") for link in feed_alternates] == [HOME]
    for entry in root.iterfind("atom:entry", NS):
        assert URI.match(entry.findtext("atom:id", namespaces=NS))
        assert RFC_3339.match(entry.findtext("atom:updated", namespaces=NS))
        assert RFC_3339.match(entry.findtext("atom:published", namespaces=NS))


def test_atom_content_types_are_valid_never_cdata(built) -> None:
    for path in ("feeds/atom.xml", "feeds/comments/first/atom.xml"):
        for element in atom(built, path).iterfind(".//atom:content", NS):
            assert element.get("type") in ("text", "html", "xhtml")
    assert b"CDATA" not in (built.output / "feeds/atom.xml").read_bytes()


# -- JSON Feed ----------------------------------------------------------------------------------


def test_json_feed_has_the_required_fields_of_version_1_1(built) -> None:
    data = json.loads((built.output / "feeds/feed.json").read_text())
    assert data["version"] == "https://jsonfeed.org/version/1.1"
    assert data["title"] == "The Encounter Habit"
    assert data["home_page_url"] == HOME
    assert data["feed_url"] == f"{HOME}feeds/feed.json"
    for item in data["items"]:
        assert isinstance(item["id"], str) and item["id"]
        assert item["content_html"]
        assert is_absolute(item["url"])
        assert RFC_3339.match(item["date_published"])
    first = data["items"][-1]
    assert first["tags"] == ["encounters", "habits"]
    assert first["_encounter_habit"]["comment_count"] == 3
    assert first["summary"] == "Opening paragraph of the first post."


# -- ids ----------------------------------------------------------------------------------------


def ids_of(site) -> dict[str, str]:
    return {
        e.findtext("atom:title", namespaces=NS): e.findtext("atom:id", namespaces=NS)
        for e in atom(site).iterfind("atom:entry", NS)
    }


def test_ids_stay_the_same_across_rebuilds_and_url_setting_changes(blog) -> None:
    blog.build(PLUGINS=PLUGINS)
    before = ids_of(blog)
    guids_before = [g.text for g in rss(blog).iterfind("channel/item/guid")]
    blog.build(
        PLUGINS=PLUGINS,
        ARTICLE_URL="posts/{slug}.html",
        ARTICLE_SAVE_AS="posts/{slug}.html",
        SITEURL="https://example.org/blog",
    )
    assert ids_of(blog) == before
    assert [g.text for g in rss(blog).iterfind("channel/item/guid")] == guids_before
    assert rss(blog).find("channel/item/link").text.startswith("https://example.org/blog/posts/")


def test_feed_id_metadata_keeps_an_old_id_and_a_bad_one_is_reported(site) -> None:
    site.post("kept", "Kept", "2009-09-21 09:00", feed_id="tag:yastrow.com,2009:kept")
    site.post("broken", "Broken", "2009-09-22 09:00", feed_id="not a uri")
    report = site.build(PLUGINS=PLUGINS)
    ids = ids_of(site)
    assert ids["Kept"] == "tag:yastrow.com,2009:kept"
    assert ids["Broken"] == "tag:theencounterhabit.com,2009:post/2009-09-22/broken"
    assert len(feed_errors(report)) == 1
    assert feed_errors(report)[0].startswith(
        "feeds: posts/broken.md: Feed-Id 'not a uri' is not a URI"
    )


# -- tag, series, week and comment feeds --------------------------------------------------------


def test_a_feed_per_tag_lists_its_published_posts(built) -> None:
    assert rss_titles(rss(built, "feeds/tag/encounters/rss.xml")) == [
        "Make this the Week of Encounter",
        "First & Foremost",
    ]
    assert atom_titles(atom(built, "feeds/tag/habits/atom.xml")) == ["First & Foremost"]


def test_a_feed_per_series_and_one_for_the_week_of_series(built) -> None:
    assert rss_titles(rss(built, "feeds/series/habits/rss.xml")) == ["Habits, part one"]
    assert rss_titles(rss(built, "feeds/series/week-of/rss.xml")) == [
        "Make this the Week of Encounter"
    ]


def test_comment_feed_lists_comments_newest_first_threaded_without_pingbacks(built) -> None:
    root = atom(built, "feeds/comments/first/atom.xml")
    entries = root.findall("atom:entry", NS)
    authors = [e.findtext("atom:author/atom:name", namespaces=NS) for e in entries]
    assert authors == ["Mallory", "Steve Yastrow", "Amanda Cullen"]
    ids = {e.findtext("atom:author/atom:name", namespaces=NS): e for e in entries}
    reply_to = ids["Steve Yastrow"].find("thr:in-reply-to", NS)
    assert reply_to.get("ref") == ids["Amanda Cullen"].findtext("atom:id", namespaces=NS)
    post_id = ids_of(built)["First & Foremost"]
    assert ids["Amanda Cullen"].find("thr:in-reply-to", NS).get("ref") == post_id
    link = ids["Amanda Cullen"].find("atom:link[@rel='alternate']", NS).get("href")
    assert link == f"{HOME}2009/09/first/#c1"
    assert len(rss(built, "feeds/comments/first/rss.xml").findall("channel/item")) == 3
    assert not (built.output / "feeds/comments/second").exists()  # no comments, no feed


def test_hostile_comment_text_is_inert_in_comment_feeds(built) -> None:
    for html in [
        atom(built, "feeds/comments/first/atom.xml").findtext(
            "atom:entry/atom:content", namespaces=NS
        ),
        rss(built, "feeds/comments/first/rss.xml").findtext("channel/item/description"),
    ]:
        fragment = BeautifulSoup(html, "html.parser")
        assert fragment.find("script") is None
        for element in fragment.find_all(True):
            assert not any(name.startswith("on") for name in element.attrs), element
            assert not element.get("href", "").lower().startswith("javascript:")


# -- settings -----------------------------------------------------------------------------------


def test_item_limits_and_switches_come_from_the_settings(blog) -> None:
    report = blog.build(
        PLUGINS=PLUGINS,
        FEEDS={"main": {"limit": 2, "json": ""}, "tags": {"enabled": False}},
    )
    assert feed_errors(report) == []
    assert rss_titles(rss(blog)) == ["Habits, part one", "Make this the Week of Encounter"]
    assert not (blog.output / "feeds/feed.json").exists()
    assert not (blog.output / "feeds/tag").exists()


def test_bad_settings_are_one_line_each_and_the_defaults_still_build(blog) -> None:
    report = blog.build(PLUGINS=PLUGINS, FEEDS={"main": {"limit": -1}, "site_url": "example.org"})
    assert feed_errors(report) == [
        "feeds: FEEDS['site_url'] must be an absolute http(s) URL, got 'example.org'; "
        "using 'https://theencounterhabit.com'",
        "feeds: FEEDS['main']['limit'] must be a positive number or None, got -1",
    ]
    assert len(rss_titles(rss(blog))) == 3


def test_feeds_work_without_the_series_and_ebook_plugins(blog) -> None:
    # In a fresh process: Pelican's signals keep the receivers of plugins loaded by earlier
    # builds of this test session, so leaving a plugin out only counts in a new interpreter.
    plugins = [name for name in PLUGINS if name not in ("weekof", "ebook")]
    script = (
        "import sys; from encounter_habit.build import build_site; "
        f"r = build_site({str(ROOT / 'pelicanconf.py')!r}, "
        f"{blog.settings_overrides(PLUGINS=plugins)!r}); "
        "print(len(r.errors)); sys.exit(1 if r.errors else 0)"
    )
    blog.content.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(rss_titles(rss(blog))) == 3
    assert (blog.output / "feeds/tag/encounters/rss.xml").is_file()
    assert not (blog.output / "feeds/series").exists()


# -- <head> links -------------------------------------------------------------------------------


def alternates(site, page: str) -> list[tuple[str, str]]:
    links = site.soup(page).head.find_all("link", rel="alternate")
    return [(link["type"], link["href"]) for link in links]


def test_home_page_advertises_the_main_feeds(built) -> None:
    assert alternates(built, "index.html") == [
        ("application/rss+xml", f"{HOME}feeds/rss.xml"),
        ("application/atom+xml", f"{HOME}feeds/atom.xml"),
        ("application/feed+json", f"{HOME}feeds/feed.json"),
    ]


def test_a_post_advertises_the_main_feeds_then_its_series_and_comment_feeds(built) -> None:
    hrefs = [href for _type, href in alternates(built, "2009/09/first/index.html")]
    assert hrefs[0] == f"{HOME}feeds/rss.xml"
    assert f"{HOME}feeds/comments/first/rss.xml" in hrefs
    week_post = [href for _type, href in alternates(built, "2009/09/second/index.html")]
    assert f"{HOME}feeds/series/week-of/rss.xml" in week_post
    assert not any("/comments/" in href for href in week_post)


def test_a_tag_page_advertises_its_own_feed_first(built) -> None:
    hrefs = [href for _type, href in alternates(built, "tag/encounters/index.html")]
    assert hrefs[:2] == [
        f"{HOME}feeds/tag/encounters/rss.xml",
        f"{HOME}feeds/tag/encounters/atom.xml",
    ]
    assert f"{HOME}feeds/rss.xml" in hrefs


# -- the ebook ----------------------------------------------------------------------------------


def test_the_ebook_is_an_item_whose_enclosure_is_the_epub_with_its_real_size(blog) -> None:
    blog.write(
        "ebook/01-encounters.md",
        "Title: What is an encounter\nChapter: 1\nRef: encounters\nDate: 2009-09-25\n\nText.\n",
    )
    report = blog.build(PLUGINS=[*PLUGINS, "ebook"])
    assert feed_errors(report) == []
    size = (blog.output / "ebook/encounters.epub").stat().st_size
    url = f"{HOME}ebook/encounters.epub"
    item = rss(blog).find("channel/item[enclosure]")
    enclosure = item.find("enclosure")
    assert enclosure.get("url") == url
    assert enclosure.get("length") == str(size)
    assert enclosure.get("type") == "application/epub+zip"
    # placed by the ebook's date, between the posts around it
    assert rss_titles(rss(blog))[2].startswith("Free ebook: Encounters")
    (entry,) = atom(blog).xpath("atom:entry[atom:link/@rel='enclosure']", namespaces=NS)
    link = entry.find("atom:link[@rel='enclosure']", NS)
    assert (link.get("href"), link.get("length"), link.get("type")) == (
        url,
        str(size),
        "application/epub+zip",
    )
    assert len(entry.findall("atom:link[@rel='alternate']", NS)) == 1
    data = json.loads((blog.output / "feeds/feed.json").read_text())
    attachment = next(i for i in data["items"] if "attachments" in i)["attachments"][0]
    assert attachment["size_in_bytes"] == size and isinstance(attachment["size_in_bytes"], int)
    parsed = feedparser.parse((blog.output / "feeds/atom.xml").read_bytes())
    assert parsed.bozo == 0
    assert [e for e in parsed.entries if e.enclosures][0].enclosures[0].length == str(size)


# -- every feed file, as the validator would see it ---------------------------------------------


def check_rss(root: etree._Element, url: str, home: str) -> None:
    """The W3C validator's RSS 2.0 rules this project relies on."""
    assert root.tag == "rss" and root.get("version") == "2.0"
    channel = root.find("channel")
    assert channel.findtext("title") and channel.findtext("description")
    assert channel.findtext("link") == home
    (self_link,) = channel.findall("atom:link[@rel='self']", NS)
    assert (self_link.get("href"), self_link.get("type")) == (url, "application/rss+xml")
    guids = [item.findtext("guid") for item in channel.iterfind("item")]
    assert len(set(guids)) == len(guids) and all(guids)
    for item in channel.iterfind("item"):
        assert item.findtext("title") and is_absolute(item.findtext("link"))
        assert item.find("guid").get("isPermaLink") == "false" and URI.match(item.findtext("guid"))
        assert RFC_822.match(item.findtext("pubDate"))
        for enclosure in item.iterfind("enclosure"):
            assert enclosure.get("length").isdigit() and is_absolute(enclosure.get("url"))


def check_atom(root: etree._Element, url: str, home: str) -> None:
    """The W3C validator's Atom (RFC 4287) rules this project relies on."""
    assert root.tag == f"{{{NS['atom']}}}feed"
    assert URI.match(root.findtext("atom:id", namespaces=NS))
    assert RFC_3339.match(root.findtext("atom:updated", namespaces=NS))
    assert root.findtext("atom:author/atom:name", namespaces=NS)
    (self_link,) = root.findall("atom:link[@rel='self']", NS)
    assert (self_link.get("href"), self_link.get("type")) == (url, "application/atom+xml")
    assert [link.get("href") for link in root.findall("atom:link[@rel='alternate']", NS)] == [home]
    ids = [entry.findtext("atom:id", namespaces=NS) for entry in root.iterfind("atom:entry", NS)]
    assert len(set(ids)) == len(ids) and all(URI.match(i) for i in ids)
    for entry in root.iterfind("atom:entry", NS):
        assert RFC_3339.match(entry.findtext("atom:updated", namespaces=NS))
        links = entry.findall("atom:link", NS)
        assert all(link.get("rel") for link in links)
        kinds = [(link.get("rel"), link.get("type")) for link in links]
        assert len(kinds) == len(set(kinds)), kinds  # no duplicate alternates (or others)
        assert [rel for rel, _type in kinds].count("alternate") == 1
        assert entry.find("atom:content", NS).get("type") == "html"


def test_every_feed_file_follows_the_validator_rules(blog) -> None:
    blog.write(
        "ebook/01-encounters.md",
        "Title: What is an encounter\nChapter: 1\nRef: encounters\nDate: 2009-09-25\n\nText.\n",
    )
    assert feed_errors(blog.build(PLUGINS=[*PLUGINS, "ebook"])) == []
    feeds = blog.output / "feeds"
    checked = 0
    for path in sorted(feeds.rglob("*.xml")):
        relative = path.relative_to(blog.output).as_posix()
        root = etree.parse(str(path)).getroot()
        home = root.findtext("channel/link") if root.tag == "rss" else None
        home = home or root.find("atom:link[@rel='alternate']", NS).get("href")
        assert is_absolute(home), relative
        check = check_rss if root.tag == "rss" else check_atom
        check(root, f"{HOME}{relative}", home)
        assert feedparser.parse(path.read_bytes()).bozo == 0, relative
        checked += 1
    # main (2), 2 tags, the Week of and one series, one post's comments: two formats each
    assert checked == 12


def test_every_page_footer_offers_the_main_feed(built) -> None:
    for page in ("index.html", "2009/09/first/index.html", "about/index.html"):
        link = (
            built.soup(page)
            .find("footer", class_="site-footer")
            .find("a", string="Subscribe by feed")
        )
        assert link["href"] == f"{HOME}feeds/rss.xml"


# -- written beside the pages -------------------------------------------------------------------


def test_the_feeds_are_written_by_the_second_process_with_the_same_bytes(blog, tmp_path) -> None:
    """parallel_output writes the feeds in a forked process while this one renders the pages
    (given a core for each child: on two, this process writes them after its pages). The forked
    build runs in a fresh interpreter: the build only forks when no other thread runs, and an
    earlier browser test of the session leaves Playwright's threads running in this one."""
    assert "parallel_output" in PLUGINS
    blog.build(
        PLUGINS=PLUGINS,
        OUTPUT_PATH=str(tmp_path / "one"),
        CACHE_PATH=str(tmp_path / "c1"),
        PARALLEL_OUTPUT=False,
    )
    writers = tmp_path / "writers"
    overrides = blog.settings_overrides(
        PLUGINS=PLUGINS, OUTPUT_PATH=str(tmp_path / "two"), CACHE_PATH=str(tmp_path / "c2")
    )
    script = textwrap.dedent(
        f"""
        import os, sys
        sys.path.insert(0, {str(ROOT / "plugins")!r})
        os.cpu_count = lambda: 4
        from feeds.feeds import FeedsGenerator
        from encounter_habit.build import build_site
        original = FeedsGenerator.generate_output
        def noting_pid(self, writer):
            with open({str(writers)!r}, "a") as handle:
                handle.write(f"{{os.getpid()}}\\n")
            return original(self, writer)
        FeedsGenerator.generate_output = noting_pid
        report = build_site({str(ROOT / "pelicanconf.py")!r}, {overrides!r})
        print(os.getpid(), [line for line in report.errors if line.startswith("feeds:")])
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    pid, errors = done.stdout.strip().splitlines()[-1].split(" ", 1)
    assert errors == "[]"
    assert [int(line) for line in writers.read_text().split()] != [int(pid)]
    one, two = (sorted((tmp_path / name / "feeds").rglob("*.*")) for name in ("one", "two"))
    assert [p.relative_to(tmp_path / "two") for p in two] == [
        p.relative_to(tmp_path / "one") for p in one
    ]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(one, two, strict=True))
