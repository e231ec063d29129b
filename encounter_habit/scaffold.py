"""Scaffold a new post: a dated Markdown file with every metadata field filled in."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pelican.settings import DEFAULT_CONFIG
from pelican.utils import slugify

TEMPLATE = """\
Title: {title}
Date: {date}
Modified: {date}
Author: {author}
Slug: {slug}
Tags: encounters
Summary: One or two sentences that say what the reader will take away.
Status: draft

Write the post here, in Markdown. Change `Status: draft` to `Status: published` when it is ready.
"""


class PostExists(Exception):
    """A post with that slug is already there; nothing was written."""


def new_post(content_dir: Path, title: str, author: str, now: dt.datetime | None = None) -> Path:
    """Write ``posts/YYYY-MM-DD-slug.md`` and return its path; refuse to overwrite any post."""
    if not title.strip():
        raise ValueError('new-post needs a title, e.g. invoke new-post "The Week of Listening"')
    now = now or dt.datetime.now().replace(second=0, microsecond=0)
    slug = slugify(title, regex_subs=DEFAULT_CONFIG["SLUG_REGEX_SUBSTITUTIONS"])
    posts = content_dir / "posts"
    path = posts / f"{now:%Y-%m-%d}-{slug}.md"
    clashes = [path] if path.exists() else sorted(posts.glob(f"*-{slug}.md"))
    if clashes:
        raise PostExists(f"{clashes[0]} already exists; choose another title or edit that post")
    posts.mkdir(parents=True, exist_ok=True)
    text = TEMPLATE.format(
        title=title.strip(), date=f"{now:%Y-%m-%d %H:%M}", author=author, slug=slug
    )
    # 'x' mode: even a post created between the check and here is never overwritten.
    with path.open("x", encoding="utf-8") as handle:
        handle.write(text)
    return path
