"""The content watcher: what it reports, applied to the last scan, is what a new scan finds."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

from encounter_habit import inputs
from encounter_habit.watch import Watcher


def scanned(root: Path, skip: tuple[str, ...] = ()) -> tuple[dict, set, str]:
    table, folders = {}, set()
    digest, _ = inputs.scan(root, skip=skip, table=table, folders=folders)
    return table, folders, digest


def tree(root: Path) -> None:
    for slug in ("a", "b", "c"):
        (root / "comments" / slug).mkdir(parents=True)
        for n in range(3):
            (root / "comments" / slug / f"comment-{n}.md").write_text(f"{slug} {n}\n")
    (root / "posts").mkdir()
    for n in range(4):
        (root / "posts" / f"post-{n}.md").write_text(f"Post {n}\n")


def test_watched_changes_applied_to_the_last_scan_equal_a_new_scan(tmp_path):
    root = tmp_path / "content"
    root.mkdir()
    tree(root)
    watcher = Watcher.create(str(root), (str(root / "output"),))
    assert watcher is not None, "inotify is available on Linux"
    table, folders, _ = scanned(root, (str(root / "output"),))
    rng = random.Random(3)
    outcomes = []
    for step in range(40):
        files = sorted(p for p in root.rglob("*.md") if "output" not in p.parts)
        action = rng.choice(["edit", "edit", "add", "delete", "folder", "skipped", "cache"])
        if action == "edit":
            path = rng.choice(files)
            with open(path, "a", encoding="utf-8") as handle:  # in place: no folder change
                handle.write(f"edit {step}\n")
        elif action == "add":
            (rng.choice(files).parent / f"new-{step}.md").write_text("new\n")
        elif action == "delete":
            rng.choice(files).unlink()
        elif action == "folder":  # a new thread, made elsewhere and moved in with its files
            made = tmp_path / f"made-{step}"
            (made / "deep").mkdir(parents=True)
            (made / "comment-1.md").write_text("moved in\n")
            (made / "deep" / "comment-2.md").write_text("deeper\n")
            made.rename(root / "comments" / f"thread-{step}")
        elif action == "skipped":  # output inside the content is not an input
            (root / "output").mkdir(exist_ok=True)
            (root / "output" / f"page-{step}.html").write_text("out\n")
        else:
            (root / "posts" / "__pycache__").mkdir(exist_ok=True)
            (root / "posts" / "__pycache__" / f"x-{step}.pyc").write_text("cache\n")
        seen = watcher.changes()
        outcomes.append(seen is not None)
        if seen is None:  # told to scan: the caller scans
            table, folders, _ = scanned(root, (str(root / "output"),))
            continue
        inputs.refresh(table, folders, seen)
        expected_table, expected_folders, digest = scanned(root, (str(root / "output"),))
        assert (table, folders) == (expected_table, expected_folders), (step, action)
        assert inputs.digest_of(table, folders) == digest
    assert all(outcomes), "no step needed a scan"
    watcher.close()


def test_a_deleted_or_moved_folder_makes_the_caller_scan(tmp_path):
    root = tmp_path / "content"
    root.mkdir()
    tree(root)
    watcher = Watcher.create(str(root))
    assert watcher.changes() == set()
    shutil.rmtree(root / "comments" / "b")
    assert watcher.changes() is None
    assert watcher.changes() == set(), "watching again after the rescan"
    os.rename(root / "comments" / "a", root / "comments" / "z")
    assert watcher.changes() is None
    (root / "comments" / "z" / "comment-0.md").write_text("still watched under its new name\n")
    assert watcher.changes() == {str(root / "comments" / "z" / "comment-0.md")}
    watcher.close()
