"""sitemap.xml: every HTML page the build wrote, with lastmod taken from the content, not the clock.

Pages are collected as Pelican writes them (so pages of other plugins are included) and the
sitemap is written when the build finishes. The state is reset when a build starts, so a build
that crashed does not spoil the next one in the same process (livereload).
"""

from __future__ import annotations

import fnmatch
import logging
import os
from xml.sax.saxutils import escape

from pelican import signals

logger = logging.getLogger(__name__)

DEFAULTS = {
    "path": "sitemap.xml",
    # fnmatch patterns of output paths (relative, '/'-separated) left out of the sitemap
    "exclude": ["404.html", "drafts/*", "email/*"],
}

_pages: dict[str, str | None] = {}  # output path -> lastmod (ISO date) or None


def settings_of(pelican_settings: dict) -> dict:
    """The plugin's settings: SITEMAP_XML merged over DEFAULTS."""
    settings = {**DEFAULTS, **pelican_settings.get("SITEMAP_XML", {})}
    if not isinstance(settings["exclude"], list | tuple):
        logger.error(
            "sitemap_xml: SITEMAP_XML['exclude'] must be a list, not %r", settings["exclude"]
        )
        settings["exclude"] = DEFAULTS["exclude"]
    return settings


def start_sitemap(pelican) -> None:
    """Forget the pages of any earlier build in this process."""
    _pages.clear()


def record_page(path: str, context: dict) -> None:
    """Remember an HTML page the writer produced, with its content's date."""
    if not path.endswith(".html"):
        return
    content = context.get("article") or context.get("page")
    date = getattr(content, "modified", None) or getattr(content, "date", None)
    _pages[path] = date.date().isoformat() if date else None


def write_sitemap(pelican) -> None:
    """Write sitemap.xml into the output folder."""
    settings = settings_of(pelican.settings)
    output = pelican.output_path
    siteurl = pelican.settings.get("SITEURL", "")
    entries = []
    for path, lastmod in _pages.items():
        relative = os.path.relpath(path, output).replace(os.sep, "/")
        if any(fnmatch.fnmatch(relative, pattern) for pattern in settings["exclude"]):
            continue
        url = relative[: -len("index.html")] if relative.endswith("index.html") else relative
        entries.append((f"{siteurl}/{url}", lastmod))
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">',
    ]
    for url, lastmod in sorted(entries):
        stamp = f"<lastmod>{lastmod}</lastmod>" if lastmod else ""
        lines.append(f"  <url><loc>{escape(url)}</loc>{stamp}</url>")
    lines.append("</urlset>")
    target = os.path.join(output, settings["path"])
    with open(target, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    _pages.clear()


def register() -> None:
    signals.initialized.connect(start_sitemap)
    signals.content_written.connect(record_page)
    signals.finalized.connect(write_sitemap)
