"""The EPUB 3 file of the ebook, written with ebooklib from the chapters the site shows.

Reproducible: the identifier and dates come from the book, never from the clock or a random
uuid, and the zip is rewritten with fixed timestamps, permissions and order, so the same sources
give the same bytes.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import lxml.html
from ebooklib import epub

if TYPE_CHECKING:
    from .ebook import Book, Chapter

MEDIA_TYPE = "application/epub+zip"
STYLESHEET = "style/book.css"
COVER_NAME = "images/cover.png"
# Pelican's link syntax as it stands in a chapter's HTML before Pelican resolves it.
INTERNAL_LINK = re.compile(r"^\{(?P<what>\w+)\}(?P<path>[^#]*)(?:#(?P<fragment>.*))?$")
BOOK_CSS = """\
body { font-family: serif; line-height: 1.5; margin: 0 5%; }
h1, h2, h3 { font-family: sans-serif; line-height: 1.2; }
h1 { font-size: 1.6em; margin: 1.5em 0 0.75em; }
h2 { font-size: 1.25em; margin: 1.5em 0 0.5em; }
.chapter-label { font-family: sans-serif; font-size: 0.85em; letter-spacing: 0.05em;
  text-transform: uppercase; margin: 2em 0 0; }
.title-page { text-align: center; margin-top: 20%; }
.title-page .subtitle { font-size: 1.2em; font-style: italic; }
.title-page .author { margin-top: 3em; }
blockquote { margin: 1em 1.5em; font-style: italic; }
"""


def file_name(chapter: Chapter) -> str:
    """The chapter's XHTML file inside the book (its stable Ref, so links survive renames)."""
    return f"text/{chapter.ref}.xhtml"


def book_href(href: str, by_source: dict[str, Chapter], site_url: str) -> str | None:
    """Where a link points inside the book; None when it has no target there."""
    match = INTERNAL_LINK.match(href)
    if match:
        target = by_source.get(match["path"].lstrip("/"))
        if match["what"] != "filename" or target is None:
            return None  # a page of the site, not of the book
        fragment = f"#{match['fragment']}" if match["fragment"] else ""
        return f"{target.ref}.xhtml{fragment}"
    if href.startswith("/") and not href.startswith("//"):
        return site_url + href if site_url else None
    return href


def book_links(html: str, book: Book, site_url: str) -> str:
    """The chapter's HTML with links pointed at the book's own files; dead ones become text."""
    by_source = {chapter.relative_source: chapter for chapter in book.all_chapters}
    root = lxml.html.fragment_fromstring(html or "", create_parent="div")
    for anchor in list(root.iter("a")):
        href = anchor.get("href")
        if href is None:
            continue
        target = book_href(href, by_source, site_url)
        if target is None:
            anchor.drop_tag()  # keep the words: an offline reader cannot follow the link
        else:
            anchor.set("href", target)
    return lxml.html.tostring(root, encoding="unicode")


def chapter_document(chapter: Chapter, book: Book, site_url: str, language: str) -> epub.EpubHtml:
    """One XHTML document of the spine: heading, then the chapter's body."""
    item = epub.EpubHtml(
        title=chapter.title, file_name=file_name(chapter), lang=language, uid=f"c-{chapter.ref}"
    )
    label = f'<p class="chapter-label">Chapter {chapter.position}</p>' if chapter.position else ""
    body = book_links(chapter.raw_html, book, site_url)
    item.content = (
        f"<html><head></head><body>{label}<h1>{escape(chapter.title)}</h1>{body}</body></html>"
    )
    item.add_link(href=f"../{STYLESHEET}", rel="stylesheet", type="text/css")
    return item


def title_page(book: Book, site_url: str, language: str) -> epub.EpubHtml:
    """The title page: title, subtitle, author, then the front matter's words."""
    item = epub.EpubHtml(
        title=book.title, file_name="text/title-page.xhtml", lang=language, uid="title-page"
    )
    front = book.front
    body = book_links(front.raw_html, book, site_url) if front else ""
    item.content = (
        '<html><head></head><body><section class="title-page">'
        f"<h1>{escape(book.title)}</h1>"
        f'<p class="subtitle">{escape(book.subtitle)}</p>'
        f'<p class="author">{escape(book.author)}</p></section>{body}</body></html>'
    )
    item.add_link(href=f"../{STYLESHEET}", rel="stylesheet", type="text/css")
    return item


def escape(text: str) -> str:
    """Escape text for an XHTML element."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def table_of_contents(book: Book) -> list[Any]:
    """Nav entries: the title page, each chapter with its sections, the closing page."""
    entries: list[Any] = [epub.Link("text/title-page.xhtml", book.title, "toc-title-page")]
    for chapter in book.all_chapters:
        if chapter is book.front:
            continue
        name = file_name(chapter)
        heading = f"{chapter.position}. {chapter.title}" if chapter.position else chapter.title
        sections = [
            epub.Link(f"{name}#{anchor}", text, f"toc-{chapter.ref}-{anchor}")
            for anchor, text, level in chapter.toc
            if level == 2
        ]
        if sections:
            entries.append((epub.Section(heading, name), sections))
        else:
            entries.append(epub.Link(name, heading, f"toc-{chapter.ref}"))
    return entries


def build_epub(book: Book, cover_png: bytes, site_url: str) -> bytes:
    """The EPUB 3 of the book as bytes, the same bytes for the same book."""
    language = book.language
    document = epub.EpubBook()
    document.set_identifier(book.identifier)
    document.set_title(book.title)
    document.set_language(language)
    document.add_author(book.author)
    document.add_metadata("DC", "date", book.date.isoformat())
    document.add_metadata("DC", "description", book.description)
    document.add_metadata("DC", "publisher", book.publisher)
    document.set_cover(COVER_NAME, cover_png, create_page=True)
    # ebooklib makes the cover page non-linear, which epubcheck refuses unless something links to
    # it; it is the book's first page, so it is read in order.
    document.get_item_with_id("cover").is_linear = True
    style = epub.EpubItem(
        uid="style", file_name=STYLESHEET, media_type="text/css", content=BOOK_CSS.encode()
    )
    document.add_item(style)
    pages = [title_page(book, site_url, language)]
    pages += [
        chapter_document(chapter, book, site_url, language)
        for chapter in book.all_chapters
        if chapter is not book.front
    ]
    for page in pages:
        document.add_item(page)
    document.toc = table_of_contents(book)
    document.add_item(epub.EpubNcx())
    document.add_item(epub.EpubNav())
    document.spine = ["cover", "nav", *pages]
    modified = datetime.combine(book.date, time(0, 0), tzinfo=UTC)
    raw = io.BytesIO()
    epub.write_epub(raw, document, {"mtime": modified, "epub3_pages": False})
    return normalise_zip(raw.getvalue(), modified)


def normalise_zip(data: bytes, stamp: datetime) -> bytes:
    """Rewrite a zip with one timestamp and fixed attributes; mimetype first and stored."""
    out = io.BytesIO()
    date_time = stamp.timetuple()[:6]
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        names = [info.filename for info in source.infolist()]
        # EPUB's rule: 'mimetype' first, uncompressed; the rest in a stable order.
        ordered = ["mimetype", *sorted(name for name in names if name != "mimetype")]
        for name in ordered:
            info = zipfile.ZipInfo(name, date_time=date_time)
            info.create_system = 3
            info.external_attr = 0o644 << 16
            if name == "mimetype":
                info.compress_type = zipfile.ZIP_STORED
                target.writestr(info, source.read(name))
            else:
                info.compress_type = zipfile.ZIP_DEFLATED
                target.writestr(info, source.read(name), compresslevel=9)
    return out.getvalue()


def site_url_for_book(siteurl: str) -> str:
    """SITEURL when it is absolute (links out of the book need a host); empty otherwise."""
    parts = urlsplit(siteurl or "")
    return siteurl.rstrip("/") if parts.scheme in ("http", "https") and parts.netloc else ""
