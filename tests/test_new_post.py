"""invoke new-post: a dated post with complete metadata that builds, and never an overwrite."""

from __future__ import annotations

import datetime as dt

import pytest
from content_checks.content_checks import header_of

from encounter_habit.scaffold import PostExists, new_post

NOW = dt.datetime(2026, 11, 23, 9, 30)


def test_new_post_writes_a_dated_file_with_every_field(site):
    path = new_post(site.content, "The Week of Listening", "Steve Yastrow", now=NOW)
    assert path == site.content / "posts/2026-11-23-the-week-of-listening.md"
    header = {key: value for key, (_, value) in header_of(path.read_bytes()).items()}
    assert header == {
        "title": "The Week of Listening",
        "date": "2026-11-23 09:30",
        "modified": "2026-11-23 09:30",
        "author": "Steve Yastrow",
        "slug": "the-week-of-listening",
        "tags": "encounters",
        "summary": header["summary"],
        "status": "draft",
    }
    assert header["summary"]


def test_scaffolded_post_builds_as_a_draft_without_errors(site):
    new_post(site.content, "The Week of Listening", "Steve Yastrow", now=NOW)
    report = site.build()
    assert report.errors == []
    assert (site.output / "drafts/the-week-of-listening/index.html").is_file()
    assert site.soup("index.html").select(".post-card") == []


def test_new_post_refuses_to_overwrite_an_existing_post(site):
    path = new_post(site.content, "The Week of Listening", "Steve Yastrow", now=NOW)
    path.write_text(path.read_text() + "\nMy words.\n")
    edited = path.read_text()
    with pytest.raises(PostExists, match="already exists"):
        new_post(site.content, "The Week of Listening", "Steve Yastrow", now=NOW)
    with pytest.raises(PostExists, match="2026-11-23-the-week-of-listening.md"):
        new_post(
            site.content, "The week of listening!", "Steve Yastrow", now=NOW + dt.timedelta(days=3)
        )
    assert path.read_text() == edited


def test_new_post_needs_a_title(site):
    with pytest.raises(ValueError, match="needs a title"):
        new_post(site.content, "   ", "Steve Yastrow", now=NOW)
