"""Comment archives: attach content/comments/<post-slug>/*.md to their posts as threaded comments.

One file per comment: a metadata header (Author, Date as ISO date-time, Reply-To with the parent's
id, Type comment|pingback), a blank line, then a Markdown body. The id is the file name without
``.md``. Bodies are untrusted: rendered with Markdown + nl2br, then sanitised with nh3, once.
Files are read once per build, keyed by the folder name (the post's slug).
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import markdown
import nh3
from pelican import signals

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


@dataclass
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
    """Markdown + nl2br, then nh3: one Markdown instance reused for every comment."""

    def __init__(self) -> None:
        self.markdown = markdown.Markdown(extensions=["nl2br"], output_format="html")

    def render(self, text: str) -> str:
        """Sanitised HTML for one untrusted Markdown comment body."""
        html = self.markdown.reset().convert(text)
        return nh3.clean(
            html,
            tags=ALLOWED_TAGS,
            attributes=ALLOWED_ATTRIBUTES,
            url_schemes=URL_SCHEMES,
            link_rel=LINK_REL,
        )


def split_file(text: str) -> tuple[dict[str, str], str]:
    """Split a comment file into ({lower key: value}, body)."""
    header: dict[str, str] = {}
    lines = text.split("\n")
    for number, line in enumerate(lines):
        if not line.strip():
            return header, "\n".join(lines[number + 1 :])
        key, sep, value = line.partition(":")
        if not sep or " " in key.strip():
            return header, "\n".join(lines[number:])  # no header: all body
        header.setdefault(key.strip().lower(), value.strip())
    return header, ""


def read_comment(path: Path, shown: str, renderer: BodyRenderer) -> tuple[Comment, list[str]]:
    """Parse one comment file: the comment, and one line per problem (the comment is kept)."""
    text = path.read_text(encoding="utf-8-sig")
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
    comment = Comment(
        id=path.stem,
        author=author,
        date=date,
        reply_to=header.get("reply-to") or None,
        type=kind,
        html=renderer.render(body),
        source=shown,
    )
    return comment, problems


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


def load_comments(root: Path, cache_file: Path | None = None) -> dict[str, list[Comment]]:
    """Read every comment file under root once: {post slug: comments}.

    Rendering a comment (Markdown, then nh3) is most of the cost, so parsed comments are kept in
    ``cache_file`` by each file's size and modification time, and only new or changed files are
    read again. A cached comment's problems are logged again on every build.
    """
    cache = _load_cache(cache_file)
    fresh: dict[str, tuple[tuple[int, int], Comment, list[str]]] = {}
    renderer = None
    changed = False
    found: dict[str, list[Comment]] = {}
    for folder, _dirs, files in os.walk(root):
        names = sorted(name for name in files if name.endswith(".md"))
        if not names:
            continue
        slug = os.path.relpath(folder, root).replace(os.sep, "/")
        for name in names:
            path = os.path.join(folder, name)
            shown = f"{slug}/{name}"
            try:
                stat = os.stat(path)
                stamp = (stat.st_mtime_ns, stat.st_size)
                cached = cache.get(shown)
                if cached and cached[0] == stamp:
                    entry = cached
                    # a fresh copy with its own list: threads and marks are made anew each build
                    comment = replace(cached[1], replies=[], by_author=False)
                    problems = cached[2]
                else:
                    renderer = renderer or BodyRenderer()
                    comment, problems = read_comment(Path(path), shown, renderer)
                    entry = (stamp, replace(comment, replies=[], by_author=False), problems)
                    changed = True
            except (OSError, UnicodeDecodeError) as exc:
                logger.error("comments: %s: cannot read the file (%s); skipped", shown, exc)
                continue
            for problem in problems:
                logger.error("%s", problem)
            fresh[shown] = entry
            found.setdefault(slug, []).append(comment)
    if changed or len(fresh) != len(cache):
        _save_cache(cache_file, fresh)
    return found


def _load_cache(cache_file: Path | None) -> dict:
    if cache_file is None:
        return {}
    try:
        with open(cache_file, "rb") as handle:
            data = pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, TypeError):
        return {}
    return data if isinstance(data, dict) else {}


def _save_cache(cache_file: Path | None, data: dict) -> None:
    if cache_file is None:
        return
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    temporary = cache_file.with_suffix(".tmp")
    with open(temporary, "wb") as handle:
        pickle.dump(data, handle, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(temporary, cache_file)


def fingerprint_of(comments: list[Comment]) -> str:
    """A hash of everything a post's comments show, for incremental builds."""
    digest = hashlib.blake2b(digest_size=12)
    for comment in comments:
        for part in (
            comment.id,
            comment.author,
            str(comment.date),
            str(comment.reply_to),
            comment.type,
            comment.html,
        ):
            digest.update(part.encode("utf-8", "surrogatepass"))
            digest.update(b"\0")
    return digest.hexdigest()


def attach_comments(generator: Any) -> None:
    """Attach comments, pingbacks and comment_count to every article from one read of the tree."""
    config = comment_settings(generator.settings)
    root = Path(generator.path) / config["path"]
    cache_file = (
        Path(generator.settings["CACHE_PATH"]) / "comments.pickle"
        if generator.settings.get("CACHE_CONTENT")
        else None
    )
    by_slug = load_comments(root, cache_file) if root.is_dir() else {}
    threads: dict[str, tuple[list[Comment], list[Comment]]] = {}
    fingerprints: dict[str, str] = {}
    articles = [
        *generator.articles,
        *generator.translations,
        *getattr(generator, "drafts", []),
        *getattr(generator, "drafts_translations", []),
    ]
    for article in articles:
        slug = article.slug
        if slug not in threads:
            threads[slug] = build_thread(by_slug.get(slug, []))
            fingerprints[slug] = fingerprint_of(by_slug.get(slug, []))
        thread, pingbacks = threads[slug]
        author = getattr(getattr(article, "author", None), "name", "")
        mark_author_replies(thread, normalise_name(author))
        article.comments = thread
        article.pingbacks = pingbacks
        article.comment_count = count_comments(thread)
        article.comments_fingerprint = fingerprints[slug]
    for slug in sorted(set(by_slug) - set(threads)):
        logger.warning(
            "comments: %s/%s/ has %d comment file(s) but no post with slug %r; rename the folder "
            "to the post's slug",
            config["path"],
            slug,
            len(by_slug[slug]),
            slug,
        )


def register() -> None:
    """Connect the plugin's handlers to Pelican's signals."""
    signals.initialized.connect(check_settings)
    signals.article_generator_finalized.connect(attach_comments)
