"""``{{ once(post_card, article) }}``: a macro called again with the same arguments is not rendered again.

A post's card (title, date, author, comment count, summary) is the same on the home page, the
author's page, each of its tags' pages, its month and its year: at 2,000 posts about 10,000
cards are shown, of 2,000 different ones. ``once(macro, *args)`` renders the macro the first
time a build calls it with these arguments (the same objects) and gives the same HTML after.

What the HTML may depend on is in the key: the macro, its arguments and SITEURL (which changes
from page to page with RELATIVE_URLS). So it is only for macros that read nothing else of the
page's context. The HTML is kept for one build: each build, and each live rebuild, has its own
incremental memo, and the HTML is kept with it.

The incremental build must still know which posts' bodies and comments each page shows (see
encounter_habit.incremental.Memo.read_body): what the first render read is kept with the HTML
and told to the memo again each time the HTML is shown.
"""

from __future__ import annotations

import weakref
from typing import Any

from jinja2 import pass_context
from pelican import signals

from encounter_habit import incremental

# memo -> {key: (html, bodies read, comments read, the arguments)}. The arguments are kept so
# that no other object can take their id() while the key is in use.
_rendered: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def macro_identity(macro: Any) -> Any:
    """What tells one macro from another: its compiled code (a template's every render makes
    new Macro objects from the same code), else its name."""
    code = getattr(getattr(macro, "_func", None), "__code__", None)
    return code if code is not None else getattr(macro, "name", macro)


@pass_context
def once(context: Any, macro: Any, *args: Any) -> Any:
    """The macro's HTML for these arguments, rendered once a build."""
    memo = incremental.active()
    rendered = _rendered.setdefault(memo, {})
    key = (macro_identity(macro), context.get("SITEURL"), *map(id, args))
    found = rendered.get(key)
    if found is None:
        # The reads of this render alone, then added to the page's (as on every later use).
        outer = memo.reading, memo.reading_comments
        memo.reading, memo.reading_comments = set(), set()
        try:
            html = macro(*args)
        finally:
            bodies, comments = memo.reading, memo.reading_comments
            memo.reading, memo.reading_comments = outer
        found = rendered[key] = (html, frozenset(bodies), frozenset(comments), args)
    html, bodies, comments, _args = found
    if memo.reading is not None:
        memo.reading.update(bodies)
    if memo.reading_comments is not None:
        memo.reading_comments.update(comments)
    return html


def add_global(generator: Any) -> None:
    env = getattr(generator, "env", None)
    if env is not None:
        env.globals["once"] = once


def register() -> None:
    signals.generator_init.connect(add_global)
