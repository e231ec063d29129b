"""Content checks: a post with a bad date, no title or an unknown status gets one clear line.

Pelican logs such files with a traceback-shaped message (or quietly skips them) and still exits 0.
This plugin checks the metadata header of every Markdown file before Pelican reads it (and
before Pelican's content cache could hand back an earlier reading, so a bad file is reported on
every build): each problem is logged as one ERROR line ``path:line: what is wrong; how to fix it``
and the file is skipped, so the rest of the site builds. The build task counts those ERROR lines
to fail ``invoke publish``. Each file is read whole, once, and its bytes handed to the incremental
memo, whose keys of the feeds and emails fingerprint them.
"""

from __future__ import annotations

import logging
import os
import re
from datetime import datetime

from pelican import signals
from pelican.contents import Article, SkipStub
from pelican.readers import MarkdownReader
from pelican.utils import get_date

from encounter_habit import incremental

logger = logging.getLogger(__name__)

ALLOWED_STATUSES = ("published", "draft", "hidden", "skip")
DATE_FIELDS = ("date", "modified")
DATE_EXAMPLE = "YYYY-MM-DD HH:MM, e.g. 2026-11-23 09:00"
# A metadata line as Python-Markdown's meta extension reads it.
META_LINE = re.compile(r"^[ ]{0,3}(?P<key>[A-Za-z0-9_-]+):\s*(?P<value>.*)$")
META_CONTINUATION = re.compile(r"^[ ]{4,}(?P<value>.*)$")


def header_of(data: bytes) -> dict[str, tuple[int, str]]:
    """The metadata header of a Markdown file's bytes as {lower key: (line number, value)}."""
    header: dict[str, tuple[int, str]] = {}
    last_key = None
    # Undecodable bytes are left for Pelican's reader to report: the header is checked as far as
    # it can be read.
    text = data.decode("utf-8-sig", errors="replace")
    # Lines as a file opened in text mode gives them (\r\n and \r end lines too), up to the
    # first empty one at the latest: the body is never split.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.partition("\n\n")[0].split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            break
        match = META_LINE.match(line)
        if match:
            last_key = match["key"].lower()
            header.setdefault(last_key, (number, match["value"].strip()))
            continue
        if last_key and META_CONTINUATION.match(line):
            continue
        break  # the body starts without a blank line: no more metadata
    return header


# The shapes new-post and the importer write. Checked with strptime first: dateutil, behind
# Pelican's get_date, took 0.4 ms a file, most of the header check at 2,000 posts.
COMMON_DATE_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S")


def is_date(value: str) -> bool:
    """Would Pelican read this metadata value as a date?"""
    for shape in COMMON_DATE_FORMATS:
        try:
            datetime.strptime(value, shape)
            return True
        except ValueError:
            continue
    try:
        get_date(value)
    except (ValueError, OverflowError):
        return False
    return True


def header_problems(
    header: dict[str, tuple[int, str]], *, needs_date: bool
) -> list[tuple[int, str]]:
    """List (line, message) for every problem in a metadata header; empty when it is fine."""
    problems = []
    title = header.get("title")
    if title is None or not title[1]:
        line = title[0] if title else 1
        problems.append((line, "no title; add a line 'Title: Your title' at the top"))
    for field in DATE_FIELDS:
        if field not in header:
            continue
        line, value = header[field]
        if not is_date(value):
            problems.append(
                (line, f"{field.capitalize()} {value!r} is not a date; write it as {DATE_EXAMPLE}")
            )
    if needs_date and "date" not in header:
        problems.append((1, f"no date; add a line 'Date: {DATE_EXAMPLE.split(', e.g. ')[1]}'"))
    if "status" in header:
        line, value = header["status"]
        if value.lower() not in ALLOWED_STATUSES:
            allowed = ", ".join(ALLOWED_STATUSES)
            problems.append((line, f"unknown Status {value!r}; use one of {allowed}"))
    return problems


def display_path(path: str) -> str:
    """A path as the author would type it: relative to the working directory when inside it."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def check_before_reading(readers) -> None:
    """Make the readers check a Markdown file's header before reading (or recalling) it."""
    read_file = readers.read_file

    def checked_read_file(base_path, path, content_class=None, *args, **kwargs):
        source = os.path.abspath(os.path.join(base_path, path))
        extension = os.path.splitext(source)[1].lstrip(".")
        if extension in MarkdownReader.file_extensions:
            needs_date = content_class is Article and not readers.settings.get("DEFAULT_DATE")
            with open(source, "rb") as handle:
                data = handle.read()
            # The whole file is read here anyway: the feeds and emails fingerprint these bytes
            # rather than read every post again.
            incremental.active().note_source(source, data)
            problems = header_problems(header_of(data), needs_date=needs_date)
            if problems:
                for line, message in problems:
                    logger.error(
                        "content_checks: %s:%d: %s (file skipped)",
                        display_path(source),
                        line,
                        message,
                    )
                return SkipStub(None, source_path=source)
        if content_class is None:
            return read_file(base_path, path, *args, **kwargs)
        return read_file(base_path, path, content_class, *args, **kwargs)

    readers.read_file = checked_read_file


def register() -> None:
    signals.readers_init.connect(check_before_reading)
