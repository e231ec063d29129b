"""What both dump shapes parse into, and the rules they share (dates, titles, names, pingbacks)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
# "Sep 21, 2009 - 09:14 am"; "18:41 pm" happens (the hour is already on a 24-hour clock).
WORDPRESS_DATE = re.compile(
    r"^(?P<month>[A-Za-z]{3})[a-z]*\.?\s+(?P<day>\d{1,2}),\s+(?P<year>\d{4})\s+-\s+"
    r"(?P<hour>\d{1,2}):(?P<minute>\d{2})(?:\s*(?P<half>[AaPp])\.?[Mm]\.?)?$"
)
# "November 05, 2011 at 03:17 AM"
TYPEPAD_DATE = re.compile(
    r"^(?P<month>[A-Za-z]{3})[a-z]*\.?\s+(?P<day>\d{1,2}),\s+(?P<year>\d{4})\s+at\s+"
    r"(?P<hour>\d{1,2}):(?P<minute>\d{2})(?:\s*(?P<half>[AaPp])\.?[Mm]\.?)?$"
)
EMAIL = re.compile(r"(?:mailto:)?[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", re.IGNORECASE)
# Brackets left empty once an address is removed: "Jane (jane@example.com)" -> "Jane ()".
EMPTY_BRACKETS = re.compile(r"[(<\[{]\s*[)>\]}]")
PINGBACK_AUTHOR = re.compile(r"\S\s*(?:»|&raquo;|>>)\s*\S")
PINGBACK_TEXT = re.compile(r"^\[(?:…|\.\.\.)\]")
# Lines that end like a sentence or a lead-in are the start of the body, not a title.
SENTENCE_END = (".", "…", ":", ";", ",")
TITLE_MAX_WORDS = 14
TITLE_MAX_CHARS = 100


class DumpError(Exception):
    """A dump that cannot be imported: carries the dump name and line for a one-line message."""

    def __init__(self, dump: str, line: int | None, message: str) -> None:
        self.dump = dump
        self.line = line
        self.message = message
        where = f"{dump}:{line}" if line else dump
        super().__init__(f"{where}: {message}")


@dataclass
class RawComment:
    """One comment as read from a dump, before ids and files exist."""

    author: str
    date: datetime
    line: int
    lines: list[str]
    parent: int | None = None  # index into ParsedDump.comments
    pingback: bool = False


@dataclass
class ParsedDump:
    """A dump's optional title line, body lines and comments in dump order."""

    name: str
    title: str | None
    body: list[str]
    body_line: int
    comments: list[RawComment] = field(default_factory=list)


def clock_time(match: re.Match[str]) -> tuple[int, int]:
    """Return (hour, minute) on a 24-hour clock; an hour past 12 is taken as already 24-hour."""
    hour, minute = int(match["hour"]), int(match["minute"])
    half = (match["half"] or "").lower()
    if half and hour <= 12:
        if half == "a" and hour == 12:
            hour = 0
        elif half == "p" and hour < 12:
            hour += 12
    elif half == "a" and hour > 12:
        raise ValueError("an hour past 12 cannot be 'am'")
    return hour, minute


def parse_date(text: str, pattern: re.Pattern[str]) -> datetime:
    """Parse a dump date line with `pattern`; raise ValueError saying what is wrong."""
    match = pattern.match(text.strip())
    if not match:
        raise ValueError("not a date in the expected form")
    month = MONTHS.get(match["month"][:3].lower())
    if month is None:
        raise ValueError(f"unknown month {match['month']!r}")
    hour, minute = clock_time(match)
    return datetime(int(match["year"]), month, int(match["day"]), hour, minute)


def clean_author(name: str) -> str:
    """Remove any email address from a commenter's name; 'Anonymous' when nothing is left."""
    cleaned = EMAIL.sub("", name)
    cleaned = EMPTY_BRACKETS.sub("", cleaned)
    cleaned = " ".join(cleaned.split()).strip(" -–—,;:|/")
    return cleaned or "Anonymous"


def is_pingback(author: str, lines: list[str]) -> bool:
    """A pingback's author reads 'Site » Post title' and its text is an excerpt in [...]."""
    text = " ".join(line.strip() for line in lines if line.strip())
    return bool(PINGBACK_AUTHOR.search(author) and PINGBACK_TEXT.match(text))


def reads_like_title(line: str) -> bool:
    """True for a short line that does not end like a sentence or a lead-in to the body."""
    text = line.strip()
    if not text or len(text) > TITLE_MAX_CHARS or len(text.split()) > TITLE_MAX_WORDS:
        return False
    if text.startswith(("•", "-", "*", "+", ">", "#")) or re.match(r"\d+[.)]\s", text):
        return False
    return not text.endswith(SENTENCE_END)


def split_title(lines: list[str], force: bool | None) -> tuple[str | None, int]:
    """Return (title or None, index of the first body line) for the top of a dump."""
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return None, 0
    followed_by_blank = first + 1 < len(lines) and not lines[first + 1].strip()
    if force is None:
        force = followed_by_blank and reads_like_title(lines[first])
    if force:
        return lines[first].strip(), first + 1
    return None, first
