"""Python-Markdown's inline pass, trying each pattern only on text where it could match.

The inline pass (``markdown.treeprocessors.InlineProcessor``) tries every inline pattern (15
with this site's extensions) on every text of every paragraph, item and heading. Each try looks
the pattern up in a Registry, checks the ancestors and starts a search, and almost every try
fails: converting the 2,000 posts of the benchmark corpus made 800,000 tries and 23,000 matches.

Here a pattern is tried only on text that holds one of the texts every match of it needs (a
link's ``[``, an entity's ``&``, emphasis' ``*`` or ``_``: see encounter_habit.regex_needs). A
try that is skipped ends as the failed try would have: on to the next pattern, from the start
of the text. So the HTML is the same (tests/test_quick_inline.py holds it to Python-Markdown's
on tricky text, random text and the site's posts), and converting a post takes about a fifth
less time.

This overrides two private methods of InlineProcessor (Python-Markdown 3.x). Where they are
missing, or another extension has replaced the inline pass, the pass is left as it is.

Name it in MARKDOWN's extension_configs as ``encounter_habit.quick_inline``.
"""

from __future__ import annotations

from typing import Any

from markdown import util
from markdown.extensions import Extension
from markdown.treeprocessors import InlineProcessor

from encounter_habit.regex_needs import compiled_needs

# The private methods overridden (name-mangled) and called below.
HANDLE_INLINE = "_InlineProcessor__handleInline"
APPLY_PATTERN = "_InlineProcessor__applyPattern"


def needed_by(pattern: Any) -> tuple[str, ...] | None:
    """Texts one of which every match of an inline pattern needs; None if not known."""
    return compiled_needs(pattern.getCompiledRegExp())


class QuickInlineProcessor(InlineProcessor):
    """InlineProcessor, skipping the tries of patterns whose needed text is not there."""

    def __init__(self, md: Any) -> None:
        super().__init__(md)
        # The registry's patterns as a list, and what each needs: worked out again only when
        # the patterns change (Registry lookups by index cost more than the tries they pick).
        self.patterns: list[Any] = []
        self.needs: list[tuple[str, ...] | None] = []

    def run(self, tree: Any, ancestors: list[str] | None = None) -> Any:
        patterns = list(self.inlinePatterns)
        if patterns != self.patterns:
            self.patterns, self.needs = patterns, [needed_by(p) for p in patterns]
        return super().run(tree, ancestors)

    def _InlineProcessor__handleInline(self, data: str, patternIndex: int = 0) -> str:  # noqa: N802,N803 (the overridden method's names)
        """InlineProcessor.__handleInline, but a pattern is searched only where it can match."""
        if isinstance(data, util.AtomicString):
            return data
        patterns, needs = self.patterns, self.needs
        apply = self._InlineProcessor__applyPattern
        index, start, count = patternIndex, 0, len(patterns)
        while index < count:
            needed = needs[index]
            if needed is not None:
                for part in needed:
                    if part in data:
                        break
                else:  # no match possible: on, as after a failed try, from the start
                    index, start = index + 1, 0
                    continue
            data, matched, start = apply(patterns[index], data, index, start)
            if not matched:
                index += 1
        return data


class QuickInlineExtension(Extension):
    def extendMarkdown(self, md: Any) -> None:  # noqa: N802 (Markdown's name)
        if not all(hasattr(InlineProcessor, name) for name in (HANDLE_INLINE, APPLY_PATTERN)):
            return
        if "inline" not in md.treeprocessors or type(md.treeprocessors["inline"]) is not (
            InlineProcessor
        ):
            return  # not Python-Markdown's own inline pass: leave it to whoever replaced it
        # A Registry keeps priorities only in this private list.
        priority = next(
            item.priority for item in md.treeprocessors._priority if item.name == "inline"
        )
        md.treeprocessors.register(QuickInlineProcessor(md), "inline", priority)


def makeExtension(**kwargs: Any) -> QuickInlineExtension:  # noqa: N802 (Markdown's required name)
    return QuickInlineExtension(**kwargs)
