"""Content checks: a post with a bad date, no title or an unknown status gets one clear line.

Pelican logs such files with a traceback-shaped message (or quietly skips them) and still exits 0.
This plugin swaps in a Markdown reader that checks the metadata header first: each problem is
logged as one ERROR line ``path:line: what is wrong; how to fix it`` and the file is skipped, so
the rest of the site builds. The build task counts those ERROR lines to fail ``invoke publish``.
"""

from __future__ import annotations

import logging
import os
import re

from pelican import signals
from pelican.readers import MarkdownReader
from pelican.utils import get_date

logger = logging.getLogger(__name__)

ALLOWED_STATUSES = ("published", "draft", "hidden", "skip")
DATE_FIELDS = ("date", "modified")
DATE_EXAMPLE = "YYYY-MM-DD HH:MM, e.g. 2026-11-23 09:00"
# A metadata line as Python-Markdown's meta extension reads it.
META_LINE = re.compile(r"^[ ]{0,3}(?P<key>[A-Za-z0-9_-]+):\s*(?P<value>.*)$")
META_CONTINUATION = re.compile(r"^[ ]{4,}(?P<value>.*)$")


def read_header(path: str) -> dict[str, tuple[int, str]]:
    """Return the metadata header of a Markdown file as {lower key: (line number, value)}."""
    header: dict[str, tuple[int, str]] = {}
    last_key = None
    with open(path, encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\n")
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
        try:
            get_date(value)
        except (ValueError, OverflowError):
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


class CheckedMarkdownReader(MarkdownReader):
    """Pelican's Markdown reader, refusing a file whose metadata header is wrong."""

    def read(self, source_path):
        header = read_header(source_path)
        problems = header_problems(header, needs_date=self._is_article(source_path))
        if not problems:
            return super().read(source_path)
        for line, message in problems:
            logger.error(
                "content_checks: %s:%d: %s (file skipped)", display_path(source_path), line, message
            )
        # status 'skip' makes Pelican drop the file without logging it a second time.
        return "", {"status": "skip"}

    def _is_article(self, source_path: str) -> bool:
        content_root = os.path.abspath(self.settings["PATH"])
        relative = os.path.relpath(os.path.abspath(source_path), content_root)
        return any(
            relative == folder or relative.startswith(folder.rstrip("/") + os.sep)
            for folder in self.settings["ARTICLE_PATHS"]
        ) and not self.settings.get("DEFAULT_DATE")


def use_checked_reader(readers) -> None:
    """Read every Markdown extension with the checking reader."""
    for extension in CheckedMarkdownReader.file_extensions:
        readers.reader_classes[extension] = CheckedMarkdownReader


def register() -> None:
    signals.readers_init.connect(use_checked_reader)
