"""Import the old blog's text dumps (WordPress- and TypePad-style) as Markdown posts and comments."""

from __future__ import annotations

from .importer import ImportReport, import_legacy, main

__all__ = ["ImportReport", "import_legacy", "main"]
