"""Parse a WordPress-style dump: optional title, body, then bulleted, indented, threaded comments."""

from __future__ import annotations

import re

from .dump import (
    WORDPRESS_DATE,
    DumpError,
    ParsedDump,
    RawComment,
    clean_author,
    is_pingback,
    parse_date,
    split_title,
)

BULLET = re.compile(r"^(?P<indent>[ ]*)•[ \t]+(?P<author>\S.*?)\s*$")
# Loose on purpose: anything shaped like a date after a bullet makes it a comment, so a date the
# strict parser then rejects is reported instead of the comment silently becoming body text.
DATE_LIKE = re.compile(r"^\s*[A-Za-z]{3,9}\.?\s+\d{1,2},\s+\d{4}\s+-\s+\S")
END_MARK = "leave a reply"
LEVEL_INDENT = 2


def find_comment_starts(lines: list[str]) -> list[int]:
    """Indexes of bullet lines followed by a date line: only those start a comment."""
    return [
        i for i in range(len(lines) - 1) if BULLET.match(lines[i]) and DATE_LIKE.match(lines[i + 1])
    ]


def dedent(lines: list[str], indent: int) -> list[str]:
    """Strip up to `indent` leading spaces from each line (a comment's text is indented)."""
    out = []
    for line in lines:
        stripped = len(line) - len(line.lstrip(" "))
        out.append(line[min(stripped, indent) :])
    return out


def parse_wordpress(name: str, text: str, title_line: bool | None = None) -> ParsedDump:
    """Parse a WordPress-style dump into title, body and comments with their reply tree."""
    lines = text.expandtabs(4).split("\n")
    end = next((i for i, line in enumerate(lines) if line.strip().lower() == END_MARK), len(lines))
    lines = lines[:end]
    starts = find_comment_starts(lines)
    body_end = starts[0] if starts else len(lines)
    title, body_start = split_title(lines[:body_end], title_line)
    parsed = ParsedDump(
        name=name, title=title, body=lines[body_start:body_end], body_line=body_start + 1
    )
    if not starts:
        return parsed
    base = min(len(BULLET.match(lines[i])["indent"]) for i in starts)
    stack: list[int] = []  # index of the last comment seen at each level
    for number, start in enumerate(starts):
        match = BULLET.match(lines[start])
        indent = len(match["indent"])
        offset = indent - base
        if offset % LEVEL_INDENT:
            raise DumpError(
                name,
                start + 1,
                f"comment by {match['author']!r} is indented {indent} spaces; replies are "
                f"indented {LEVEL_INDENT} spaces a level, fix the indentation",
            )
        level = offset // LEVEL_INDENT
        if level > len(stack):
            raise DumpError(
                name,
                start + 1,
                f"reply by {match['author']!r} has no parent comment one level up; "
                "indent it at most two spaces deeper than the comment it answers",
            )
        try:
            date = parse_date(lines[start + 1], WORDPRESS_DATE)
        except ValueError as exc:
            raise DumpError(
                name,
                start + 2,
                f"cannot parse date {lines[start + 1].strip()!r} ({exc}); "
                "write it like 'Sep 21, 2009 - 09:14 am'",
            ) from None
        stop = starts[number + 1] if number + 1 < len(starts) else len(lines)
        body = dedent(lines[start + 2 : stop], indent + LEVEL_INDENT)
        del stack[level:]
        author = clean_author(match["author"])
        parsed.comments.append(
            RawComment(
                author=author,
                date=date,
                line=start + 1,
                lines=body,
                parent=stack[-1] if stack else None,
                pingback=is_pingback(match["author"], body),
            )
        )
        stack.append(number)
    return parsed
