"""Python-Markdown's code-span pattern, searched for only in text that holds a backtick.

The inline pass tries every pattern on every text node. The code-span pattern
(``markdown.inlinepatterns.BACKTICK_RE``) starts each of its branches with a lookbehind, so the
regular-expression engine has no literal to skip ahead to and tries it at every position of
every paragraph: it cost 15% of converting this site's posts, where few have a code span.

Every match of it needs a backtick in the text: the second branch consumes one, and the first
(escaped backslashes) only matches before one, in its lookahead. So a text without a backtick
cannot match, and is not searched. The output is the same (``tests/test_backticks.py`` holds it
to Python-Markdown's on random text and on the site's posts).

If Python-Markdown's pattern is not the one this was worked out for (another version), the
pattern is left as it is.

Name it in MARKDOWN's extension_configs as ``encounter_habit.backticks``.
"""

from __future__ import annotations

import re

from markdown.extensions import Extension
from markdown.inlinepatterns import BACKTICK_RE

# The pattern worked out above (Python-Markdown 3.11).
KNOWN_PATTERN = r"(?:(?<!\\)((?:\\{2})+)(?=`+)|(?<!\\)`)"


class NeedsBacktick:
    """A compiled pattern whose ``finditer`` finds nothing, at once, in text without a backtick."""

    def __init__(self, compiled: re.Pattern) -> None:
        self.compiled = compiled

    def finditer(self, text: str, pos: int = 0):
        if "`" not in text:
            return iter(())
        return self.compiled.finditer(text, pos)

    def __getattr__(self, name: str):
        return getattr(self.compiled, name)


class BackticksExtension(Extension):
    def extendMarkdown(self, md) -> None:  # noqa: N802 (Markdown's name)
        if "backtick" not in md.inlinePatterns:
            return
        pattern = md.inlinePatterns["backtick"]
        compiled = pattern.compiled_re
        if isinstance(compiled, re.Pattern) and compiled.pattern == KNOWN_PATTERN == BACKTICK_RE:
            pattern.compiled_re = NeedsBacktick(compiled)


def makeExtension(**kwargs) -> BackticksExtension:  # noqa: N802 (Markdown's required name)
    return BackticksExtension(**kwargs)
