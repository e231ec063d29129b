"""Incremental builds: make each output file again only when what it is made from changed.

Every output file gets a *key*: a hash of everything it is made from. The keys of the last good
build are kept in a manifest beside the content cache. A build writes into a fresh staging folder
(see build.py); for a file whose key did not change, it hard-links the previous build's file into
staging instead of rendering it again, so the result is byte-identical to a clean build.

A page's key is made of:
- the *code key*: templates, plugins, this package and the settings; a change there makes
  everything again;
- the *site key*: what every page may show of any content: titles, URLs, dates, tags, series and
  all other metadata (not bodies or comments); a change there makes everything again;
- the fingerprints of the variables its template (with everything it extends, includes and
  imports) refers to; a post is fingerprinted there by its path and status (its metadata is in
  the site key);
- the bodies and comments it showed: while a page renders, every post whose HTML it reads
  (``content``, ``summary``) or whose comments it reads (the comments plugin tells, see
  :meth:`Memo.read_comments`) is noted, and the page's key includes that HTML and those comments.
  Which posts a page reads follows from the rest of its key (the posts listed, the templates), so
  editing one post's body remakes the pages that show its text (its own page, the listings with
  its summary), not those that only name it (archives, tags, weeks); a new comment remakes its
  post's page and the listings that show its comment count. A plugin that stores something
  derived from a post's body on the post itself must therefore not rely on this: see
  ``Memo.page_fingerprint``.

Plugins that write files themselves (feeds, emails) call :func:`active` and use ``reuse`` and
``record`` with keys of their own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

PACKAGE = Path(__file__).resolve().parent
MANIFEST = "manifest.json"
# Settings that differ between two builds of the same site without changing a byte of it.
VOLATILE_SETTINGS = {"OUTPUT_PATH", "CACHE_PATH", "INCREMENTAL"}


def digest(*parts: str) -> str:
    """A short, stable hash of some strings."""
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


def files_digest(paths: Iterable[Path]) -> str:
    """Hash of the names and bytes of files."""
    h = hashlib.blake2b(digest_size=16)
    for path in sorted(paths):
        h.update(str(path).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _stable(value: Any) -> Any:
    """A JSON stand-in for a settings value that is not plain data (never a memory address)."""
    if callable(value):
        return f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', type(value).__name__)}"
    return f"{type(value).__module__}.{type(value).__qualname__}"


def code_key(settings: dict) -> str:
    """What every output depends on: theme templates, plugin and package code, settings."""
    roots = [Path(settings["THEME"]) / "templates", PACKAGE]
    roots += [Path(p) for p in settings.get("PLUGIN_PATHS", [])]
    files = []
    for root in roots:
        if root.is_dir():
            files += [
                p
                for p in root.rglob("*")
                if p.is_file() and p.suffix in {".py", ".html", ".txt", ".css", ".xml", ".json"}
            ]
    relevant = {k: v for k, v in settings.items() if k not in VOLATILE_SETTINGS}
    return digest(files_digest(files), json.dumps(relevant, sort_keys=True, default=_stable))


class Memo:
    """The keys of the previous build's outputs, and those of the build under way."""

    def __init__(self, previous_output: Path, staging: Path, manifest: Path, code: str) -> None:
        self.previous_output = previous_output
        self.staging = staging
        self.manifest_path = manifest
        self.code = code
        self.site = ""  # set once the generators have read all content
        self.keys: dict[str, str] = {}
        self.reused = 0
        try:
            self.previous = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.previous = {}
        if self.previous.get("code") != code:
            self.previous = {}
        self._previous_keys: dict[str, str] = self.previous.get("files", {})
        # Every file the last build produced (keyed or not), to find the ones that went stale.
        self.previous_produced: list[str] = self.previous.get("produced", [])
        self.produced: list[str] = []
        # With a valid manifest and the last output on disk, only changed files are written (into
        # staging) and then moved into the output; otherwise the whole site is made and swapped in.
        self.in_place = bool(self._previous_keys) and os.path.isdir(previous_output)
        # template name -> the variables it reads (templates are part of the code key, so these
        # stay true as long as the manifest does)
        self.variables: dict[str, list[str] | None] = self.previous.get("variables", {})
        self.parsed_templates: dict = {}  # name -> what it reads and names: see template_variables
        self._fingerprints: dict[int, str] = {}
        # (id, depth) -> (the value itself, its fingerprint). Holding the value keeps its id from
        # being reused by another object while this build runs, so the cache cannot mix them up.
        self._values: dict[tuple[int, int], tuple[Any, str]] = {}
        self._folders: set[str] = set()  # staging folders known to exist
        # output -> source paths of the posts whose HTML it showed, last build and this one
        self._previous_bodies: dict[str, list[str]] = self.previous.get("bodies", {})
        self.bodies: dict[str, list[str]] = {}
        self.reading: set[str] | None = None  # bodies read by the page being rendered
        # the same for comments: output -> the posts whose comments it showed
        self._previous_comments: dict[str, list[str]] = self.previous.get("comments", {})
        self.comments: dict[str, list[str]] = {}
        self.reading_comments: set[str] | None = None
        self._contents: dict[str, Any] = {}  # source path -> content object, this build
        self._body_hashes: dict[str, str] = {}
        self._source_hashes: dict[str, str] = {}  # source path -> hash of the bytes read
        # The writer's calls, and which call made each page: a live rebuild repeats some of them
        self.writer: Any = None
        self.calls: list[tuple] = []
        self.call_of: dict[str, int] = {}
        self.unkeyed_calls: list[int] = []
        # Set by a live rebuild: the only pages that may have changed, and the posts whose body
        # changed (see encounter_habit.live)
        self.dirty: set[str] | None = None
        self.changed: set[str] | None = None

    def reuse(self, relative: str, key: str) -> bool:
        """Link the previous build's file into staging when its key is unchanged; True if done."""
        self.keys[relative] = key
        if self._previous_keys.get(relative) != key:
            return False
        old = os.path.join(self.previous_output, relative)
        if self.in_place:
            if not os.path.isfile(old):
                return False
            self.reused += 1
            return True
        new = os.path.join(self.staging, relative)
        folder = os.path.dirname(new)
        try:
            if folder not in self._folders:
                os.makedirs(folder, exist_ok=True)
                self._folders.add(folder)
            os.link(old, new)
        except FileExistsError:
            return True
        except OSError:
            return False
        self.reused += 1
        return True

    def folders_first(self, root: str, folders: Iterable[str]) -> set[str]:
        """Make every folder (relative to ``root``) a generator of many files will write into,
        before its first file; the folders made.

        On ext4, making a folder between file writes (a folder per email, per post's comment
        feeds) made writing those files up to four times slower. Only when the whole site is
        made: other builds write a few files and make their folders as they go (the empty set).
        """
        if self.in_place:
            return set()
        made = set(folders)
        for folder in sorted(made):
            os.makedirs(os.path.join(root, folder), exist_ok=True)
        return made

    @property
    def made(self) -> int:
        """Files made afresh in this build: every file with a key, less those linked."""
        return len(self.keys) - self.reused

    def record(self, relative: str, key: str) -> None:
        """Note the key of a file written in this build."""
        self.keys[relative] = key

    # Bodies read while rendering ------------------------------------------------------------

    def index_contents(self, context: dict) -> None:
        """Know every content object by its source path (see :func:`contents_of`)."""
        self._contents = {str(c.source_path): c for c in contents_of(context)}

    def read_body(self, content: Any) -> None:
        """A template is reading this post's HTML: the page being rendered shows its body."""
        if self.reading is not None:
            source = getattr(content, "source_path", None)
            if source:
                self.reading.add(str(source))

    def read_comments(self, content: Any) -> None:
        """A template is reading this post's comments (thread, pingbacks or count)."""
        if self.reading_comments is not None:
            source = getattr(content, "source_path", None)
            if source:
                self.reading_comments.add(str(source))

    def comments_hash(self, source: str) -> str:
        content = self._contents.get(source)
        return str(getattr(content, "comments_fingerprint", "-"))

    def body_hash(self, source: str) -> str:
        """Hash of the HTML the reader made of one source (what a page shows of its body)."""
        known = self._body_hashes.get(source)
        if known is None:
            content = self._contents.get(source)
            html = getattr(content, "_content", None) if content is not None else None
            known = "-" if html is None else digest(html)
            self._body_hashes[source] = known
        return known

    def with_bodies(self, key: str, sources: Iterable[str], commented: Iterable[str]) -> str:
        """A page's full key: its key without bodies, the HTML of the posts it shows, and the
        comments of the posts whose comments it shows."""
        return digest(
            key,
            *(f"{s}={self.body_hash(s)}" for s in sorted(sources)),
            *(f"{s}#comments={self.comments_hash(s)}" for s in sorted(commented)),
        )

    def untouched(self, names: list[str], sources: Iterable[Any]) -> bool:
        """In a live rebuild: files made only from posts it did not change keep their last keys.

        For plugins that key files by the posts they show (emails, feeds): asked before the key is
        worked out, it spares working out thousands of keys when one post's body changed.
        """
        if self.changed is None:
            return False
        if any(str(getattr(s, "source_path", "")) in self.changed for s in sources):
            return False
        keys = [self._previous_keys.get(name) for name in names]
        if None in keys:
            return False
        self.keys.update(zip(names, keys, strict=True))
        self.reused += len(names)
        return True

    def known_unchanged(self, relative: str) -> bool:
        """In a live rebuild, which knows its few dirty pages: keep any other page, unkeyed."""
        if self.dirty is None or relative in self.dirty:
            return False
        key = self._previous_keys.get(relative)
        if key is None or relative not in self._previous_bodies:
            return False
        if not os.path.isfile(os.path.join(self.previous_output, relative)):
            return False
        self.keys[relative] = key
        self.bodies[relative] = self._previous_bodies[relative]
        self.comments[relative] = self._previous_comments.get(relative, [])
        self.reused += 1
        return True

    def reuse_page(self, relative: str, key: str) -> bool:
        """:meth:`reuse` for a rendered page, whose key adds the bodies it showed last time."""
        shown = self._previous_bodies.get(relative)
        commented = self._previous_comments.get(relative)
        if shown is None or commented is None:  # never rendered with tracking: render it
            self.keys[relative] = key
            return False
        if self.reuse(relative, self.with_bodies(key, shown, commented)):
            self.bodies[relative] = shown
            self.comments[relative] = commented
            return True
        return False

    def rendered_page(self, relative: str, key: str, shown: set[str], commented: set[str]) -> None:
        """Note the bodies and comments a page just rendered showed, and its key with them."""
        self.bodies[relative] = sorted(shown)
        self.comments[relative] = sorted(commented)
        self.keys[relative] = self.with_bodies(key, shown, commented)

    def save(self) -> None:
        """Keep this build's keys for the next build (call only once the build was swapped in)."""
        self.manifest_path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.manifest_path.with_suffix(".tmp")
        data = {
            "code": self.code,
            "variables": self.variables,
            "files": self.keys,
            "produced": self.produced,
            "bodies": self.bodies,
            "comments": self.comments,
        }
        temporary.write_text(json.dumps(data), encoding="utf-8")
        os.replace(temporary, self.manifest_path)

    # Fingerprints -------------------------------------------------------------------------

    def content_fingerprint(self, content: Any) -> str:
        """A post or page: its source file's bytes and whatever plugins attach (comments)."""
        cached = self._fingerprints.get(id(content))
        if cached is None:
            parts = [type(content).__name__, str(getattr(content, "source_path", ""))]
            source = getattr(content, "source_path", None)
            noted = self._source_hashes.get(source) if source else None
            if noted is not None:
                parts.append(noted)
            elif source and os.path.isfile(source):
                with open(source, "rb") as handle:
                    parts.append(source_hash(handle.read()))
            parts.append(str(getattr(content, "comments_fingerprint", "")))
            parts.append(str(getattr(content, "status", "")))
            cached = digest(*parts)
            self._fingerprints[id(content)] = cached
        return cached

    def note_source(self, path: str, data: bytes) -> None:
        """The bytes of a source file as this build read them (content_checks reads each post
        whole): its fingerprint is then made without reading the file again, in each process
        that writes a feed or an email (4,000 opens and reads at 2,000 posts)."""
        self._source_hashes[path] = source_hash(data)

    def page_fingerprint(self, content: Any) -> str:
        """A post as a template variable: its path and status.

        Only Pelican's own posts and pages leave their body and comments out: what a page shows
        of them is tracked as it reads them (see ``with_bodies``). Other content, like the ebook's
        chapters, carries attributes derived from its body (reading time, table of contents), so
        its fingerprint keeps its source file's bytes.
        """
        if type(content) not in _body_tracked():
            return self.content_fingerprint(content)
        return digest(
            type(content).__name__,
            str(getattr(content, "source_path", "")),
            str(getattr(content, "status", "")),
        )

    def fingerprint(self, value: Any, depth: int = 0) -> str:
        """A stable string for a template variable's value; changes when what it shows changes.

        Values are read-only while pages are written, and the same ones (the list of all posts, a
        week, the feed links) reach thousands of pages: each is fingerprinted once per build.
        """
        if value is None or isinstance(value, str | int | float | bool):
            return repr(value)
        cached = self._values.get((id(value), depth))
        if cached is not None and cached[0] is value:
            return cached[1]
        result = self._fingerprint(value, depth)
        if len(result) > 64:
            # A list of 2,000 posts reaches thousands of pages: hash it once here, not in each
            # page's key (that re-hashed 140 MB per build at 2,000 posts).
            result = "#" + digest(result)
        self._values[(id(value), depth)] = (value, result)
        return result

    def _fingerprint(self, value: Any, depth: int) -> str:
        from pelican.contents import Content
        from pelican.paginator import Page, Paginator
        from pelican.urlwrappers import URLWrapper

        if value is None or isinstance(value, str | int | float | bool):
            return repr(value)
        if isinstance(value, Content):  # metadata: site key; body: with_bodies
            return "C" + self.page_fingerprint(value)
        if isinstance(value, dt.date | dt.datetime):
            return value.isoformat()
        if isinstance(value, URLWrapper):
            return f"U{type(value).__name__}:{value.name}:{value.slug}"
        if isinstance(value, Page):
            if depth > 0:  # a neighbouring page: templates link to it, nothing more
                return f"P{value.number}:{value.url}"
            return f"P{value.number}/{value.paginator.num_pages}:" + self.fingerprint(
                value.object_list, 1
            )
        if isinstance(value, Paginator):
            return f"G{value.num_pages}:{value.count}:{value.per_page}"
        if isinstance(value, dict):
            return (
                "{"
                + ",".join(
                    f"{k!r}:{self.fingerprint(v, depth + 1)}"
                    for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
                )
                + "}"
            )
        if isinstance(value, list | tuple):
            return "[" + ",".join(self.fingerprint(v, depth + 1) for v in value) + "]"
        if isinstance(value, set | frozenset):
            return "{" + ",".join(sorted(self.fingerprint(v, depth + 1) for v in value)) + "}"
        if hasattr(value, "build_key"):
            return str(value.build_key())
        if depth < 3 and hasattr(value, "__dict__"):
            fields = {
                k: v for k, v in vars(value).items() if not k.startswith("_") and k != "settings"
            }
            return type(value).__name__ + self.fingerprint(fields, depth + 1)
        return type(value).__name__


def source_hash(data: bytes) -> str:
    """What a source file's bytes add to its content's fingerprint."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _body_tracked() -> tuple[type, ...]:
    from pelican.contents import Article, Page

    return (Article, Page)


class NullMemo(Memo):
    """Used when no incremental build is under way (plain `pelican`, tests of one plugin)."""

    def __init__(self) -> None:  # noqa: D107 - nothing to load
        self.keys, self.code, self.site, self.variables = {}, "", "", {}
        self.parsed_templates = {}
        self.in_place, self.previous_produced, self.produced = False, [], []
        self._previous_keys, self._fingerprints, self._values = {}, {}, {}
        self._previous_bodies, self.bodies, self._contents, self._body_hashes = {}, {}, {}, {}
        self._source_hashes = {}
        self._previous_comments, self.comments = {}, {}
        self.reading = self.reading_comments = None
        self.writer, self.calls, self.call_of, self.unkeyed_calls = None, [], {}, []
        self.dirty = self.changed = None
        self.reused = 0

    def reuse(self, relative: str, key: str) -> bool:
        return False

    def reuse_page(self, relative: str, key: str) -> bool:
        return False

    def rendered_page(self, relative: str, key: str, shown: set[str], commented: set[str]) -> None:
        pass

    def record(self, relative: str, key: str) -> None:
        pass

    def note_source(self, path: str, data: bytes) -> None:
        pass  # no build to keep it for

    def save(self) -> None:
        pass


_active: Memo = NullMemo()


def active() -> Memo:
    """The memo of the build under way (a NullMemo outside incremental builds)."""
    return _active


def activate(memo: Memo | None) -> None:
    """Make ``memo`` the one plugins see (None: none)."""
    global _active
    _active = memo or NullMemo()


def contents_of(context: dict) -> list[Any]:
    """Every post, page and chapter in the context, once each.

    Content is found generically: every list in the context (and any object's ``chapters``) whose
    items have a ``source_path`` and ``metadata``, so plugins' own content counts too.
    """
    seen: set[int] = set()
    found = []
    for name in sorted(context):
        value = context[name]
        items = value if isinstance(value, list) else getattr(value, "chapters", None)
        if not isinstance(items, list):
            continue
        for item in items:
            if (
                id(item) in seen
                or not hasattr(item, "source_path")
                or not hasattr(item, "metadata")
            ):
                continue
            seen.add(id(item))
            found.append(item)
    return found


def site_key(context: dict) -> str:
    """What any page may show of any content: metadata and URLs of every post, page and chapter."""
    return digest(*sorted(_index_entry(item) for item in contents_of(context)))


def _index_entry(content: Any) -> str:
    metadata = {k: _stable_meta(v) for k, v in getattr(content, "metadata", {}).items()}
    return json.dumps(
        [
            type(content).__name__,
            str(content.source_path),
            getattr(content, "url", ""),
            getattr(content, "save_as", ""),
            getattr(content, "status", ""),
            metadata,
        ],
        sort_keys=True,
        default=str,
    )


def _stable_meta(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_stable_meta(v) for v in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value)
