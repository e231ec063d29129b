"""Comment archives: attach content/comments/<post-slug>/*.md to their posts as threaded comments.

One file per comment: a metadata header (Author, Date as ISO date-time, Reply-To with the parent's
id, Type comment|pingback), a blank line, then a Markdown body. The id is the file name without
``.md``. Bodies are untrusted: rendered with Markdown + nl2br, then sanitised with nh3, once.
Files are read once per build, keyed by the folder name (the post's slug).

A post's thread is turned into HTML here, in Python, not by recursive template macros: at
thousands of posts the macros cost more than everything else the post page does. The template
outputs ``article.comments_html`` and ``article.pingbacks_html`` (made when first shown).

Reading tens of thousands of comment files takes seconds that do not depend on the posts, so
while the posts are read a forked child reads the comment files (see :func:`read_ahead`); the
parent takes what it read as plain data. Where forking is unsafe or turned off
(``PARALLEL_READING = False``) the parent reads them itself, in the same order, with the same
messages.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import os
import pickle
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import markdown
import nh3
from markupsafe import escape
from pelican import signals

from encounter_habit import incremental, inputs, live, shares
from encounter_habit.forked import ChildFailed, Forked

logger = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    "path": "comments",  # relative to PATH
    "reply_email": "",  # offered under the thread; empty: readers are pointed to the newsletter
}
ALLOWED_TAGS = {"p", "br", "a", "em", "strong", "blockquote", "ul", "ol", "li", "code"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "nofollow ugc noopener"
COMMENT_TYPES = ("comment", "pingback")
ANONYMOUS = "Anonymous"
CACHE_VERSION = 2  # bump when what the cache holds changes shape

# A body is "plain prose" when Markdown (with nl2br) can only make paragraphs and line breaks of
# it: then BodyRenderer makes those itself, byte for byte as Markdown would (tests/test_comments.py
# compares both on generated bodies and on every real comment), and skips Markdown, which is most
# of a comment's cost. nh3 still cleans every body. Not plain: any ASCII character outside the
# class below (Markdown's syntax \ ` * _ [ ] < > & # { } | ^, tabs, control characters); a line
# starting with anything but a letter, a quote or "(" (lists, code blocks, headings, quotes,
# rules, setext underlines); a line ending with a space (a hard break). Non-ASCII characters
# must also pass str.isprintable() (no no-break or other Unicode spaces, no control or format
# characters).
NOT_PLAIN_CHARACTER = re.compile(r"[^A-Za-z0-9 \n.,;:?!'\"()/%$@=+~\u0080-\U0010ffff-]")
NOT_PLAIN_LINE_START = re.compile(r"\n[^A-Za-z\"'(\n\u0080-\U0010ffff]")  # searched in "\n" + body
DIGIT_LINE_START = re.compile(r"\n\d")  # any script's digits: "٣. " starts a list too
BLANK_LINES = re.compile(r"\n\n+")


@dataclass(slots=True)  # tens of thousands per build: no per-object dict
class Comment:
    """One comment (or pingback) with its sanitised HTML and its replies."""

    id: str
    author: str
    date: datetime | None
    reply_to: str | None
    type: str
    html: str
    source: str
    replies: list[Comment] = field(default_factory=list)
    by_author: bool = False

    @property
    def anchor(self) -> str:
        """The fragment id of this comment's permalink."""
        return self.id

    @property
    def is_pingback(self) -> bool:
        """True for a pingback (listed under 'Mentioned on', not in the conversation)."""
        return self.type == "pingback"


def comment_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The COMMENTS settings merged over DEFAULTS."""
    return {**DEFAULTS, **(settings.get("COMMENTS") or {})}


def check_settings(pelican: Any) -> None:
    """Validate COMMENTS once at start-up; unknown keys and wrong types get one line each."""
    user = pelican.settings.get("COMMENTS") or {}
    if not isinstance(user, dict):
        logger.error("comments: COMMENTS must be a dict, got %r; using the defaults", user)
        user = {}
    for key in sorted(set(user) - set(DEFAULTS)):
        logger.warning(
            "comments: unknown COMMENTS key %r ignored; known: %r", key, sorted(DEFAULTS)
        )
    for key in DEFAULTS:
        if key in user and not isinstance(user[key], str):
            logger.error(
                "comments: COMMENTS[%r] must be a string, got %r; using %r",
                key,
                user[key],
                DEFAULTS[key],
            )
            user = {k: v for k, v in user.items() if k != key}
    # Stored merged so templates read COMMENTS.reply_email without knowing the defaults.
    pelican.settings["COMMENTS"] = comment_settings({"COMMENTS": user})


def normalise_name(name: str) -> str:
    """Case- and whitespace-insensitive form of a person's name, for author matching."""
    return " ".join(name.split()).casefold()


class BodyRenderer:
    """Markdown + nl2br, then nh3: one Markdown instance and one nh3 cleaner for every comment."""

    def __init__(self) -> None:
        self._markdown: markdown.Markdown | None = None  # made on the first body that needs it
        self.cleaner = nh3.Cleaner(
            tags=ALLOWED_TAGS,
            attributes=ALLOWED_ATTRIBUTES,
            url_schemes=URL_SCHEMES,
            link_rel=LINK_REL,
        )

    @property
    def markdown(self) -> markdown.Markdown:
        if self._markdown is None:
            self._markdown = markdown.Markdown(extensions=["nl2br"], output_format="html")
        return self._markdown

    def render(self, text: str) -> str:
        """Sanitised HTML for one untrusted Markdown comment body."""
        html = plain_html(text)
        if html is None:
            html = self.markdown.reset().convert(text)
        return self.cleaner.clean(html)


def plain_html(text: str) -> str | None:
    """What Markdown + nl2br make of a plain-prose body (see NOT_PLAIN_CHARACTER); None for any
    other body."""
    if NOT_PLAIN_CHARACTER.search(text) or " \n" in text or text.endswith(" "):
        return None
    lines = "\n" + text
    if NOT_PLAIN_LINE_START.search(lines):
        return None
    if not text.isascii() and (
        DIGIT_LINE_START.search(lines) or not text.replace("\n", " ").isprintable()
    ):
        return None
    text = text.strip("\n")
    if not text:
        return ""
    return "\n".join(["<p>" + p.replace("\n", "<br>\n") + "</p>" for p in BLANK_LINES.split(text)])


def split_file(text: str) -> tuple[dict[str, str], str]:
    """Split a comment file into ({lower key: value}, body)."""
    header: dict[str, str] = {}
    start = 0
    while True:  # line by line, without splitting (and joining again) the whole body
        end = text.find("\n", start)
        line = text[start:] if end < 0 else text[start:end]
        if not line.strip():
            return header, "" if end < 0 else text[end + 1 :]
        key, sep, value = line.partition(":")
        if not sep or " " in key.strip():
            return header, text[start:]  # no header: all body
        header.setdefault(key.strip().lower(), value.strip())
        if end < 0:
            return header, ""
        start = end + 1


def decode(data: bytes) -> str:
    """A file's bytes as Path.read_text(encoding="utf-8-sig") gives them (BOM dropped, universal
    newlines), from one read: the text layer costs more than the read on thousands of files."""
    text = (data[3:] if data.startswith(codecs.BOM_UTF8) else data).decode("utf-8")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def parse_comment(
    text: str, stem: str, shown: str, renderer: BodyRenderer
) -> tuple[tuple, list[str]]:
    """A comment file's text as (Comment's fields, problems): plain data, cheap to cache."""
    header, body = split_file(text)
    problems = []
    author = " ".join(header.get("author", "").split())
    if not author:
        problems.append(f"comments: {shown}: no Author; add 'Author: Name' to its header")
        author = ANONYMOUS
    date = None
    raw_date = header.get("date", "")
    try:
        date = datetime.fromisoformat(raw_date)
    except ValueError:
        problems.append(
            f"comments: {shown}: bad Date {raw_date!r}; write it like 'Date: 2009-09-21T09:14:00'"
        )
    kind = header.get("type", "comment").lower()
    if kind not in COMMENT_TYPES:
        problems.append(
            f"comments: {shown}: Type {kind!r} is not one of {COMMENT_TYPES!r}; shown as a comment"
        )
        kind = "comment"
    fields = (
        stem,
        author,
        date,
        header.get("reply-to") or None,
        kind,
        renderer.render(body),
        shown,
    )
    return fields, problems


def sort_key(comment: Comment) -> tuple[bool, datetime, str]:
    """Date order; comments without a readable date go last, then by id for stability."""
    return (comment.date is None, comment.date or datetime.min, comment.id)


def build_thread(comments: list[Comment]) -> tuple[list[Comment], list[Comment]]:
    """Return (top-level conversation, pingbacks); a missing or looping parent makes a top-level comment."""
    by_id = {comment.id: comment for comment in comments}
    roots: list[Comment] = []
    for comment in comments:
        parent = by_id.get(comment.reply_to) if comment.reply_to else None
        if comment.reply_to and parent is None:
            logger.error(
                "comments: %s: Reply-To %r names no comment of this post; shown at the top level",
                comment.source,
                comment.reply_to,
            )
        if parent is not None and creates_loop(comment, by_id):
            logger.error(
                "comments: %s: Reply-To %r makes a loop of replies; shown at the top level",
                comment.source,
                comment.reply_to,
            )
            parent = None
        if parent is None:
            roots.append(comment)
        else:
            parent.replies.append(comment)
    for comment in comments:
        comment.replies.sort(key=sort_key)
    roots.sort(key=sort_key)
    pingbacks = [comment for comment in roots if comment.is_pingback]
    return [comment for comment in roots if not comment.is_pingback], pingbacks


def creates_loop(comment: Comment, by_id: dict[str, Comment]) -> bool:
    """True when following Reply-To from this comment comes back to it."""
    seen = {comment.id}
    current = by_id.get(comment.reply_to or "")
    while current is not None:
        if current.id in seen:
            return True
        seen.add(current.id)
        current = by_id.get(current.reply_to or "")
    return False


def count_comments(thread: list[Comment]) -> int:
    """All comments in a thread, replies included, pingbacks excluded."""
    return sum(1 + count_comments(c.replies) for c in thread if not c.is_pingback)


def mark_author_replies(thread: list[Comment], author: str) -> None:
    """Flag every comment written by the post's author, at any depth."""
    for comment in thread:
        comment.by_author = normalise_name(comment.author) == author
        mark_author_replies(comment.replies, author)


def read_entries(
    root: Path,
    cache_file: Path | None = None,
    before_saving: Callable[[dict[str, list[Entry]]], None] | None = None,
    stamps: inputs.ReaderStamps | None = None,
) -> dict[str, list[Entry]]:
    """What every comment file under root holds, as plain data: {post slug: entries}.

    Rendering a comment (Markdown, then nh3) is most of the cost, so parsed comments are kept in
    ``cache_file`` by each file's size and modification time, and only new or changed files are
    read again. A cached comment's problems are said again on every build. ``before_saving``
    gets the entries before that cache is written. ``stamps`` gets every file's stat, taken as
    it is read, for the build's stamp (see encounter_habit.inputs.ReaderStamps).
    """
    cache = _load_cache(cache_file)
    reader = FolderReader(cache, stamps)
    walker = stamps or inputs.ReaderStamps(str(root))
    found: dict[str, list[Entry]] = {}
    for folder, files in walker.walk():
        slug = os.path.relpath(folder, walker.root).replace(os.sep, "/")
        found[slug] = reader.entries(folder, slug, files)
    if before_saving is not None:
        before_saving(found)
    if reader.changed or len(reader.fresh) != len(cache):
        _save_cache(cache_file, reader.fresh)
    return found


def comments_by_slug(found: dict[str, list[Entry]]) -> dict[str, list[Comment]]:
    """The comments of read_entries, in the same order, saying each file's problems."""
    by_slug = {}
    for slug, entries in found.items():
        comments = comments_of(entries)
        if comments:
            by_slug[slug] = comments
    return by_slug


def comments_of(entries: list[Entry]) -> list[Comment]:
    """One folder's comments from its entries, saying each file's problems."""
    comments = []
    for fields, problems in entries:
        for problem in problems:
            logger.error("%s", problem)
        if fields is not None:
            # Made anew from plain fields each build, so threads and marks never carry over.
            comments.append(Comment(*fields))
    return comments


def load_thread(root: Path, slug: str) -> list[Comment]:
    """The comments of one post, read afresh (a live rebuild after a comment file changed)."""
    folder = root / slug
    try:
        files = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        files = []
    return comments_of(FolderReader({}).entries(str(folder), slug, files))


# One comment file as plain data: (Comment's fields, or None when unreadable; its problems).
Entry = tuple[tuple | None, list[str]]


class FolderReader:
    """Reads the comment files of one folder after another, through the parsed-comment cache."""

    def __init__(self, cache: dict, stamps: inputs.ReaderStamps | None = None) -> None:
        self.cache = cache
        self.stamps = stamps
        self.fresh: dict[str, tuple[tuple[int, int], tuple, list[str]]] = {}
        self.renderer: BodyRenderer | None = None
        self.changed = False

    def entries(self, folder: str, slug: str, files: list[str]) -> list[Entry]:
        entries: list[Entry] = []
        stamps = self.stamps
        for name in sorted(files):
            path = os.path.join(folder, name)
            if not name.endswith(".md"):
                if stamps is not None:
                    stamps.stat(path)
                continue
            shown = f"{slug}/{name}"
            try:
                entry = self.cache.get(shown)
                if entry is not None:  # one stat tells whether the cached comment is current
                    stat = os.stat(path)
                    if entry[0] != (stat.st_mtime_ns, stat.st_size):
                        entry = None
                    elif stamps is not None:
                        stamps.stamp(path, stat)
                if entry is None:
                    data, stat = read_stamped(path)
                    if stamps is not None:
                        stamps.stamp(path, stat, data)
                    self.renderer = self.renderer or BodyRenderer()
                    stem = name[:-3] if name != ".md" else name  # Path(name).stem
                    entry = (
                        (stat.st_mtime_ns, stat.st_size),
                        *parse_comment(decode(data), stem, shown, self.renderer),
                    )
                    self.changed = True
            except (OSError, UnicodeDecodeError) as exc:
                if (
                    stamps is not None and path not in stamps.table
                ):  # a file it could not open or decode
                    stamps.stat(path)
                entries.append(
                    (None, [f"comments: {shown}: cannot read the file ({exc}); skipped"])
                )
                continue
            self.fresh[shown] = entry
            entries.append((entry[1], entry[2]))
        return entries


def read_stamped(path: str) -> tuple[bytes, os.stat_result]:
    """A file's bytes and its stat, from one open file.

    At 40,000 comment files, os.open, fstat and one read cost half of os.stat plus open().
    """
    handle = os.open(path, os.O_RDONLY)
    try:
        stat = os.fstat(handle)
        data = os.read(handle, stat.st_size + 1)
        if len(data) > stat.st_size:  # it grew since: read the rest (its stamp will not match)
            chunks = [data]
            while chunk := os.read(handle, 1 << 16):
                chunks.append(chunk)
            data = b"".join(chunks)
    finally:
        os.close(handle)
    return data, stat


def _load_cache(cache_file: Path | None) -> dict:
    if cache_file is None:
        return {}
    try:
        with open(cache_file, "rb") as handle:
            data = pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, TypeError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
        return {}  # written by another version of this plugin: read every file again
    entries = data.get("entries")
    return entries if isinstance(entries, dict) else {}


def _save_cache(cache_file: Path | None, entries: dict) -> None:
    if cache_file is None:
        return
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    temporary = cache_file.with_suffix(".tmp")
    with open(temporary, "wb") as handle:
        pickle.dump(
            {"version": CACHE_VERSION, "entries": entries},
            handle,
            protocol=pickle.HIGHEST_PROTOCOL,
        )
    os.replace(temporary, cache_file)


def fingerprint_of(comments: list[Comment]) -> str:
    """A hash of everything a post's comments show, for incremental builds."""
    # Every field followed by NUL, hashed in one update: the digest the per-field updates made.
    data = "".join(
        f"{comment.id}\0{comment.author}\0{comment.date}\0{comment.reply_to}\0{comment.type}\0"
        f"{comment.html}\0"
        for comment in comments
    )
    digest = hashlib.blake2b(digest_size=12)
    digest.update(data.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


class LazyHTML:
    """HTML made the first time a template shows it: pages an incremental build reuses never do."""

    __slots__ = ("_make", "_html", "_post")

    def __init__(self, make: Callable[[], str], post: Any = None) -> None:
        self._make = make
        self._html: str | None = None
        self._post = post

    def __html__(self) -> str:
        if self._post is not None:
            incremental.active().read_comments(self._post)
        if self._html is None:
            self._html = self._make()
        return self._html

    __str__ = __html__


# What a post's comments look like to templates. Each tells the incremental memo when a page
# reads it, as Pelican's content and summary do for bodies, so that a new comment remakes only
# the pages that show that post's comments or their count, not every page that lists the post.
class ShownComments(list):
    """A post's thread or pingbacks."""

    __slots__ = ("_post",)

    def __init__(self, comments: list[Comment], post: Any) -> None:
        super().__init__(comments)
        self._post = post

    def __iter__(self):
        incremental.active().read_comments(self._post)
        return super().__iter__()

    def __len__(self) -> int:
        incremental.active().read_comments(self._post)
        return super().__len__()

    def __getitem__(self, index):
        incremental.active().read_comments(self._post)
        return super().__getitem__(index)


def _shown(method: str) -> Callable:
    original = getattr(int, method)

    def shown(self, *args):
        incremental.active().read_comments(self._post)
        return original(self, *args)

    shown.__name__ = method
    return shown


class ShownCount(int):
    """A post's comment count: an int that notes every use a template can make of it."""

    def __new__(cls, count: int, post: Any) -> ShownCount:
        made = super().__new__(cls, count)
        made._post = post
        return made

    __hash__ = int.__hash__


for _method in [
    "__bool__",
    "__str__",
    "__repr__",
    "__format__",
    "__int__",
    "__index__",
    "__float__",
    "__eq__",
    "__ne__",
    "__lt__",
    "__le__",
    "__gt__",
    "__ge__",
    "__add__",
    "__radd__",
    "__sub__",
    "__rsub__",
    "__mul__",
    "__rmul__",
    "__truediv__",
    "__floordiv__",
    "__mod__",
    "__neg__",
]:
    setattr(ShownCount, _method, _shown(_method))


# The markup below is what partials/comments.html wrote with recursive macros, to the byte
# (whitespace included): pages did not change when the macros became Python.
ITEM_TYPE = 'itemscope itemtype="https://schema.org/Comment"'
AUTHOR_BADGE = '<span class="comment__badge" title="The author of this post">Author</span>'


def date_html(comment: Comment, anchor: str) -> str:
    """The comment's permalink (to ``anchor``, escaped), showing its date when it has one."""
    date = comment.date
    if date is None:
        return f'<a class="comment__permalink" href="#{anchor}">Permalink</a>\n'
    # One strftime, not two (40,000 comments at 2,000 posts); only AM/PM is lowercased.
    day, _, meridiem = date.strftime("%B %-d, %Y at %-I:%M\x1f%p").partition("\x1f")
    shown = escape(f"{day} {meridiem.lower()}")
    return (
        f'<a class="comment__permalink" href="#{anchor}"><time itemprop="dateCreated" '
        f'datetime="{date.isoformat()}">{shown}</time></a>\n'  # digits and -:T+. only
    )


def thread_html(thread: list[Comment], author: str, is_reply: bool = False) -> str:
    """The <li> of each comment (with its replies nested), one a line, for <ol class="comment-thread">.

    ``author`` is the post author's normalise_name(): their comments are marked.
    """
    return "\n".join(f"    {comment_html(comment, author, is_reply)}" for comment in thread)


def comment_html(comment: Comment, author: str, is_reply: bool) -> str:
    """One comment as schema.org Comment microdata, its replies in a nested list."""
    anchor = escape(comment.anchor)
    by_author = normalise_name(comment.author) == author
    marked = " comment--by-author" if by_author else ""
    prop = ' itemprop="comment"' if is_reply else ""
    html = (
        f'<li class="comment{marked}" id="{anchor}"{prop} {ITEM_TYPE}>\n'
        f'  <article class="comment__body" aria-labelledby="{anchor}-author">\n'
        '    <header class="comment__meta">\n'
        f'      <span class="comment__author" id="{anchor}-author" itemprop="author" itemscope '
        f'itemtype="https://schema.org/Person"><span itemprop="name">{escape(comment.author)}'
        "</span></span>\n"
        f"{AUTHOR_BADGE if by_author else ''}      {date_html(comment, anchor)}\n"
        "    </header>\n"
        f'    <div class="comment__text" itemprop="text">{comment.html}</div>\n'
        "  </article>\n"
    )
    if comment.replies:
        html += (
            '  <ol class="comment-thread comment-thread--replies">\n'
            f"{thread_html(comment.replies, author, True)}\n"
            "  </ol>\n"
        )
    return html + "</li>"


def pingbacks_html(pingbacks: list[Comment]) -> str:
    """The <li> of each pingback, one a line, for the "Mentioned on" list."""
    items = []
    for pingback in pingbacks:
        anchor = escape(pingback.anchor)
        items.append(
            f'      <li class="mention" id="{anchor}" {ITEM_TYPE}>\n'
            f'        <span class="mention__source" itemprop="author">{escape(pingback.author)}'
            "</span>\n"
            f"        {date_html(pingback, anchor)}\n"
            f'        <div class="mention__excerpt" itemprop="text">{pingback.html}</div>\n'
            "      </li>"
        )
    return "\n".join(items)


def comment_files(generator: Any) -> tuple[Path, Path | None]:
    """The comment archive's folder, and the cache file of its parsed comments (if caching)."""
    root = Path(generator.path) / comment_settings(generator.settings)["path"]
    cache_file = (
        Path(generator.settings["CACHE_PATH"]) / "comments.pickle"
        if generator.settings.get("CACHE_CONTENT")
        else None
    )
    return root, cache_file


_ahead: dict | None = None  # the child reading the comment files: see read_ahead
_saving: Any = None  # that child's batches, while it writes the cache after sending the entries


def read_ahead(generator: Any) -> None:
    """The articles generator exists and has read nothing yet: fork a child that reads the
    comment files meanwhile (at 2,000 posts, 40,000 files and two seconds)."""
    global _ahead
    end_ahead()
    root, cache_file = comment_files(generator)
    enabled = generator.settings.get("PARALLEL_READING", True) is not False
    if not shares.can_fork(enabled) or not root.is_dir():
        return

    def read_into(sender) -> None:
        # The entries go to the parent before the cache is written: at 2,000 posts writing it
        # took 0.15 s, which the parent, done with the posts, spent waiting.
        # The stamps of the files go last: the parent wants them only once the build is done.
        stamps = inputs.reader_stamps(root)
        read_entries(root, cache_file, lambda found: sender.send(found, dump_entries), stamps)
        if stamps is not None:
            sender.send(stamps.seal(), dump_entries)

    process = Forked.start("comments", read_into, batches=True)
    if process is not None:
        _ahead = {"process": process, "generator": generator}


def dump_entries(read: dict[str, list[Entry]] | inputs.ReaderStamps, file: Any) -> None:
    pickle.dump(read, file, protocol=pickle.HIGHEST_PROTOCOL)


def entries_read_ahead(generator: Any) -> dict[str, list[Entry]] | None:
    """What the child read for this generator; None if there is none or it failed. The child
    goes on to write the cache: :func:`end_saving` waits for it once the build is done."""
    global _ahead, _saving
    ahead, _ahead = _ahead, None
    if ahead is None:
        return None
    if ahead["generator"] is not generator:
        ahead["process"].kill()
        return None
    batches = ahead["process"].batches()
    try:
        found = next(batches)
    except (ChildFailed, StopIteration):
        return None  # read them here
    _saving = batches
    return found


def end_saving(*_args: Any) -> None:
    """Wait for the child that writes the comment cache, and take the stamps it sends last (a
    failure only costs a slower build next time: the comments are read again, the site built)."""
    global _saving
    saving, _saving = _saving, None
    if saving is not None:
        try:
            for stamps in saving:
                inputs.stamps_read(stamps)
        except ChildFailed as exc:
            logger.debug("comments: the comment cache was not saved (%s)", exc)


def end_ahead(*_args: Any) -> None:
    """A child left by a build that crashed before attaching comments: end it."""
    global _ahead
    ahead, _ahead = _ahead, None
    if ahead is not None:
        ahead["process"].kill()  # what it reads is of no use any more
    end_saving()


def leave_stamps_to_reader(pelican: Any) -> None:
    """The comment files are all read, and each fstat-ed as it is: the build's stamp takes their
    stats from there rather than from a scan of its own (see encounter_habit.inputs)."""
    inputs.leave_to_reader(
        Path(pelican.settings["PATH"]) / comment_settings(pelican.settings)["path"]
    )


def attach_comments(generator: Any) -> None:
    """Attach comments, pingbacks and comment_count to every article from one read of the tree."""
    config = comment_settings(generator.settings)
    root, cache_file = comment_files(generator)
    found = entries_read_ahead(generator)
    if found is None:
        found = read_entries(root, cache_file, stamps=inputs.reader_stamps(root))
    by_slug = comments_by_slug(found)
    threads: dict[str, tuple[list[Comment], list[Comment], str]] = {}
    for article in all_articles(generator):
        slug = article.slug
        if slug not in threads:
            comments = by_slug.get(slug, [])
            threads[slug] = (*build_thread(comments), fingerprint_of(comments))
        attach_thread(article, *threads[slug])
    for slug in sorted(set(by_slug) - set(threads)):
        logger.warning(
            "comments: %s/%s/ has %d comment file(s) but no post with slug %r; rename the folder "
            "to the post's slug",
            config["path"],
            slug,
            len(by_slug[slug]),
            slug,
        )


def all_articles(generator: Any) -> list[Any]:
    """Every post of the articles generator, translations and drafts too."""
    return [
        *generator.articles,
        *generator.translations,
        *getattr(generator, "drafts", []),
        *getattr(generator, "drafts_translations", []),
    ]


def attach_thread(
    article: Any, thread: list[Comment], pingbacks: list[Comment], fingerprint: str
) -> None:
    """Give one post its thread (translations share one, marked with each one's author)."""
    author = normalise_name(getattr(getattr(article, "author", None), "name", ""))
    mark_author_replies(thread, author)
    article.comments = ShownComments(thread, article)
    article.pingbacks = ShownComments(pingbacks, article)
    article.comment_count = ShownCount(count_comments(thread), article)
    article.comments_fingerprint = fingerprint
    article.comments_html = LazyHTML(lambda t=thread, a=author: thread_html(t, a), article)
    article.pingbacks_html = LazyHTML(lambda p=pingbacks: pingbacks_html(p), article)


def refresh_comments(generators: list[Any], paths: list[str]) -> list[Any] | None:
    """For a live rebuild (encounter_habit.live): read again the threads these files belong to.

    Returns the posts whose thread was read again, for the rebuild to remake the pages that show
    them. None when that is not enough and an ordinary build is needed: a file that is not a
    comment, a thread of no post, or a post gaining its first comment or pingback or losing its
    last (other plugins decide on that once per build: the comment feed, the "Mentioned on" list).
    """
    from pelican.generators import ArticlesGenerator

    generator = next((g for g in generators if isinstance(g, ArticlesGenerator)), None)
    if generator is None:
        return None
    root = os.path.realpath(Path(generator.path) / comment_settings(generator.settings)["path"])
    slugs = set()
    for path in paths:
        relative = os.path.relpath(path, root)
        folder = os.path.dirname(relative)
        if not path.endswith(".md") or not folder or relative.startswith(os.pardir + os.sep):
            return None
        slugs.add(folder.replace(os.sep, "/"))
    posts: dict[str, list[Any]] = {}
    for article in all_articles(generator):
        posts.setdefault(article.slug, []).append(article)
    threads = {}
    for slug in slugs:
        if slug not in posts:
            return None
        comments = load_thread(Path(root), slug)
        thread, pingbacks = build_thread(comments)
        for article in posts[slug]:
            if bool(thread) != bool(article.comments) or bool(pingbacks) != bool(article.pingbacks):
                return None
        threads[slug] = (thread, pingbacks, fingerprint_of(comments))
    for slug, thread in threads.items():
        for article in posts[slug]:
            attach_thread(article, *thread)
    return [article for slug in threads for article in posts[slug]]


def register() -> None:
    """Connect the plugin's handlers to Pelican's signals."""
    signals.initialized.connect(check_settings)
    signals.initialized.connect(end_ahead)
    signals.initialized.connect(leave_stamps_to_reader)
    signals.article_generator_init.connect(read_ahead)
    signals.finalized.connect(end_saving)
    signals.article_generator_finalized.connect(attach_comments)
    live.refreshers["comments"] = refresh_comments
