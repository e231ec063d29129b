"""Parse a TypePad-style dump: the body, then comments each followed by a 'Posted by:' line."""

from __future__ import annotations

import re

from .dump import (
    TYPEPAD_DATE,
    DumpError,
    ParsedDump,
    RawComment,
    clean_author,
    is_pingback,
    parse_date,
    split_title,
)

POSTED_BY = re.compile(r"^\s*Posted by:\s*(?P<author>.*?)\s*\|\s*(?P<date>.*?)\s*$")


def is_typepad(text: str) -> bool:
    """True when the dump has at least one TypePad 'Posted by: Name | date' line."""
    return any(POSTED_BY.match(line) for line in text.split("\n"))


def first_comment_start(lines: list[str], posted: int) -> int:
    """Where the first comment's text begins: its last paragraph before the 'Posted by:' line.

    A dump with blank lines separates paragraphs with them; one without (TypePad's flattened
    export) has one paragraph per line, so the comment is the single line above.
    """
    end = posted
    while end > 0 and not lines[end - 1].strip():
        end -= 1
    if not any(not line.strip() for line in lines[:end]):
        return max(end - 1, 0)
    start = end
    while start > 0 and lines[start - 1].strip():
        start -= 1
    return start


def parse_typepad(name: str, text: str, title_line: bool | None = None) -> ParsedDump:
    """Parse a TypePad-style dump into title, body and flat comments."""
    lines = text.expandtabs(4).split("\n")
    posted = [i for i, line in enumerate(lines) if POSTED_BY.match(line)]
    body_end = first_comment_start(lines, posted[0])
    title, body_start = split_title(lines[:body_end], title_line)
    parsed = ParsedDump(
        name=name, title=title, body=lines[body_start:body_end], body_line=body_start + 1
    )
    trailing = [i for i in range(posted[-1] + 1, len(lines)) if lines[i].strip()]
    if trailing:
        raise DumpError(
            name,
            trailing[0] + 1,
            "text after the last 'Posted by:' line belongs to no comment; "
            "end each comment with its 'Posted by: Name | Month DD, YYYY at HH:MM AM' line",
        )
    start = body_end
    for index in posted:
        match = POSTED_BY.match(lines[index])
        try:
            date = parse_date(match["date"], TYPEPAD_DATE)
        except ValueError as exc:
            raise DumpError(
                name,
                index + 1,
                f"cannot parse date {match['date']!r} ({exc}); "
                "write it like 'November 05, 2011 at 03:17 AM'",
            ) from None
        body = [line.strip() for line in lines[start:index]]
        if not any(body):
            raise DumpError(name, index + 1, "'Posted by:' line with no comment text above it")
        parsed.comments.append(
            RawComment(
                author=clean_author(match["author"]),
                date=date,
                line=start + 1,
                lines=body,
                pingback=is_pingback(match["author"], body),
            )
        )
        start = index + 1
    return parsed
