"""Parallel output: emails and feeds written by a forked process, with the same bytes and errors."""

from __future__ import annotations

import logging
import os

import pytest
from newsletter_email.newsletter_email import NewsletterEmailGenerator

from encounter_habit.build import BuildFailed
from tests.test_incremental import differences


def small_site(site):
    for n in range(1, 4):
        site.post(f"post-{n}", f"Post {n}", date=f"2009-09-2{n} 09:00", body=f"Body {n}.")
    site.write("comments/post-1/comment-001.md", "Author: Ann\nDate: 2009-09-22T10:00:00\n\nHi.\n")


def test_the_site_is_the_same_with_and_without_a_second_process(site, tmp_path):
    small_site(site)
    site.build(
        OUTPUT_PATH=str(tmp_path / "one"), CACHE_PATH=str(tmp_path / "c1"), PARALLEL_OUTPUT=False
    )
    report = site.build(OUTPUT_PATH=str(tmp_path / "two"), CACHE_PATH=str(tmp_path / "c2"))
    assert report.errors == []
    assert any((tmp_path / "two" / "email").rglob("*.eml"))
    assert differences(tmp_path / "one", tmp_path / "two") == []


def test_the_emails_are_written_by_another_process(site, tmp_path, monkeypatch):
    small_site(site)
    marker = tmp_path / "writer-pid"
    original = NewsletterEmailGenerator.generate_output

    def noting_pid(self, writer):
        marker.write_text(str(os.getpid()))
        return original(self, writer)

    monkeypatch.setattr(NewsletterEmailGenerator, "generate_output", noting_pid)
    site.build()
    assert int(marker.read_text()) != os.getpid()
    assert any((site.output / "email").rglob("*.eml"))


def test_errors_in_the_other_process_are_reported_once(site, monkeypatch, caplog):
    small_site(site)
    original = NewsletterEmailGenerator.generate_output

    def complaining(self, writer):
        logging.getLogger("newsletter_email").error("newsletter: something to fix")
        return original(self, writer)

    monkeypatch.setattr(NewsletterEmailGenerator, "generate_output", complaining)
    with caplog.at_level(logging.WARNING):
        report = site.build()
    assert report.errors == ["newsletter: something to fix"]
    assert [r.getMessage() for r in caplog.records].count("newsletter: something to fix") == 1


def test_a_crash_in_the_other_process_fails_the_build_and_keeps_the_old_site(site, monkeypatch):
    small_site(site)
    site.build()
    before = (site.output / "index.html").read_bytes()
    site.post("post-4", "Post 4", date="2009-09-25 09:00")

    def crashing(self, writer):
        raise ValueError("the email layout broke")

    monkeypatch.setattr(NewsletterEmailGenerator, "generate_output", crashing)
    with pytest.raises(BuildFailed, match="the email layout broke"):
        site.build()
    assert (site.output / "index.html").read_bytes() == before
