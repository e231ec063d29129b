"""Bad content gets one clear line and the rest of the site builds; failed builds keep the old site."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from encounter_habit.build import BuildFailed, build_site

ROOT = Path(__file__).resolve().parent.parent


def test_bad_date_is_one_line_naming_file_line_and_fix_and_the_rest_builds(site):
    site.post("good", "Good post")
    bad = site.write("posts/bad.md", "Title: Bad date\nDate: next tuesday\n\nBody.\n")
    report = site.build()
    assert report.errors == [
        f"content_checks: {bad}:2: Date 'next tuesday' is not a date; write it as "
        "YYYY-MM-DD HH:MM, e.g. 2026-11-23 09:00 (file skipped)"
    ]
    assert (site.output / "2009/09/good/index.html").is_file()
    assert [a.get_text() for a in site.soup("index.html").select(".post-card__title a")] == [
        "Good post"
    ]


def test_missing_title_is_reported_with_the_fix(site):
    site.post("good", "Good post")
    site.write("posts/untitled.md", "Date: 2009-09-21 10:00\n\nBody.\n")
    (error,) = site.build().errors
    assert "untitled.md:1: no title; add a line 'Title: Your title'" in error


def test_unknown_status_names_the_allowed_ones(site):
    site.post("good", "Good post")
    site.write("posts/odd.md", "Title: Odd\nDate: 2009-09-21 10:00\nStatus: pubished\n\nBody.\n")
    (error,) = site.build().errors
    assert "odd.md:3: unknown Status 'pubished'; use one of published, draft, hidden, skip" in error


def test_each_problem_of_a_post_gets_its_own_line(site):
    site.write("posts/worse.md", "Date: someday\nStatus: maybe\n\nBody.\n")
    errors = site.build().errors
    assert len(errors) == 3
    assert all("\n" not in line and "worse.md:" in line for line in errors)


def test_headers_are_read_whatever_the_line_ends_and_encoding_slips(site):
    """Windows line ends, a byte-order mark, an undecodable byte in the body: the header is still
    checked line by line (line numbers as an editor shows them), and a bad date found."""
    site.post("good", "Good post")
    bad = site.write("posts/crlf.md", "")
    bad.write_bytes(
        b"\xef\xbb\xbfTitle: Windows\r\nTags: a,\r\n    b\r\nDate: someday\r\n\r\nBody \xff.\r\n"
    )
    (error,) = site.build().errors
    assert f"{bad}:4: Date 'someday' is not a date" in error


def test_strict_build_fails_on_a_content_error_and_keeps_the_last_good_site(site):
    site.post("good", "Good post")
    site.build()
    before = site.page("index.html")
    site.write("posts/bad.md", "Title: Bad\nDate: 31/31/2009\n\nBody.\n")
    with pytest.raises(BuildFailed, match="1 error"):
        build_site(ROOT / "publishconf.py", site.settings_overrides(), strict=True)
    assert site.page("index.html") == before
    assert not list(site.root.glob(".output.*"))


def test_a_crashing_build_leaves_the_previous_output_in_place(site, tmp_path):
    site.post("good", "Good post")
    site.build()
    before = site.page("2009/09/good/index.html")
    broken_theme = tmp_path / "broken-theme"
    (broken_theme / "templates").mkdir(parents=True)
    (broken_theme / "templates" / "article.html").write_text("{{ no_such_function() }}")
    (broken_theme / "templates" / "index.html").write_text("{{ also_missing() }}")
    with pytest.raises(BuildFailed, match="left as it was"):
        site.build(THEME=str(broken_theme))
    assert site.page("2009/09/good/index.html") == before
    assert not list(site.root.glob(".output.*"))


@pytest.fixture
def settings_file(site):
    """A settings file like an author's, pointing at the tiny tree."""
    path = site.root / "conf.py"
    path.write_text(
        textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from pelicanconf import *
        THEME = {str(ROOT / "theme")!r}
        PLUGIN_PATHS = [{str(ROOT / "plugins")!r}]
        PATH = {str(site.content)!r}
        OUTPUT_PATH = {str(site.output)!r}
    """)
    )
    return path


def invoke(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "invoke", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_build_task_prints_one_line_per_error_and_no_traceback(site, settings_file):
    site.post("good", "Good post")
    site.write("posts/bad.md", "Title: Bad\nDate: 2009-13-45\n\nBody.\n")
    result = invoke("build", "--settings", str(settings_file))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert len(error_lines) == 1 and "bad.md:2: Date '2009-13-45' is not a date" in error_lines[0]
    assert (site.output / "2009/09/good/index.html").is_file()


def test_publish_task_exits_non_zero_on_a_content_error(site, settings_file):
    site.post("good", "Good post")
    site.write("posts/bad.md", "Title: Bad\nDate: 2009-13-45\n\nBody.\n")
    result = invoke("publish", "--settings", str(settings_file))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "1 error(s) in the content" in result.stderr
    assert not site.output.exists()


def test_invoke_lists_every_task_with_a_description():
    result = invoke("--list")
    listed = {line.split()[0]: line for line in result.stdout.splitlines()[1:] if line.strip()}
    for name in ("build", "serve", "livereload", "publish", "clean", "new-post", "test"):
        assert name in listed and len(listed[name].split()) > 2, name


@pytest.mark.parametrize("text", [None, "x = (\n"])
def test_a_missing_or_broken_settings_file_is_one_line_not_a_traceback(tmp_path, text):
    settings = tmp_path / "conf.py"
    if text is not None:
        settings.write_text(text)
    result = invoke("build", "--settings", str(settings))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "conf.py" in result.stderr
