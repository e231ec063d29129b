"""Live rebuilds (livereload): quick rebuilds of body edits give the bytes of a clean build."""

from __future__ import annotations

import random

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
    for change in (edit_title, add_post, add_comment, change_template):
        step = change(ws, rng)
        report = site.build()
        assert report.made > 0 and not report.quick, step
        ws.assert_same_as_clean(step)


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
