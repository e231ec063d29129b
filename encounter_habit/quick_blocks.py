"""Python-Markdown's block parser, testing each block processor only on blocks it could take.

For every block of a post (paragraphs, lists, headings), ``BlockParser.parseBlocks`` asks each
block processor in turn (17 with this site's extensions) whether it takes the block, until one
does; for most blocks that is the last one, the paragraph. Each ask is a regular-expression
search or a split of the block, and the processors are listed afresh from their Registry for
every block.

Here the processors are listed once, and a processor whose question is a search for its own
pattern is asked only about blocks holding a text that pattern needs (a heading's ``#``, a
quote's ``>``, a footnote's ``[^``: see encounter_habit.regex_needs). Three ask nothing (their
``test`` is True) and search in ``run``, which puts the block back and says False when the
search fails: they are skipped the same way. A table needs a ``|`` (without one, the header
row is a single cell without borders, which TableProcessor.test refuses). A skipped
processor is one that would have refused the block, so the HTML is the same
(tests/test_quick_blocks.py holds it to Python-Markdown's on tricky text, random text and the
site's posts), and converting a post takes about a quarter less time.

Only processors of the classes below, not subclasses, are skipped: another class may ask
something else. Where the parser is not Python-Markdown's own, it is left as it is.

Name it in MARKDOWN's extension_configs as ``encounter_habit.quick_blocks``.
"""

from __future__ import annotations

from typing import Any

from markdown import blockprocessors
from markdown.blockparser import BlockParser
from markdown.extensions import Extension, abbr, def_list, footnotes, tables

from encounter_habit.regex_needs import compiled_needs

# Each class, and the attribute holding the pattern its question searches for (or the texts a
# block it takes must hold, where that question is not a search).
KNOWN: dict[type, str | tuple[str, ...]] = {
    blockprocessors.HashHeaderProcessor: "RE",
    blockprocessors.SetextHeaderProcessor: "RE",
    blockprocessors.HRProcessor: "SEARCH_RE",
    blockprocessors.OListProcessor: "RE",
    blockprocessors.UListProcessor: "RE",
    blockprocessors.BlockQuoteProcessor: "RE",
    def_list.DefListProcessor: "RE",
    tables.TableProcessor: ("|",),
    # test() is True; run() searches, and puts the block back when it finds nothing
    blockprocessors.ReferenceProcessor: "RE",
    footnotes.FootnoteBlockProcessor: "RE",
    abbr.AbbrBlockprocessor: "RE",
}


def needed_by(processor: Any) -> tuple[str, ...] | None:
    """Texts one of which a block must hold for this processor to take it; None if not known."""
    known = KNOWN.get(type(processor))
    if known is None or isinstance(known, tuple):
        return known
    return compiled_needs(getattr(processor, known, None))


class QuickBlockParser(BlockParser):
    """BlockParser, not asking the processors that would refuse a block."""

    # The Registry's processors as a list, each with what it needs: worked out again only when
    # the processors change.
    listed: tuple[list[Any], list[tuple[Any, tuple[str, ...] | None]]] = ([], [])

    def parseBlocks(self, parent: Any, blocks: list[str]) -> None:  # noqa: N802 (Markdown's name)
        processors = list(self.blockprocessors)
        if processors != self.listed[0]:
            self.listed = (processors, [(p, needed_by(p)) for p in processors])
        asked = self.listed[1]
        while blocks:
            for processor, needed in asked:
                if needed is not None:
                    block = blocks[0]
                    for part in needed:
                        if part in block:
                            break
                    else:
                        continue  # it would refuse this block
                # As in BlockParser.parseBlocks: run returns True or None when it took the block.
                if processor.test(parent, blocks[0]) and processor.run(parent, blocks) is not False:
                    break


class QuickBlocksExtension(Extension):
    def extendMarkdown(self, md: Any) -> None:  # noqa: N802 (Markdown's name)
        if type(md.parser) is BlockParser:
            # The same parser, its state and processors, with the method above.
            md.parser.__class__ = QuickBlockParser


def makeExtension(**kwargs: Any) -> QuickBlocksExtension:  # noqa: N802 (Markdown's required name)
    return QuickBlocksExtension(**kwargs)
