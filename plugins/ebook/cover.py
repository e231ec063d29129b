"""The ebook's cover, drawn with Pillow: same title, subtitle and author give the same PNG bytes.

Text uses the font bundled with Pillow (``ImageFont.load_default(size)``), not a system font, so
the cover looks the same, and has the same bytes, on every machine with the same Pillow.
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 1600, 2400
MARGIN = 150
BACKGROUND = (20, 50, 79)  # deep blue, the site's link colour darkened
INK = (253, 252, 249)  # the site's paper colour
ACCENT = (240, 160, 112)  # the site's dark-mode accent: warm against the blue
MUTED = (183, 205, 230)
TITLE_SIZE = 190
SUBTITLE_SIZE = 78
AUTHOR_SIZE = 70
LINE_GAP = 1.2


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled scalable font at the given pixel size."""
    return ImageFont.load_default(size=size)


def wrap(draw: ImageDraw.ImageDraw, text: str, face, width: int) -> list[str]:
    """Break text into lines no wider than width pixels, at spaces."""
    lines: list[str] = []
    for word in text.split():
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and draw.textlength(candidate, font=face) <= width:
            lines[-1] = candidate
        else:
            lines.append(word)
    return lines


def draw_lines(draw: ImageDraw.ImageDraw, lines: list[str], face, size: int, top: int, fill) -> int:
    """Draw lines left-aligned from top; return the y below the last line."""
    y = top
    for line in lines:
        draw.text((MARGIN, y), line, font=face, fill=fill)
        y += int(size * LINE_GAP)
    return y


def make_cover(title: str, subtitle: str, author: str) -> bytes:
    """A 1600x2400 PNG cover: two overlapping circles (two parties becoming 'we'), then the text."""
    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    radius = 300
    centre_y = 620
    draw.ellipse(
        (WIDTH // 2 - 2 * radius + 90, centre_y - radius, WIDTH // 2 + 90, centre_y + radius),
        outline=MUTED,
        width=18,
    )
    draw.ellipse(
        (WIDTH // 2 - 90, centre_y - radius, WIDTH // 2 + 2 * radius - 90, centre_y + radius),
        outline=ACCENT,
        width=18,
    )
    draw.rectangle((MARGIN, 1130, MARGIN + 220, 1146), fill=ACCENT)
    text_width = WIDTH - 2 * MARGIN
    title_face = font(TITLE_SIZE)
    y = draw_lines(
        draw, wrap(draw, title, title_face, text_width), title_face, TITLE_SIZE, 1200, INK
    )
    subtitle_face = font(SUBTITLE_SIZE)
    lines = wrap(draw, subtitle, subtitle_face, text_width)
    draw_lines(draw, lines, subtitle_face, SUBTITLE_SIZE, y + 60, MUTED)
    author_face = font(AUTHOR_SIZE)
    draw.text((MARGIN, HEIGHT - MARGIN - AUTHOR_SIZE), author, font=author_face, fill=INK)
    buffer = io.BytesIO()
    # No text chunks, no timestamps: the PNG bytes depend only on the pixels. zlib's level 6
    # makes a file 2% bigger than level 9 in less than half the time (0.06 s against 0.15 s,
    # paid by every clean build).
    image.save(buffer, format="PNG", optimize=False, compress_level=6)
    return buffer.getvalue()
