"""Live rebuilds (livereload): quick rebuilds of body edits give the bytes of a clean build."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

from encounter_habit.live import LiveSite
from tests.test_incremental import (
    ROOT,
    Workspace,
    add_comment,
    add_post,
    change_template,
    edit_body,
    edit_title,
)


def live(ws: Workspace) -> LiveSite:
    return LiveSite(ROOT / "pelicanconf.py", ws.overrides("incremental", "cache"))


def append(ws: Workspace, name: str, text: str) -> None:
    post = ws.content / "posts" / name
    post.write_text(post.read_text(encoding="utf-8") + f"\n{text}\n", encoding="utf-8")


def warmed_up(ws: Workspace) -> LiveSite:
    """A live site that has made one full build in this process (the first one follows an edit:
    the site's stamp alone answers a build with nothing changed, and keeps no state)."""
    site = live(ws)
    site.build()
    append(ws, "post-00001.md", "Edit.")
    site.build()
    return site


def test_a_body_edit_remakes_a_few_files_and_equals_a_clean_build(tmp_path):
    ws = Workspace(tmp_path, posts=10)
    site = live(ws)
    site.build()
    append(ws, "post-00002.md", "A first edit.")
    first = site.build()  # the first build in this process was the stamp's: a full one now
    assert not first.unchanged
    assert site.watcher is not None, "the next builds are told what changed, not scanning"
    append(ws, "post-00004.md", "A live edit, shown at once.")
    quick = site.build()
    assert quick.quick and 0 < quick.made <= 25, quick.made
    page = next((ws.root / "incremental").glob("*/*/post-00004/index.html"))
    assert "A live edit, shown at once." in page.read_text(encoding="utf-8")
    ws.assert_same_as_clean("live body edit")
    # the stamp it left lets an ordinary build find the site up to date
    assert ws.build_incrementally().unchanged


def test_nothing_changed_is_answered_from_memory(tmp_path):
    ws = Workspace(tmp_path, posts=4)
    site = warmed_up(ws)
    again = site.build()
    assert again.unchanged and again.made == 0


def test_other_changes_take_the_ordinary_build(tmp_path):
    ws = Workspace(tmp_path, posts=6)
    site = warmed_up(ws)
    rng = random.Random(5)
    for change in (edit_title, add_post, change_template):
        step = change(ws, rng)
        report = site.build()
        assert report.made > 0 and not report.quick, step
        ws.assert_same_as_clean(step)


def threads(ws: Workspace) -> tuple[list[Path], list[str]]:
    """Comment folders of posts with a conversation, and slugs of posts without any comment."""
    folders = sorted(
        folder
        for folder in (ws.content / "comments").iterdir()
        if any("Type: comment" in f.read_text(encoding="utf-8") for f in folder.glob("*.md"))
    )
    slugs = [
        line.split(": ", 1)[1]
        for post in sorted((ws.content / "posts").glob("*.md"))
        for line in post.read_text(encoding="utf-8").splitlines()
        if line.startswith("Slug: ")
    ]
    lonely = [slug for slug in slugs if not (ws.content / "comments" / slug).is_dir()]
    return folders, lonely


def comment(text: str) -> str:
    return f"Author: Pat Reader\nDate: 2031-01-01T10:00:00\nType: comment\n\n{text}\n"


def test_comments_added_edited_and_deleted_remake_only_what_shows_them(tmp_path):
    ws = Workspace(tmp_path, posts=8)
    site = warmed_up(ws)
    folder = threads(ws)[0][0]
    page = next((ws.root / "incremental").glob(f"*/*/{folder.name}/index.html"))
    # the other posts' pages link to this one (newer, older), but show nothing of its comments
    others = {
        path: path.stat().st_ino
        for path in (ws.root / "incremental").glob("*/*/post-*/index.html")
        if path != page
    }
    added = folder / "comment-900.md"
    added.write_text(comment("A comment shown at once. <script>alert(1)</script>"))
    report = site.build()
    assert report.quick and 0 < report.made <= 30, report.made
    assert {path: path.stat().st_ino for path in others} == others
    html = page.read_text(encoding="utf-8")
    assert "A comment shown at once." in html and "<script>alert(1)" not in html
    ws.assert_same_as_clean("live comment added")
    added.write_text(comment("A comment edited at once."))
    assert site.build().quick
    assert "A comment edited at once." in page.read_text(encoding="utf-8")
    ws.assert_same_as_clean("live comment edited")
    added.unlink()
    assert site.build().quick
    assert "A comment edited at once." not in page.read_text(encoding="utf-8")
    ws.assert_same_as_clean("live comment deleted")
    assert ws.build_incrementally().unchanged  # the live rebuild left a true stamp


def test_a_first_comment_or_a_stray_one_takes_the_ordinary_build(tmp_path):
    ws = Workspace(tmp_path, posts=6)
    shutil.rmtree(threads(ws)[0][0])  # a post without comments
    site = warmed_up(ws)
    lonely = threads(ws)[1]
    first = ws.content / "comments" / lonely[0] / "comment-001.md"
    first.parent.mkdir()
    first.write_text(comment("The first comment: the post gains a comment feed."))
    report = site.build()
    assert report.made > 0 and not report.quick
    ws.assert_same_as_clean("first comment")
    stray = ws.content / "comments" / "no-such-post" / "comment-001.md"
    stray.parent.mkdir()
    stray.write_text(comment("Nobody's comment."))
    report = site.build()
    assert not report.quick and report.messages
    ws.assert_same_as_clean("stray comment")


def test_random_live_sessions_equal_clean_builds(tmp_path):
    rng = random.Random(11)
    ws = Workspace(tmp_path, posts=8)
    site = live(ws)
    site.build()
    steps, quick = [], 0
    for _ in range(10):
        edit = rng.choice([edit_body, edit_body, edit_body, edit_title, add_comment, add_post])
        steps.append(edit(ws, rng))
        quick += site.build().quick
        ws.assert_same_as_clean(" -> ".join(steps))
    assert quick >= 3, steps  # body edits after a full build in this process are quick
