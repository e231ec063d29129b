"""Write parsed dumps as Markdown whose rendered text equals the dump's text.

Escaping must hold under both renderers: the site's (Markdown extra + smarty) for posts and the
comments plugin's (Markdown + nl2br). So characters only smarty or extra care about become HTML
entities, which every Markdown keeps verbatim, and the rest use backslash escapes.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

ORDERED_ITEM = re.compile(r"^(?P<number>\d{1,3})[.)]\s+(?P<text>\S.*)$")
BULLET_ITEM = re.compile(r"^[•\-*+]\s+(?P<text>\S.*)$")
# Backslash escapes every Python-Markdown honours (its default ESCAPED_CHARS).
BACKSLASHED = "\\`*_{}[]"
ENTITIES = {"&": "&amp;", "<": "&lt;", '"': "&#34;", "'": "&#39;"}
LINE_START_BACKSLASHED = "#>-+"
LINE_START_ENTITIES = {"=": "&#61;", ":": "&#58;", "~": "&#126;"}
ORDERED_LOOKALIKE = re.compile(r"^(\d+)\.(?=\s|$)")
CHECKSUM_KEY = "Import-Checksum"
CHECKSUM_LINE = re.compile(rf"^{CHECKSUM_KEY}: (?P<digest>[0-9a-f]+)\n", re.MULTILINE)


@dataclass
class Block:
    """A paragraph (lines) or a list (items) of the body."""

    kind: str  # "p", "ol" or "ul"
    lines: list[str]
    start: int = 1


def escape_text(text: str) -> str:
    """Escape one line of plain text so Markdown renders exactly this text."""
    out = []
    previous = ""
    for char in text:
        if char in BACKSLASHED:
            out.append("\\" + char)
        elif char in ENTITIES:
            out.append(ENTITIES[char])
        elif char == "-" and previous == "-":
            out.append("&#45;")  # smarty turns -- and --- into dashes
        elif char == "." and previous == ".":
            out.append("\\.")  # smarty turns ... into an ellipsis
        else:
            out.append(char)
        previous = char
    line = "".join(out)
    if line[:1] in LINE_START_BACKSLASHED:
        line = "\\" + line
    elif line[:1] in LINE_START_ENTITIES:
        line = LINE_START_ENTITIES[line[0]] + line[1:]
    return ORDERED_LOOKALIKE.sub(r"\1\\.", line)


def to_blocks(lines: list[str]) -> list[Block]:
    """Group dump lines into paragraphs and real lists.

    Blank lines separate paragraphs; a dump without any blank line (TypePad's flattened export)
    has one paragraph per line.
    """
    stripped = [line.strip(" \t") for line in lines]
    one_per_line = not any(not line for line in stripped)
    blocks: list[Block] = []
    for line in stripped:
        if not line:
            blocks.append(Block("gap", []))
            continue
        ordered = ORDERED_ITEM.match(line)
        bullet = BULLET_ITEM.match(line)
        kind = "ol" if ordered else "ul" if bullet else "p"
        text = ordered["text"] if ordered else bullet["text"] if bullet else line
        last = blocks[-1] if blocks else None
        if last and last.kind == kind and (kind != "p" or not one_per_line):
            last.lines.append(text)
        else:
            blocks.append(Block(kind, [text], int(ordered["number"]) if ordered else 1))
    return [block for block in blocks if block.kind != "gap"]


def render_blocks(blocks: list[Block], line_break: str) -> str:
    """Markdown for the blocks; `line_break` joins the lines of one paragraph."""
    parts = []
    for block in blocks:
        if block.kind == "p":
            parts.append(line_break.join(escape_text(line) for line in block.lines))
        elif block.kind == "ol":
            parts.append(
                "\n".join(
                    f"{block.start + n}. {escape_text(line)}" for n, line in enumerate(block.lines)
                )
            )
        else:
            parts.append("\n".join(f"- {escape_text(line)}" for line in block.lines))
    return "\n\n".join(parts)


def post_markdown(lines: list[str]) -> str:
    """Markdown for a post body: a line break inside a paragraph is a hard break."""
    return render_blocks(to_blocks(lines), "  \n")


def comment_markdown(lines: list[str]) -> str:
    """Markdown for a comment body, rendered with nl2br so plain newlines are line breaks."""
    return render_blocks(to_blocks(lines), "\n")


def header_value(value: object) -> str:
    """One metadata value on one line: lists are comma-joined, booleans lower-case."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    return " ".join(str(value).split())


def digest(text: str) -> str:
    """Short sha256 of a file's text without its checksum line."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def document(header: list[tuple[str, object]], body: str) -> str:
    """A Markdown file: 'Key: value' header, checksum last, blank line, body, final newline."""
    head = "".join(f"{key}: {header_value(value)}\n" for key, value in header)
    text = f"{head}\n{body}\n" if body else f"{head}\n"
    checksum = f"{CHECKSUM_KEY}: {digest(text)}\n"
    return head + checksum + text[len(head) :]


def is_pristine(text: str) -> bool:
    """True when a file still has the exact text the importer wrote (its checksum matches)."""
    match = CHECKSUM_LINE.search(text)
    if not match:
        return False
    rest = text[: match.start()] + text[match.end() :]
    return digest(rest) == match["digest"]
