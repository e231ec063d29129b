"""Parallel output: emails and feeds written by forked processes, with the same bytes and errors.

The build only forks when no other thread runs, and a test session keeps some (the served site,
the browser); so the checks of the forked path run in a fresh interpreter of their own.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT
from tests.test_incremental import differences

SCRIPT = textwrap.dedent(
    """
    import json, logging, os, sys, time
    sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[1] + "/plugins")
    from pelican.generators import ArticlesGenerator
    from encounter_habit.build import BuildFailed, build_site, configure_logging
    from newsletter_email.newsletter_email import NewsletterEmailGenerator
    configure_logging()
    mode, root = sys.argv[2], sys.argv[3]
    parent = os.getpid()
    original = NewsletterEmailGenerator.generate_output
    original_write = NewsletterEmailGenerator.write
    original_pages = ArticlesGenerator.generate_output

    def note(name, text):
        with open(f"{root}/{name}", "a") as handle:
            handle.write(text + "\\n")

    def patched(self, writer):
        note("runners", str(os.getpid()))
        if os.getpid() != parent and mode == "complain":
            logging.getLogger("newsletter_email").error("newsletter: something to fix")
        if os.getpid() != parent and mode == "crash":
            raise ValueError("the email layout broke")
        if os.getpid() != parent and mode == "die":
            os._exit(9)  # killed, say: no report at all
        original(self, writer)
        if os.getpid() != parent:
            note("child-done", "")

    def noting_write(self, writer, rendition):
        note("writers", f"{os.getpid()} {rendition.slug}")
        return original_write(self, writer, rendition)

    def pages_after_the_child(self, writer):
        # The child takes every email job before this process is free to take any (a child
        # that never gets there fails the test's asserts, after a minute, instead of hanging it).
        deadline = time.monotonic() + 60
        while mode in ("plain", "complain") and not os.path.exists(root + "/child-done"):
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        return original_pages(self, writer)

    NewsletterEmailGenerator.generate_output = patched
    NewsletterEmailGenerator.write = noting_write
    ArticlesGenerator.generate_output = pages_after_the_child
    overrides = {"PATH": root + "/content", "OUTPUT_PATH": root + "/output",
                 "CACHE_PATH": root + "/cache", "SITEURL": ""}
    try:
        report = build_site(sys.argv[1] + "/pelicanconf.py", overrides)
        result = {"errors": report.errors}
    except BuildFailed as exc:
        result = {"failed": str(exc)}
    result["pid"] = parent
    result["runners"] = [int(pid) for pid in open(root + "/runners").read().split()]
    writers = root + "/writers"
    lines = open(writers).read().splitlines() if os.path.exists(writers) else []
    result["writers"] = [line.split() for line in lines]
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
    assert {pid for pid, _folder in result["writers"]} - {result["pid"]}
    assert any((site.output / "email").rglob("*.eml"))


def test_the_processes_share_the_emails_each_written_once(site):
    """Both processes run the email generator; each email is written by exactly one of them."""
    for n in range(4, 40):
        site.post(f"post-{n}", f"Post {n}", date=f"2009-10-{n % 28 + 1:02d} 09:00")
    small_site(site)
    result, _ = build_apart(site, "share")
    assert result["errors"] == []
    assert len(set(result["runners"])) == 2 and result["pid"] in result["runners"]
    folders = [folder for _pid, folder in result["writers"]]
    assert len(folders) == len(set(folders))
    assert sorted(folders) == sorted(
        path.parent.name for path in (site.output / "email").rglob("message.eml")
    )


def test_errors_in_the_other_process_are_reported_once(site):
    small_site(site)
    result, stderr = build_apart(site, "complain")
    assert result["errors"] == ["newsletter: something to fix"]
    assert stderr.count("newsletter: something to fix") == 1


@pytest.mark.parametrize(
    "mode, said",
    [
        ("crash", "the email layout broke"),  # an exception: its traceback is the report
        ("die", "the output process gave no report: it ended with status 9"),  # no report
    ],
)
def test_a_crash_in_the_other_process_fails_the_build_and_keeps_the_old_site(site, mode, said):
    small_site(site)
    build_apart(site, "plain")
    before = (site.output / "index.html").read_bytes()
    site.post("post-4", "Post 4", date="2009-09-25 09:00")
    result, _ = build_apart(site, mode)
    assert said in result["failed"]
    assert (site.output / "index.html").read_bytes() == before


SHARES = textwrap.dedent(
    """
    import json, os, sys
    sys.path.insert(0, sys.argv[1])
    from encounter_habit import shares

    class Owner: pass
    owner, other = Owner(), Owner()
    shares.start([owner])
    jobs = list(range(2000))
    pid = os.fork()
    if pid == 0:
        try:
            with open(sys.argv[2], "w") as handle:
                json.dump(list(shares.take(owner, jobs)), handle)
        finally:
            os._exit(0)
    mine = list(shares.take(owner, jobs))
    os.waitpid(pid, 0)
    theirs = json.load(open(sys.argv[2]))
    try:
        list(shares.take(owner, jobs[:-1]))
        mismatch = None
    except RuntimeError as exc:
        mismatch = str(exc)
    print(json.dumps({"mine": mine, "theirs": theirs, "mismatch": mismatch,
                      "unshared": list(shares.take(other, [1, 2, 3])),
                      "speaks": [shares.speaks(owner), shares.speaks(other)]}))
    """
)


def test_shared_jobs_are_each_taken_by_one_process(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", SHARES, str(ROOT), str(tmp_path / "child.json")],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout)
    assert sorted(result["mine"] + result["theirs"]) == list(range(2000))
    assert result["mine"] == sorted(result["mine"]) and result["theirs"] == sorted(result["theirs"])
    assert "1999 jobs here but 2000 in another process" in result["mismatch"]
    assert result["unshared"] == [1, 2, 3]  # not shared: every job, in this process
    assert result["speaks"] == [True, True]  # the parent says what is said once
