"""Incremental writer: pages whose inputs did not change are linked from the last build, not rendered.

The keys and the memo live in encounter_habit.incremental; this plugin only plugs them into
Pelican: it computes the site key once every generator has read its content, and replaces
Pelican's writer by one that asks the memo before rendering each page.
"""

from __future__ import annotations

import logging
import os

from jinja2 import meta
from pelican import signals
from pelican.contents import Content
from pelican.writers import Writer

from encounter_habit import incremental

logger = logging.getLogger(__name__)


def template_variables(environment, name: str) -> frozenset[str] | None:
    """Variables a template reads, following extends/include/import; None if it cannot be known.

    Parsing every template costs about a second, so the answer is kept in the memo's manifest,
    which is only valid for the same templates (they are part of its code key).
    """
    memo = incremental.active()
    if name not in memo.variables:
        found = _collect(environment, name, set(), memo.parsed_templates)
        memo.variables[name] = sorted(found) if found is not None else None
    known = memo.variables[name]
    return frozenset(known) if known is not None else None


def _collect(environment, name: str, seen: set[str], parsed: dict) -> frozenset[str] | None:
    if name in seen:
        return frozenset()
    seen.add(name)
    if name not in parsed:  # each template parsed once a build, however many include it
        parsed[name] = _parse(environment, name)
    found, referenced = parsed[name]
    for other in referenced:
        if other is None:  # a template name computed at render time
            return None
        more = _collect(environment, other, seen, parsed)
        if more is None:
            return None
        found = found | more
    return found


def _parse(environment, name: str) -> tuple[frozenset[str], tuple[str | None, ...]]:
    """The variables one template reads itself, and the templates it names."""
    try:
        source, _, _ = environment.loader.get_source(environment, name)
    except Exception:  # an `include ... ignore missing` of a template that is not there
        return frozenset(), ()
    tree = environment.parse(source)
    return (
        frozenset(meta.find_undeclared_variables(tree)),
        tuple(meta.find_referenced_templates(tree)),
    )


def page_key(template, localcontext: dict) -> str | None:
    """The key of one page: its template family's variables, fingerprinted; None if unknowable."""
    environment = getattr(template, "environment", None)
    if environment is None:  # not a Jinja template (text a plugin rendered itself)
        return None
    variables = template_variables(environment, template.name)
    if variables is None:
        return None
    memo = incremental.active()
    return incremental.digest(
        memo.code,
        memo.site,
        template.name,
        localcontext["output_file"],
        *(f"{v}={memo.fingerprint(localcontext.get(v))}" for v in sorted(variables)),
    )


NOT_ASKED = object()  # a page whose key the writer did not work out before rendering


class KeyedTemplate:
    """Wraps a Jinja template: renders only when the page's key changed since the last build.

    ``key`` is the page's key when the writer has already worked it out and found the page
    must be made (a one-page write); a paginated listing's pages are keyed here, one by one.
    """

    def __init__(self, template, writer: IncrementalWriter, key=NOT_ASKED) -> None:
        self.template = template
        self.writer = writer
        self.key = key

    def __getattr__(self, name):
        return getattr(self.template, name)

    def render(self, localcontext: dict) -> str:
        name = localcontext["output_file"]
        memo = incremental.active()
        memo.call_of[name] = self.writer.call
        key = self.key
        if key is NOT_ASKED:
            if memo.known_unchanged(name):
                self.writer.reused.add(os.path.join(self.writer.output_path, name))
                return ""
            key = page_key(self.template, localcontext)
            if key is not None and memo.reuse_page(name, key):
                self.writer.reused.add(os.path.join(self.writer.output_path, name))
                return ""
        memo.reading, memo.reading_comments = set(), set()
        try:
            html = self.template.render(localcontext)
        finally:
            shown, memo.reading = memo.reading, None
            commented, memo.reading_comments = memo.reading_comments, None
        if key is not None:
            memo.rendered_page(name, key, shown, commented)
        return html


class IncrementalWriter(Writer):
    """Pelican's writer, asking the memo before rendering each page."""

    def __init__(self, output_path, settings=None):
        super().__init__(output_path, settings=settings)
        self.reused: set[str] = set()
        self.call = -1  # index in memo.calls of the write_file call under way
        # A live rebuild points the writer at the output itself, whose folders all exist (making
        # hundreds of staging folders for pages it keeps took a third of its time), and sends the
        # files it does write to staging, to be moved in once it has succeeded.
        self.redirect_to: str | None = None
        incremental.active().writer = self

    # Writer.write_file's parameters after `context`, for callers that pass them by position.
    POSITIONAL = ("relative_urls", "paginated", "template_name", "override_output", "url")

    def write_file(self, name, template, context, *args, **kwargs):
        kwargs.update(zip(self.POSITIONAL, args, strict=False))
        memo = incremental.active()
        # Kept so that a live rebuild (encounter_habit.live) can make this write again
        memo.calls.append((name, template, context, dict(kwargs)))
        self.call = len(memo.calls) - 1
        if kwargs.get("override_output") or not name:  # an overriding page is always made afresh
            memo.unkeyed_calls.append(self.call)
            return super().write_file(name, template, context, **kwargs)
        if self._paginated(kwargs):  # each page is keyed as Pelican renders it
            return super().write_file(name, KeyedTemplate(template, self), context, **kwargs)
        reused, key = self._reuse_single_page(name, template, context, kwargs)
        if reused:
            return None
        # The page must be made: hand its key on rather than work it out again as it renders.
        # It is the key Pelican's own context for the page gives (on the 200-post corpus and the
        # real site, every page's two keys were the same).
        return super().write_file(name, KeyedTemplate(template, self, key), context, **kwargs)

    def _paginated(self, kwargs: dict) -> bool:
        """Would Pelican split this write into several pages? (then keys are taken per page)"""
        if kwargs.get("paginated") is not None:
            return True
        listed = any(key in kwargs for key in ("articles", "dates"))
        return listed and kwargs.get("template_name") in self.settings.get(
            "PAGINATED_TEMPLATES", {}
        )

    def _reuse_single_page(self, name, template, context, kwargs) -> tuple[bool, object]:
        """Keep the last build's copy of a one-page write when its key is unchanged:
        (kept, the page's key when it must be made, else NOT_ASKED)."""
        localcontext = context.copy()
        localcontext["localsiteurl"] = localcontext.get("localsiteurl")
        if kwargs.get("relative_urls"):
            # relative URLs depend on the page's depth: let Pelican do its work
            return False, NOT_ASKED
        localcontext["output_file"] = name
        localcontext.update({k: v for k, v in kwargs.items() if k not in self.POSITIONAL})
        memo = incremental.active()
        if not memo.known_unchanged(name):
            key = page_key(template, localcontext)
            if key is None or not memo.reuse_page(name, key):
                return False, key
        memo.call_of[name] = self.call
        path = os.path.join(self.output_path, name)
        self._written_files.add(path)
        signals.content_written.send(path, context=localcontext)
        return True, NOT_ASKED

    def _open_w(self, filename, encoding, override=False):
        if filename not in self.reused:
            if self.redirect_to:
                filename = os.path.join(
                    self.redirect_to, os.path.relpath(filename, self.output_path)
                )
                os.makedirs(os.path.dirname(filename), exist_ok=True)
            return super()._open_w(filename, encoding, override)
        # the previous build's file is already in place: keep Pelican's bookkeeping of
        # written files, but write nothing over it
        if filename in self._written_files:
            return super()._open_w(filename, encoding, override)
        self._written_files.add(filename)
        return open(os.devnull, "w", encoding=encoding)


def compute_site_key(generators) -> None:
    """Once all content is read: the key of what any page may show of any content."""
    memo = incremental.active()
    if generators:
        memo.site = incremental.site_key(generators[0].context)
        memo.index_contents(generators[0].context)


def track_body_reads() -> None:
    """Tell the memo whenever a template reads a post's HTML (``content`` or ``summary``).

    Pelican's ``content`` and ``summary`` properties go through these two memoized methods, so
    wrapping them sees every read, from templates and from filters alike.
    """
    for name in ("get_content", "get_summary"):
        original = Content.__dict__[name]
        if getattr(original, "tracks_body_reads", False):
            continue  # registered before in this process

        def reader(self, *args, _original=original):
            incremental.active().read_body(self)
            return _original.__get__(self, type(self))(*args)

        reader.tracks_body_reads = True
        reader.cache = getattr(original, "cache", None)  # Pelican's memo, cleared after builds
        reader.__wrapped__ = original
        setattr(Content, name, reader)


def use_incremental_writer(pelican):
    """Hand Pelican the incremental writer."""
    return IncrementalWriter


def register() -> None:
    track_body_reads()
    signals.all_generators_finalized.connect(compute_site_key)
    signals.get_writer.connect(use_incremental_writer)
