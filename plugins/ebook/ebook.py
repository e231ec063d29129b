"""The ebook: chapters in content/ebook/ become pages on the site and one reproducible EPUB.

Each Markdown file is one part of the book. ``Chapter: N`` orders the chapters; ``Matter: front``
marks the title page (shown on the landing page) and ``Matter: back`` the closing page. ``Ref:``
is the chapter's stable name: any post, page or chapter links to it with ``{chapter}ref`` (or
``{chapter}ref#heading-id``), and the link survives a new title or slug.

The chapters are read when the generator is created, before any post is read, so the
``{chapter}`` links of posts are rewritten as their objects are made. The EPUB and its cover are
written during ``generate_context`` (their sizes are known before any page is written) and are
taken from a cache when the chapters, settings and this code have not changed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import uuid
from dataclasses import dataclass, field
from datetime import date
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

import lxml.html
from pelican import signals
from pelican.contents import Content
from pelican.generators import Generator

from encounter_habit import shares
from encounter_habit.forked import ChildFailed, Forked
from encounter_habit.writing import write_atomically

from .cover import make_cover
from .epub import MEDIA_TYPE, build_epub, site_url_for_book

logger = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    "path": "ebook",  # the chapters' folder, relative to PATH
    "title": "",  # empty: EBOOK_TITLE
    "subtitle": "",  # empty: EBOOK_SUBTITLE
    "author": "",  # empty: AUTHOR
    "language": "",  # empty: DEFAULT_LANG
    "publisher": "",  # empty: SITENAME
    "identifier": "",  # empty: a urn:uuid derived from SITENAME and the title (stable, not random)
    "date": "",  # YYYY-MM-DD; empty: the newest Date or Modified of the chapters
    "url": "ebook/",
    "save_as": "ebook/index.html",
    "chapter_url": "ebook/{slug}/",
    "chapter_save_as": "ebook/{slug}/index.html",
    "epub_path": "ebook/encounters.epub",  # output-relative
    "cover_path": "ebook/cover.png",  # output-relative
    "cover": "",  # an image (PNG) relative to PATH to use instead of the generated cover
    "cache_path": "",  # empty: <CACHE_PATH>/ebook
    "words_per_minute": 230,
}
INT_KEYS = ("words_per_minute",)
MATTERS = ("front", "chapter", "back")
REF_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")
CHAPTER_LINK = re.compile(
    r"""(?P<attr>href\s*=\s*)(?P<quote>["'])\{chapter\}(?P<ref>[^"'#]*)(?:#(?P<fragment>[^"']*))?(?P=quote)"""
)
LOCAL_ANCHOR = re.compile(r"""href\s*=\s*(?P<quote>["'])#(?P<fragment>[^"']+)(?P=quote)""")
FILENAME_LINK = re.compile(
    r"""href\s*=\s*(?P<quote>["'])\{filename\}(?P<path>[^"'#]*)(?:#(?P<fragment>[^"']*))?(?P=quote)"""
)
HASHED_PACKAGES = ("ebooklib", "pillow", "markdown", "lxml")
PLUGIN_DIR = Path(__file__).resolve().parent
TEMPLATE_LANDING = "ebook"
TEMPLATE_CHAPTER = "ebook_chapter"


class Chapter(Content):
    """One file of the book: the title page, a numbered chapter, or the closing page."""

    mandatory_properties = ("title",)
    default_template = TEMPLATE_CHAPTER
    default_status = "published"

    matter: str = "chapter"
    number: int | None = None
    position: int | None = None  # 1-based place among the chapters (what readers see)
    total: int = 0
    ref: str = ""
    prev: Chapter | None = None
    next: Chapter | None = None
    raw_html: str = ""  # the body with {chapter} links made {filename} links, before Pelican's
    toc: tuple[tuple[str, str, int], ...] = ()  # (id, text, level) of h2/h3 headings
    ids: frozenset[str] = frozenset()
    reading_minutes: int = 1

    @property
    def relative_source(self) -> str:
        """The source path relative to PATH, '/'-separated (Pelican's generated_content key)."""
        return self.get_relative_source_path().replace(os.sep, "/")

    @property
    def label(self) -> str:
        """'Chapter 2 of 6' for a numbered chapter, empty for the title and closing pages."""
        return f"Chapter {self.position} of {self.total}" if self.position else ""


@dataclass
class Download:
    """A file of the book readers can download."""

    path: str  # output-relative
    url: str  # site-relative, like every Pelican url
    media_type: str
    length: int  # bytes
    label: str


@dataclass
class Book:
    """What templates and other plugins see as ``ebook``."""

    title: str
    subtitle: str
    author: str
    language: str
    publisher: str
    identifier: str
    url: str
    save_as: str
    date: date
    front: Chapter | None = None
    back: Chapter | None = None
    chapters: list[Chapter] = field(default_factory=list)
    downloads: list[Download] = field(default_factory=list)
    cover_url: str = ""
    refs: dict[str, Chapter] = field(default_factory=dict)

    @property
    def all_chapters(self) -> list[Chapter]:
        """Every part in reading order: title page, chapters, closing page."""
        return [part for part in (self.front, *self.chapters, self.back) if part is not None]

    @property
    def pages(self) -> list[Chapter]:
        """The parts that have a page of their own (the title page is the landing page)."""
        return [part for part in (*self.chapters, self.back) if part is not None]

    @property
    def description(self) -> str:
        """One plain-text paragraph about the book, from the title page's Summary."""
        summary = getattr(self.front, "summary", "") if self.front else ""
        text = lxml.html.fromstring(summary).text_content() if summary else ""
        return " ".join(text.split()) or f"{self.title}: {self.subtitle}"


def ebook_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The EBOOK settings merged over DEFAULTS."""
    return {**DEFAULTS, **(settings.get("EBOOK") or {})}


def check_settings(pelican: Any) -> None:
    """Validate EBOOK once at start-up; unknown keys and wrong types get one line each."""
    user = pelican.settings.get("EBOOK") or {}
    if not isinstance(user, dict):
        logger.error("ebook: EBOOK must be a dict, got %r; using the defaults", user)
        user = {}
    for key in sorted(set(user) - set(DEFAULTS)):
        logger.warning("ebook: unknown EBOOK key %r ignored; known: %r", key, sorted(DEFAULTS))
    clean = {key: value for key, value in user.items() if key in DEFAULTS}
    for key, value in list(clean.items()):
        wanted = int if key in INT_KEYS else str
        if not isinstance(value, wanted) or (wanted is int and value <= 0):
            logger.error(
                "ebook: EBOOK[%r] must be a %s, got %r; using %r",
                key,
                "positive whole number" if wanted is int else "string",
                value,
                DEFAULTS[key],
            )
            del clean[key]
    if clean.get("date"):
        try:
            date.fromisoformat(clean["date"])
        except ValueError:
            logger.error(
                "ebook: EBOOK['date'] %r is not a date; write it as 2026-11-23", clean["date"]
            )
            del clean["date"]
    pelican.settings["EBOOK"] = ebook_settings({"EBOOK": clean})


def header_line(path: str, key: str) -> int:
    """The line of a metadata key in a Markdown file's header (1 when it is not there)."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    break
                if line.split(":", 1)[0].strip().lower() == key:
                    return number
    except OSError:
        pass
    return 1


def shown_path(path: str) -> str:
    """A path as the author would type it: relative to the working directory when inside it."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def outline(html: str) -> tuple[tuple[tuple[str, str, int], ...], frozenset[str], int]:
    """(h2/h3 headings with ids, every id, word count) of a chapter's HTML."""
    if not html.strip():
        return (), frozenset(), 0
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    toc = tuple(
        (element.get("id"), " ".join(element.text_content().split()), int(element.tag[1]))
        for element in root.iter("h2", "h3")
        if element.get("id")
    )
    ids = frozenset(element.get("id") for element in root.iter() if element.get("id"))
    return toc, ids, len(root.text_content().split())


def rewrite_chapter_links(html: str, book: Book, source: str) -> str:
    """Turn {chapter}ref links into Pelican {filename} links; unknown refs get one error line."""

    def replace(match: re.Match) -> str:
        ref, fragment = match["ref"], match["fragment"]
        target = book.refs.get(ref)
        quote = match["quote"]
        if target is None:
            logger.error(
                "ebook: %s: link {chapter}%s names no chapter; use one of the Ref values %r",
                source,
                ref,
                sorted(book.refs),
            )
            return (
                f"{match['attr']}{quote}{{filename}}/{book.front.relative_source}{quote}"
                if book.front
                else match[0]
            )
        if fragment and fragment not in target.ids:
            logger.error(
                "ebook: %s: link {chapter}%s#%s: chapter %r has no heading with id %r; use one of %r",
                source,
                ref,
                fragment,
                target.relative_source,
                fragment,
                [anchor for anchor, _text, _level in target.toc],
            )
        suffix = f"#{fragment}" if fragment else ""
        return f"{match['attr']}{quote}{{filename}}/{target.relative_source}{suffix}{quote}"

    return CHAPTER_LINK.sub(replace, html)


def resolve_chapter_links(content: Any) -> None:
    """Rewrite {chapter} links of a post or page as it is made (chapters are read by then)."""
    if isinstance(content, Chapter):
        return  # chapters are rewritten together once all of them are known
    book = getattr(content, "_context", {}).get("ebook")
    text = getattr(content, "_content", "")
    if isinstance(book, Book) and text and "{chapter}" in text:
        content._content = rewrite_chapter_links(text, book, shown_path(content.source_path))


def check_book_links(book: Book) -> None:
    """One error line per link inside the book that points at nothing."""
    by_source = {chapter.relative_source: chapter for chapter in book.all_chapters}
    for chapter in book.all_chapters:
        shown = shown_path(chapter.source_path)
        for match in LOCAL_ANCHOR.finditer(chapter.raw_html):
            if match["fragment"] not in chapter.ids:
                logger.error(
                    "ebook: %s: link #%s points at no heading of this chapter; use one of %r",
                    shown,
                    match["fragment"],
                    sorted(chapter.ids),
                )
        for match in FILENAME_LINK.finditer(chapter.raw_html):
            target = by_source.get(match["path"].lstrip("/"))
            if target is None and match["path"].lstrip("/").startswith(book_folder(chapter)):
                logger.error(
                    "ebook: %s: link {filename}%s names no chapter of the book; link with "
                    "{chapter}<Ref> instead",
                    shown,
                    match["path"],
                )


def cover_text(config: dict[str, Any], settings: dict[str, Any]) -> tuple[str, str, str]:
    """The book's title, subtitle and author (what the generated cover shows)."""
    return (
        config["title"] or settings.get("EBOOK_TITLE") or "Ebook",
        config["subtitle"] or settings.get("EBOOK_SUBTITLE", ""),
        config["author"] or settings.get("AUTHOR") or "",
    )


def cache_folder(config: dict[str, Any], settings: dict[str, Any]) -> Path:
    """Where the last build's cover and EPUB are kept."""
    return Path(config["cache_path"] or os.path.join(settings["CACHE_PATH"], "ebook"))


_cover_ahead: dict | None = None  # the child drawing the cover: see draw_cover_ahead


def draw_cover_ahead(generator: Any) -> None:
    """The posts are about to be read: fork a child that draws the generated cover meanwhile.

    Drawing the 1600x2400 cover and compressing it takes about 0.1 s of one core, which a clean
    build otherwise spends after the posts are read, with the other core idle (5% of a 200-post
    build). Only when the cover will be drawn: there are chapters, no cover image in EBOOK, and
    no cover cached by an earlier build (which then is most likely reused).
    """
    global _cover_ahead
    end_cover_ahead()
    settings = generator.settings
    config = ebook_settings(settings)
    enabled = settings.get("PARALLEL_READING", True) is not False
    if config["cover"] or not shares.can_fork(enabled):
        return
    if (cache_folder(config, settings) / "cover.png").is_file():
        return
    if not (Path(settings["PATH"]) / config["path"]).is_dir():
        return  # no book
    text = cover_text(config, settings)
    process = Forked.start("ebook-cover", lambda result: result.write(make_cover(*text)))
    if process is not None:
        _cover_ahead = {"process": process, "text": text}


def cover_drawn_ahead(text: tuple[str, str, str]) -> bytes | None:
    """The cover the child drew for this text; None if there is none (or it failed)."""
    global _cover_ahead
    ahead, _cover_ahead = _cover_ahead, None
    if ahead is None:
        return None
    if ahead["text"] != text:
        ahead["process"].kill()
        return None
    try:
        return ahead["process"].result(read=lambda handle: handle.read()) or None
    except ChildFailed as exc:
        logger.debug("ebook: the cover was not drawn ahead (%s); drawing it here", exc)
        return None


def end_cover_ahead(*_args: Any) -> None:
    """A child left by a build that ended before it needed the cover: end it."""
    global _cover_ahead
    ahead, _cover_ahead = _cover_ahead, None
    if ahead is not None:
        ahead["process"].kill()


def book_folder(chapter: Chapter) -> str:
    """The chapters' folder as it starts a relative source path ('ebook/')."""
    return chapter.relative_source.rsplit("/", 1)[0] + "/"


def content_hash(paths: list[Path], settings: dict[str, Any], config: dict[str, Any]) -> str:
    """A digest of everything the downloads are made from: sources, settings, code, libraries."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path.name).encode() + b"\0" + path.read_bytes() + b"\0")
    for path in sorted(PLUGIN_DIR.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    shared = {
        "EBOOK": config,
        "MARKDOWN": settings.get("MARKDOWN"),
        "SITEURL": settings.get("SITEURL"),
        "versions": [package_version(name) for name in HASHED_PACKAGES],
    }
    digest.update(json.dumps(shared, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def package_version(name: str) -> str:
    """The installed version of a package, or '' when it is not installed."""
    try:
        return package_metadata.version(name)
    except package_metadata.PackageNotFoundError:
        return ""


class EbookGenerator(Generator):
    """Reads the chapters, builds the downloads, writes the landing and chapter pages."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config = ebook_settings(self.settings)
        self.book = self.make_book()
        # In the shared context now, so posts read after this can resolve {chapter} links.
        self.context["ebook"] = self.book
        self.read_chapters()

    def make_book(self) -> Book:
        """The book's metadata from EBOOK, falling back to the site's settings."""
        config, settings = self.config, self.settings
        title, subtitle, author = cover_text(config, settings)
        # Derived, not random: the same site and title keep the same identifier across builds.
        name = f"{settings.get('SITENAME', '')}/{title}"
        identifier = config["identifier"] or f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"
        return Book(
            title=title,
            subtitle=subtitle,
            author=author,
            language=config["language"] or settings.get("DEFAULT_LANG", "en"),
            publisher=config["publisher"] or settings.get("SITENAME", ""),
            identifier=identifier,
            url=config["url"],
            save_as=config["save_as"],
            date=date(1980, 1, 1),
        )

    def chapter_files(self) -> list[str]:
        """Markdown files of the chapters' folder, relative to PATH, in a stable order."""
        folder = os.path.join(self.path, self.config["path"])
        if not os.path.isdir(folder):
            return []
        return sorted(
            self.get_files(self.config["path"], exclude=[], extensions=("md", "markdown"))
        )

    def read_chapters(self) -> None:
        """Read, check and order every chapter; each problem is one line naming the file."""
        parts: list[Chapter] = []
        for relative in self.chapter_files():
            try:
                part = self.readers.read_file(
                    base_path=self.path,
                    path=relative,
                    content_class=Chapter,
                    context=self.context,
                )
            except Exception as exc:  # a reader error is the author's file, not a crash
                logger.error("ebook: %s: cannot read it (%s); left out of the book", relative, exc)
                continue
            if part.status != "published":
                continue  # drafts and files content_checks refused are not part of the book
            if self.classify(part):
                parts.append(part)
        self.order(parts)
        book = self.book
        for part in book.all_chapters:
            book.refs[part.ref] = part
        for part in book.all_chapters:
            part.raw_html = rewrite_chapter_links(part._content, book, shown_path(part.source_path))
            part._content = part.raw_html
            part.toc, part.ids, words = outline(part.raw_html)
            part.reading_minutes = max(1, math.ceil(words / self.config["words_per_minute"]))
            self.add_source_path(part)
        check_book_links(book)
        dates = [
            getattr(part, name).date()
            for part in book.all_chapters
            for name in ("date", "modified")
            if getattr(part, name, None)
        ]
        if self.config["date"]:
            book.date = date.fromisoformat(self.config["date"])
        elif dates:
            book.date = max(dates)

    def classify(self, part: Chapter) -> bool:
        """Read Matter, Chapter and Ref; False (after one error line) when the file is left out."""
        source = part.source_path
        shown = shown_path(source)
        matter = str(part.metadata.get("matter", "chapter")).strip().lower()
        if matter not in MATTERS:
            logger.error(
                "ebook: %s:%d: Matter %r is not one of %r; left out of the book",
                shown,
                header_line(source, "matter"),
                matter,
                MATTERS,
            )
            return False
        part.matter = matter
        ref = str(part.metadata.get("ref") or Path(source).stem).strip()
        if not REF_PATTERN.match(ref):
            logger.error(
                "ebook: %s:%d: Ref %r must be lower-case letters, digits and hyphens, like "
                "'three-elements'; left out of the book",
                shown,
                header_line(source, "ref"),
                ref,
            )
            return False
        part.ref = ref
        if matter != "chapter":
            return True
        raw = str(part.metadata.get("chapter", "")).strip()
        if not raw:
            logger.error(
                "ebook: %s:1: no 'Chapter: N' line; add one to place it in the book (left out)",
                shown,
            )
            return False
        if not raw.isdigit() or int(raw) < 1:
            logger.error(
                "ebook: %s:%d: Chapter %r is not a whole number from 1; write e.g. 'Chapter: 2' "
                "(left out)",
                shown,
                header_line(source, "chapter"),
                raw,
            )
            return False
        part.number = int(raw)
        return True

    def order(self, parts: list[Chapter]) -> None:
        """Put the parts in reading order and link each to its neighbours."""
        book = self.book
        seen_refs: dict[str, Chapter] = {}
        kept: list[Chapter] = []
        for part in parts:
            other = seen_refs.get(part.ref)
            if other is not None:
                logger.error(
                    "ebook: %s:%d: Ref %r is already used by %s; give each chapter its own Ref "
                    "(left out)",
                    shown_path(part.source_path),
                    header_line(part.source_path, "ref"),
                    part.ref,
                    shown_path(other.source_path),
                )
                continue
            seen_refs[part.ref] = part
            kept.append(part)
        for matter in ("front", "back"):
            found = [part for part in kept if part.matter == matter]
            for extra in found[1:]:
                logger.error(
                    "ebook: %s: a second 'Matter: %s' page (the first is %s); left out of the book",
                    shown_path(extra.source_path),
                    matter,
                    shown_path(found[0].source_path),
                )
            setattr(book, matter, found[0] if found else None)
        chapters = sorted(
            (part for part in kept if part.matter == "chapter"),
            key=lambda part: (part.number, part.source_path),
        )
        for previous, current in zip(chapters, chapters[1:], strict=False):
            if current.number == previous.number:
                logger.error(
                    "ebook: %s:%d: Chapter %d is also the number of %s; give each chapter its "
                    "own number (placed after it)",
                    shown_path(current.source_path),
                    header_line(current.source_path, "chapter"),
                    current.number,
                    shown_path(previous.source_path),
                )
            elif current.number != previous.number + 1:
                logger.error(
                    "ebook: %s:%d: Chapter %d follows Chapter %d; number the chapters without gaps",
                    shown_path(current.source_path),
                    header_line(current.source_path, "chapter"),
                    current.number,
                    previous.number,
                )
        if chapters and chapters[0].number != 1:
            logger.error(
                "ebook: %s:%d: the first chapter is number %d; number the chapters from 1",
                shown_path(chapters[0].source_path),
                header_line(chapters[0].source_path, "chapter"),
                chapters[0].number,
            )
        book.chapters = chapters
        for position, chapter in enumerate(chapters, start=1):
            chapter.position = position
            chapter.total = len(chapters)
        for part in book.all_chapters:
            is_front = part is book.front
            part.override_url = (
                self.config["url"]
                if is_front
                else self.config["chapter_url"].format(slug=part.slug)
            )
            part.override_save_as = (
                "" if is_front else self.config["chapter_save_as"].format(slug=part.slug)
            )
        pages = book.pages
        for index, page in enumerate(pages):
            page.prev = pages[index - 1] if index else None
            page.next = pages[index + 1] if index + 1 < len(pages) else None

    def generate_context(self) -> None:
        """Build (or take from the cache) the cover and the EPUB, and list them as downloads."""
        book = self.book
        if not book.chapters:
            if self.chapter_files():
                logger.error(
                    "ebook: %s has no chapter the book can use; no EPUB written",
                    self.config["path"],
                )
            return
        cover_png, epub_bytes = self.downloads_bytes()
        output = Path(self.output_path)
        write_atomically(output / self.config["cover_path"], cover_png)
        write_atomically(output / self.config["epub_path"], epub_bytes)
        book.cover_url = self.config["cover_path"]
        book.downloads = [
            Download(
                path=self.config["epub_path"],
                url=self.config["epub_path"],
                media_type=MEDIA_TYPE,
                length=len(epub_bytes),
                label="EPUB",
            )
        ]

    def downloads_bytes(self) -> tuple[bytes, bytes]:
        """(cover PNG, EPUB) from the cache when nothing they are made from changed."""
        sources = [Path(part.source_path) for part in self.book.all_chapters]
        cover_file = Path(self.path) / self.config["cover"] if self.config["cover"] else None
        if cover_file is not None and not cover_file.is_file():
            logger.error(
                "ebook: EBOOK['cover'] %r is not a file under %s; using the generated cover",
                self.config["cover"],
                shown_path(self.path),
            )
            cover_file = None
        inputs = [*sources, *([cover_file] if cover_file else [])]
        digest = content_hash(inputs, self.settings, self.config)
        cache = cache_folder(self.config, self.settings)
        cached_cover, cached_epub, stamp = (
            cache / "cover.png",
            cache / "book.epub",
            cache / "sources.sha256",
        )
        if (
            stamp.is_file()
            and stamp.read_text().strip() == digest
            and cached_epub.is_file()
            and cached_cover.is_file()
        ):
            logger.info("ebook: sources unchanged (%r); EPUB taken from the cache", digest[:12])
            return cached_cover.read_bytes(), cached_epub.read_bytes()
        book = self.book
        text = (book.title, book.subtitle, book.author)
        cover_png = (
            cover_file.read_bytes() if cover_file else cover_drawn_ahead(text) or make_cover(*text)
        )
        epub_bytes = build_epub(
            book, cover_png, site_url_for_book(self.settings.get("SITEURL", ""))
        )
        try:
            write_atomically(cached_cover, cover_png)
            write_atomically(cached_epub, epub_bytes)
            write_atomically(stamp, digest.encode())
        except OSError as exc:  # a read-only cache costs a rebuild next time, nothing more
            logger.warning("ebook: cannot write the cache %s (%s); building every time", cache, exc)
        logger.info("ebook: EPUB built (%d bytes)", len(epub_bytes))
        return cover_png, epub_bytes

    def generate_output(self, writer: Any) -> None:
        """Write the landing page and one page per chapter through Pelican's writer."""
        book = self.book
        if not book.chapters:
            return
        relative_urls = self.settings.get("RELATIVE_URLS", False)
        writer.write_file(
            book.save_as,
            self.get_template(TEMPLATE_LANDING),
            self.context,
            relative_urls,
            url=book.url,
        )
        template = self.get_template(TEMPLATE_CHAPTER)
        for part in book.pages:
            writer.write_file(
                part.save_as, template, self.context, relative_urls, url=part.url, chapter=part
            )


def add_ebook_generator(pelican: Any) -> type[Generator]:
    """Hand Pelican the ebook's generator."""
    return EbookGenerator


def register() -> None:
    """Connect the plugin's handlers to Pelican's signals."""
    signals.initialized.connect(check_settings)
    signals.initialized.connect(end_cover_ahead)
    signals.article_generator_init.connect(draw_cover_ahead)
    signals.finalized.connect(end_cover_ahead)
    signals.get_generators.connect(add_ebook_generator)
    signals.content_object_init.connect(resolve_chapter_links)
