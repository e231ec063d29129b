"""Python-Markdown's smarty typography (curly quotes, dashes, ellipses), the same output in less time.

smarty runs its 18 patterns (15 for quotes, 2 for dashes, 1 for ellipses) through a second,
general-purpose InlineProcessor. For every text node and every pattern, that processor looks the
pattern up in a Registry, checks ancestors, starts a ``finditer`` and stashes each replacement as
an inline node to put back afterwards. On this site's posts that doubled the cost of Markdown: a
2,000-post build spent 4 to 5 CPU seconds on it.

``SmartyTypography`` keeps everything the patterns see the same:
- the same patterns, in the same order, on the same text nodes;
- the same search positions;
- the same placeholders around each replacement, which later patterns' lookarounds see.

Only the machinery around the patterns is gone, and the searches that cannot match: a pattern is
not searched for in a text that lacks what every match of it consumes (its quote, ``--`` or
``...``). Most of smarty's patterns start with a lookbehind, which the regular-expression engine
tries at every position of a paragraph. ``tests/test_smarty.py`` holds its
output to smarty's, byte for byte, on tricky text and on the site's real posts.

Name it in MARKDOWN's extension_configs as ``encounter_habit.smarty``. It takes smarty's own
options.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element

from markdown import util
from markdown.extensions.smarty import SmartyExtension, SubstituteTextPattern
from markdown.treeprocessors import Treeprocessor

from encounter_habit.regex_needs import compiled_needs


class SmartyTypography(Treeprocessor):
    """Applies smarty's substitution patterns to every text and tail, as its InlineProcessor did."""

    def __init__(self, md, patterns: list[SubstituteTextPattern]) -> None:
        super().__init__(md)
        for pattern in patterns:
            if type(pattern) is not SubstituteTextPattern:  # noqa: E721 (exact class on purpose)
                raise TypeError(f"smarty: unexpected pattern {pattern!r}")
        self.patterns = [
            (p.compiled_re, p.replace, compiled_needs(p.compiled_re)) for p in patterns
        ]

    def run(self, root: Element) -> None:
        self.stashed: dict[str, str] = {}  # inline placeholder id -> its replacement
        # Breadth first, texts before tails, as InlineProcessor.run walks the tree: the order
        # the HTML stash numbers its entries in.
        queue = [root]
        position = 0
        while position < len(queue):
            parent = queue[position]
            position += 1
            for child in parent:
                text = child.text
                if text and not isinstance(text, util.AtomicString):
                    child.text = self.educate(text)
                tail = child.tail
                if tail and not isinstance(tail, util.AtomicString):
                    child.tail = self.educate(tail)
                if len(child):
                    queue.append(child)

    def educate(self, data: str) -> str:
        """One text with every pattern applied, as InlineProcessor.__handleInline applies them."""
        stashed = self.stashed
        before = len(stashed)
        store = self.md.htmlStash.store
        for compiled, replace, needed in self.patterns:
            if needed is not None:
                for part in needed:
                    if part in data:
                        break
                else:
                    continue  # the search would fail: every match needs one of `needed`
            start_at = 0
            while True:
                match = compiled.search(data, start_at)
                if match is None:
                    break
                result = "".join(
                    match.group(part) if isinstance(part, int) else store(part) for part in replace
                )
                key = f"{len(stashed):04d}"  # as InlineProcessor numbers them
                stashed[key] = result
                placeholder = util.INLINE_PLACEHOLDER % key
                start = match.start(0)
                data = data[:start] + placeholder + data[match.end(0) :]
                start_at = start + len(placeholder)
        if len(stashed) == before:
            return data
        # Put the replacements back; a placeholder this pass did not make stays as it was.
        return util.INLINE_PLACEHOLDER_RE.sub(lambda m: stashed.get(m.group(1), m.group(0)), data)


class FastSmartyExtension(SmartyExtension):
    """smarty, with its InlineProcessor replaced by SmartyTypography under the same name."""

    def extendMarkdown(self, md) -> None:  # noqa: N802 (Markdown's name)
        super().extendMarkdown(md)
        md.treeprocessors.register(SmartyTypography(md, list(self.inlinePatterns)), "smarty", 6)


def makeExtension(**kwargs) -> FastSmartyExtension:  # noqa: N802 (Markdown's required name)
    return FastSmartyExtension(**kwargs)
