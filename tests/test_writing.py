"""Writing the feeds' and emails' finished files."""

from __future__ import annotations

import os
import stat

from encounter_habit.writing import write_bytes


def test_a_file_is_written_whole_and_replaces_a_longer_one(tmp_path):
    path = tmp_path / "feed.xml"
    path.write_bytes(b"x" * 100_000)
    data = os.urandom(3_000_000)  # more than one pipe or page at once
    write_bytes(str(path), data)
    assert path.read_bytes() == data
    write_bytes(str(path), b"short")
    assert path.read_bytes() == b"short", "what the file held before is gone"


def test_a_new_file_has_the_mode_open_would_give_it(tmp_path):
    previous = os.umask(0o027)
    try:
        write_bytes(str(tmp_path / "mine"), b"1")
        with open(tmp_path / "theirs", "wb") as handle:
            handle.write(b"1")
    finally:
        os.umask(previous)
    mode = stat.S_IMODE((tmp_path / "mine").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "theirs").stat().st_mode) == 0o640
