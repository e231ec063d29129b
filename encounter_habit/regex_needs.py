"""What any text a regular expression matches must hold: texts worth looking for before searching.

Python-Markdown tries each of its patterns on every text, and most tries fail. A try that cannot
succeed still costs a search, and a pattern that starts with a lookbehind gives the engine no
literal to skip ahead to, so it tries every position. When every match of a pattern needs one
of a few texts, a text holding none of them need not be searched: ``"[" not in text`` is a fast
C loop. encounter_habit.smarty, quick_inline and quick_blocks rely on this.

The answer comes from Python's own parser of regular expressions (``re._parser``, private):
on another Python where it is missing or different, every pattern is simply searched for.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

try:
    from re import _constants as sre_constants
    from re import _parser as sre_parse
except ImportError:  # pragma: no cover (another Python): no pattern is skipped
    sre_parse = None


def required_texts(pattern: str, flags: int = 0) -> tuple[str, ...] | None:
    """Texts one of which any text ``pattern`` matches in holds; None when none are known.

    Each is consumed by the match, or asserted by a lookahead or lookbehind of it. A text that
    holds none of them cannot match. ``flags`` are those the pattern is compiled with (a
    case-insensitive pattern has no such texts).
    """
    if sre_parse is None:
        return None
    try:
        parsed = sre_parse.parse(pattern, flags)
        return _texts(parsed, parsed.state.flags)
    except (re.error, AttributeError, TypeError, ValueError):  # a parser unlike 3.11's
        return None


def compiled_needs(compiled: Any) -> tuple[str, ...] | None:
    """required_texts of a compiled pattern (its source and flags); None for anything else."""
    source, flags = getattr(compiled, "pattern", None), getattr(compiled, "flags", None)
    if not isinstance(source, str) or not isinstance(flags, int):
        return None
    return required_texts(source, flags)


def _texts(items: Iterable, flags: int) -> tuple[str, ...] | None:
    """For a sequence of items, each consumed in turn: its longest run of literal characters,
    else the shortest list of alternatives that one of its items requires."""
    if flags & re.IGNORECASE:
        return None
    c = sre_constants
    runs, run = [], ""
    fewest: tuple[str, ...] | None = None
    for op, argument in items:
        if op is c.LITERAL:
            run += chr(argument)
            continue
        found = None
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.POSSESSIVE_REPEAT):
            low, high, repeated = argument[0], argument[1], list(argument[2])
            if low >= 1:
                if len(repeated) == 1 and repeated[0][0] is c.LITERAL:
                    run += chr(repeated[0][1]) * low  # "b{2,}" consumes "bb"
                    if high == low:
                        continue  # exactly that many: the run goes on
                else:
                    found = _texts(repeated, flags)
        elif op is c.SUBPATTERN:
            _group, add_flags, _del_flags, inner = argument
            found = _texts(inner, flags | add_flags)
        elif op is c.ATOMIC_GROUP:
            found = _texts(argument, flags)
        elif op is c.ASSERT:  # a lookahead or lookbehind that must match: its text is there too
            found = _texts(argument[1], flags)
        elif op is c.BRANCH:
            alternatives = [_texts(branch, flags) for branch in argument[1]]
            if all(alternatives):
                found = tuple(dict.fromkeys(text for texts in alternatives for text in texts))
        elif op is c.IN and argument and all(kind is c.LITERAL for kind, _ in argument):
            found = tuple(chr(code) for _, code in argument)  # "[*_]": one of these
        # Anything else (negative lookarounds, anchors, classes, optional parts) requires nothing.
        runs.append(run)
        run = ""
        if found and (fewest is None or len(found) < len(fewest)):
            fewest = found
    runs.append(run)
    longest = max(runs, key=len)
    return (longest,) if longest else fewest
