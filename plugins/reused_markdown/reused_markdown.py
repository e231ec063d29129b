"""One Markdown instance per reader, reset between posts, where Pelican makes a new one per file.

Making a ``Markdown`` instance loads every configured extension again and builds every registry
of processors and patterns: about half a millisecond a post, a second of a 2,000-post build.
``Markdown.reset()`` is the library's own way to reuse an instance for another document: it
empties the HTML stash and the link references and resets every extension that keeps state (the
metadata, the table of contents, footnotes, abbreviations).

Pelican takes the metadata preprocessor out of its instance before converting formatted fields
(the summary), so it is put back, at its own priority, before the next post.
"""

from __future__ import annotations

from markdown import Markdown
from pelican import signals
from pelican.readers import MarkdownReader
from pelican.utils import pelican_open


class ReusedMarkdownReader(MarkdownReader):
    """Pelican's MarkdownReader, converting every file with the same reset Markdown instance."""

    _reused: Markdown | None = None
    _meta_item = None  # the metadata preprocessor and its priority, to put back

    def markdown(self) -> Markdown:
        md = self._reused
        if md is None:
            md = self._reused = Markdown(**self.settings["MARKDOWN"])
            # A Registry keeps priorities only in this private list; read it once, here.
            priorities = {item.name: item.priority for item in md.preprocessors._priority}
            priority = priorities["meta"]
            self._meta_item = (md.preprocessors["meta"], priority)
            return md
        if "meta" not in md.preprocessors:
            preprocessor, priority = self._meta_item
            md.preprocessors.register(preprocessor, "meta", priority)
        return md.reset()

    def read(self, source_path):
        """Pelican's MarkdownReader.read, with the reused instance."""
        self._source_path = source_path
        self._md = self.markdown()
        with pelican_open(source_path) as text:
            content = self._md.convert(text)
        if hasattr(self._md, "Meta"):
            metadata = self._parse_metadata(self._md.Meta)
        else:
            metadata = {}
        return content, metadata


def reuse_markdown(readers) -> None:
    """Read Markdown files with ReusedMarkdownReader wherever Pelican would use its own reader."""
    for extension, reader_class in readers.reader_classes.items():
        if reader_class is MarkdownReader:
            readers.reader_classes[extension] = ReusedMarkdownReader


def register() -> None:
    signals.readers_init.connect(reuse_markdown)
