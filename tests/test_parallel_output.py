"""Parallel output: emails and feeds written by a forked process, with the same bytes and errors.

The build only forks when no other thread runs, and a test session keeps some (the served site,
the browser); so the checks of the forked path run in a fresh interpreter of their own.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.conftest import ROOT
from tests.test_incremental import differences

SCRIPT = textwrap.dedent(
    """
    import json, logging, os, sys
    sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[1] + "/plugins")
    from encounter_habit.build import BuildFailed, build_site, configure_logging
    from newsletter_email.newsletter_email import NewsletterEmailGenerator
    configure_logging()
    mode, root = sys.argv[2], sys.argv[3]
    original = NewsletterEmailGenerator.generate_output

    def patched(self, writer):
        with open(root + "/writer-pid", "w") as handle:
            handle.write(str(os.getpid()))
        if mode == "complain":
            logging.getLogger("newsletter_email").error("newsletter: something to fix")
        if mode == "crash":
            raise ValueError("the email layout broke")
        return original(self, writer)

    NewsletterEmailGenerator.generate_output = patched
    overrides = {"PATH": root + "/content", "OUTPUT_PATH": root + "/output",
                 "CACHE_PATH": root + "/cache", "SITEURL": ""}
    try:
        report = build_site(sys.argv[1] + "/pelicanconf.py", overrides)
        result = {"errors": report.errors}
    except BuildFailed as exc:
        result = {"failed": str(exc)}
    result["pid"] = os.getpid()
    result["writer"] = int(open(root + "/writer-pid").read())
    print(json.dumps(result))
    """
)


def small_site(site):
    for n in range(1, 4):
        site.post(f"post-{n}", f"Post {n}", date=f"2009-09-2{n} 09:00", body=f"Body {n}.")
    site.write("comments/post-1/comment-001.md", "Author: Ann\nDate: 2009-09-22T10:00:00\n\nHi.\n")


def build_apart(site, mode: str) -> tuple[dict, str]:
    """Build the site in a fresh interpreter (no threads: it forks); its result and stderr."""
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(ROOT), mode, str(site.root)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def test_the_site_is_the_same_with_and_without_a_second_process(site, tmp_path):
    small_site(site)
    build_apart(site, "plain")  # forked, into site.output
    site.build(
        OUTPUT_PATH=str(tmp_path / "one"), CACHE_PATH=str(tmp_path / "c1"), PARALLEL_OUTPUT=False
    )
    assert any((site.output / "email").rglob("*.eml"))
    assert differences(tmp_path / "one", site.output) == []


def test_the_emails_are_written_by_another_process(site):
    small_site(site)
    result, _ = build_apart(site, "plain")
    assert result["errors"] == []
    assert result["writer"] != result["pid"]
    assert any((site.output / "email").rglob("*.eml"))


def test_errors_in_the_other_process_are_reported_once(site):
    small_site(site)
    result, stderr = build_apart(site, "complain")
    assert result["writer"] != result["pid"]
    assert result["errors"] == ["newsletter: something to fix"]
    assert stderr.count("newsletter: something to fix") == 1


def test_a_crash_in_the_other_process_fails_the_build_and_keeps_the_old_site(site):
    small_site(site)
    build_apart(site, "plain")
    before = (site.output / "index.html").read_bytes()
    site.post("post-4", "Post 4", date="2009-09-25 09:00")
    result, _ = build_apart(site, "crash")
    assert result["writer"] != result["pid"]
    assert "the email layout broke" in result["failed"]
    assert (site.output / "index.html").read_bytes() == before
