"""Writing generated files: thousands of finished texts a build (feeds, emails), or a few that
must never be seen half-written (the ebook's downloads and their cache)."""

from __future__ import annotations

import os
from pathlib import Path

FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)


def write_bytes(path: str, data: bytes) -> None:
    """Write ``data`` to ``path``, replacing what it held.

    The same as ``open(path, "wb").write(data)`` with a file object's work left out (a buffer, a
    stat for its size, a check for a terminal): at 12,000 files, a fifth of the writing's time.
    """
    handle = os.open(path, FLAGS, 0o666)  # less the umask, as open() does
    try:
        view = memoryview(data)
        while view:  # os.write may write less than asked
            view = view[os.write(handle, view) :]
    finally:
        os.close(handle)


def write_atomically(path: Path, data: bytes) -> None:
    """Write bytes so a reader never sees half a file (folders made as needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
