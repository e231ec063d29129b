"""Parallel reading: half the posts converted by a forked process, with the same bytes and errors.

The build only forks when no other thread runs, and a test session keeps some (the served site,
the browser); so each build here runs in a fresh interpreter of its own. The script notes, for
every call of MarkdownReader.read, which process made it: that is how a test sees who converted
which post.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from tests.conftest import ROOT
from tests.test_incremental import differences, generate

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[1] + "/plugins")
    from encounter_habit.build import build_site, configure_logging
    from pelican.generators import ArticlesGenerator
    from pelican.readers import MarkdownReader
    import parallel_reading.parallel_reading as parallel_reading
    configure_logging()
    mode, root, output, forced = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5].split(",")
    parent = os.getpid()
    import reused_markdown.reused_markdown as reused_markdown

    def noting(original_read):
        def noted_read(self, source_path):
            with open(root + "/reads", "a") as handle:
                handle.write(f"{os.getpid()} {os.path.relpath(source_path, root + '/content')}\\n")
            if os.getpid() != parent and mode == "child-exits":
                os._exit(3)
            if os.getpid() != parent and mode == "child-exits-later":
                with open(root + "/reads") as handle:  # its fifth read: two batches sent
                    if sum(line.split()[0] == str(os.getpid()) for line in handle) == 5:
                        os._exit(3)
            if os.getpid() != parent and mode == "child-raises":
                raise RuntimeError("no reading here")
            answer = original_read(self, source_path)
            if os.getpid() != parent and mode == "saved-meanwhile":
                with open(source_path, "a") as handle:
                    handle.write("\\nSaved while the build ran.\\n")
            return answer
        return noted_read

    # the reader the build uses (reused_markdown's), and Pelican's should it be turned off
    for reader_class in (MarkdownReader, reused_markdown.ReusedMarkdownReader):
        reader_class.read = noting(reader_class.__dict__["read"])
    import comments.comments as comments
    original_entries = comments.read_entries

    def noted_entries(*args, **kwargs):
        with open(root + "/comment-reads", "a") as handle:
            handle.write(f"{os.getpid()}\\n")
        if os.getpid() != parent and mode == "comments-child-exits":
            os._exit(3)
        return original_entries(*args, **kwargs)

    comments.read_entries = noted_entries
    if mode == "slow-cache":  # the child takes a second to write its cache
        import time
        original_save, original_ahead = comments._save_cache, comments.entries_read_ahead

        def slow_save(*args):
            time.sleep(1)
            original_save(*args)
            with open(root + "/comment-events", "a") as handle:
                handle.write(f"cache-saved {time.time()}\\n")

        def noted_ahead(*args):
            found = original_ahead(*args)
            with open(root + "/comment-events", "a") as handle:
                handle.write(f"entries-taken {time.time()}\\n")
            return found

        comments._save_cache, comments.entries_read_ahead = slow_save, noted_ahead
    parallel_reading.BATCH = 2 if mode == "child-exits-later" else parallel_reading.BATCH
    original_share = parallel_reading.child_share

    def share_with_the_posts_named(posts):
        chosen = original_share(posts)
        named = [p for p in posts if os.path.basename(p[0]) in forced and p not in chosen]
        return named + chosen

    parallel_reading.child_share = share_with_the_posts_named
    overrides = {"PATH": root + "/content", "OUTPUT_PATH": output, "CACHE_PATH": output + "-cache",
                 "SITEURL": "", "PARALLEL_READING_MIN_FILES": 4, "PARALLEL_READING": mode != "off"}
    keep = {}
    report = build_site(sys.argv[1] + "/pelicanconf.py", overrides, keep=keep)
    shared = True
    if not report.unchanged:
        articles = next(g for g in keep["generators"] if isinstance(g, ArticlesGenerator))
        shared = all(
            wrapper.settings is articles.settings
            for post in articles.articles + articles.drafts + articles.hidden_articles
            for wrapper in [post.author, post.category, *getattr(post, "tags", [])]
        )
    print(json.dumps({"pid": parent, "errors": report.errors, "messages": report.messages,
                      "shared": shared}))
    """
)


def build_apart(site, mode: str, output: str = "output", child_reads: str = "") -> dict:
    """Build in a fresh interpreter: its report, and which process converted which post.

    ``child_reads``: file names of posts to put in the child's share, comma-separated.
    """
    reads = site.root / "reads"
    reads.unlink(missing_ok=True)
    comment_reads = site.root / "comment-reads"
    comment_reads.unlink(missing_ok=True)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, ROOT, mode, site.root, site.root / output, child_reads],
        capture_output=True,
        text=True,
        check=True,
        # Pelican reads the posts in the order of a set of names: the same in every build only
        # with the same string hashes, so that messages compare in order too.
        env={**os.environ, "PYTHONHASHSEED": "2009"},
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    lines = reads.read_text().split() if reads.exists() else []
    result["reads"] = [
        (int(pid), name.removeprefix("posts/"))
        for pid, name in zip(lines[::2], lines[1::2], strict=True)
        if name.startswith("posts/")  # pages and ebook chapters are read by the parent only
    ]
    result["by_child"] = {name for pid, name in result["reads"] if pid != result["pid"]}
    result["by_parent"] = [name for pid, name in result["reads"] if pid == result["pid"]]
    result["comments_read_by"] = [
        "parent" if int(pid) == result["pid"] else "child"
        for pid in (comment_reads.read_text().split() if comment_reads.exists() else [])
    ]
    return result


def varied_site(site) -> None:
    """Ten generated posts (tags, weeks, series, comments), and one with every kind of metadata."""
    generate(10, site.root)
    site.write(
        "posts/every-field.md",
        """
        Title: Every field
        Date: 2009-09-21 09:14
        Modified: 2009-09-22 10:00
        Author: Guest Writer
        Slug: every-field
        Tags: encounters, awareness
        Summary: A *summary* with [a link](https://example.com/).
        Week: Encounter

        ## A heading

        An abbreviation (CRM), a "quote" -- and a table:

        | a | b |
        |---|---|
        | 1 | 2 |

        *[CRM]: Customer relationship management
        """,
    )
    site.post("a-draft", "A draft", date="2009-09-23 09:00", status="draft", tags="drafts")
    site.post("a-hidden-post", "A hidden post", date="2009-09-24 09:00", status="hidden")


def test_half_the_posts_are_converted_by_another_process_and_read_once(site):
    varied_site(site)
    result = build_apart(site, "forked")
    assert result["errors"] == []
    assert len(result["by_child"]) >= 6
    # Each post converted once: the parent takes the child's answers instead of converting again.
    assert sorted(result["by_parent"]) == sorted(set(result["by_parent"]))
    assert not result["by_child"] & set(result["by_parent"])
    # The tags and authors that came through the pickle refer to the parent's settings.
    assert result["shared"] is True


def test_the_site_is_the_same_with_and_without_a_second_process(site):
    varied_site(site)
    forked = build_apart(site, "forked")
    single = build_apart(site, "off", output="single")
    assert forked["by_child"] and not single["by_child"]
    assert (site.output / "2009/09/every-field/index.html").is_file()
    assert differences(site.root / "single", site.output) == []
    assert forked["messages"] == single["messages"]


def test_the_next_build_takes_the_posts_the_child_read_from_the_cache(site):
    varied_site(site)
    build_apart(site, "forked")
    site.post(
        "a-hidden-post", "A hidden post", date="2009-09-24 09:00", status="hidden", body="Edited."
    )
    again = build_apart(site, "forked")
    assert again["reads"] == [(again["pid"], "a-hidden-post.md")]  # one post: too few to fork
    build_apart(site, "off", output="single")
    assert differences(site.root / "single", site.output) == []


def test_bad_posts_in_the_other_process_get_the_same_lines_and_the_rest_builds(site):
    varied_site(site)
    site.write("posts/bad-date.md", "Title: Bad date\nDate: next tuesday\n\nBody.\n")
    # Bytes that are not UTF-8, far enough down that only the Markdown reader meets them.
    body = "Words.\n\n" * 4000
    (site.content / "posts/bad-bytes.md").write_bytes(
        b"Title: Bad bytes\nDate: 2009-09-25 09:00\n\n" + body.encode() + b"\xff\xfe\n"
    )
    site.write(
        "posts/bad-twice.md", "Title: Slug twice\nDate: 2009-09-26\nSlug: one\nSlug: two\n\nBody.\n"
    )
    bad = "bad-date.md,bad-bytes.md,bad-twice.md"
    forked = build_apart(site, "forked", child_reads=bad)
    single = build_apart(site, "off", output="single")
    assert set(bad.split(",")) <= forked["by_child"]
    assert forked["errors"] == single["errors"]
    assert any("bad-date.md:2: Date 'next tuesday' is not a date" in e for e in forked["errors"])
    assert any("bad-bytes.md" in e for e in forked["errors"])
    assert forked["messages"] == single["messages"]  # the duplicate Slug warned once
    assert sum("Duplicate definition of `slug`" in m for _, m in forked["messages"]) == 1
    assert (site.output / "2009/09/every-field/index.html").is_file()
    assert differences(site.root / "single", site.output) == []


def test_a_reading_process_that_dies_leaves_the_parent_to_read_its_posts(site):
    varied_site(site)
    result = build_apart(site, "child-exits")
    assert result["errors"] == []
    assert len(result["by_child"]) == 1  # the first post it tried ended it
    assert len(result["by_parent"]) == 13  # every post, the child's share included
    build_apart(site, "off", output="single")
    assert differences(site.root / "single", site.output) == []


def test_the_answers_a_reading_process_sent_before_it_died_are_used(site):
    varied_site(site)
    result = build_apart(site, "child-exits-later")
    assert result["errors"] == []
    by_child = [name for pid, name in result["reads"] if pid != result["pid"]]
    assert len(by_child) == 5  # two batches of two sent, then it ended on its fifth post
    assert not set(by_child[:4]) & set(result["by_parent"])  # the parent took those answers
    assert by_child[4] in result["by_parent"]  # and read the rest itself
    assert len(result["by_parent"]) == 13 - 4
    build_apart(site, "off", output="single")
    assert differences(site.root / "single", site.output) == []


def test_posts_the_reading_process_fails_on_are_read_by_the_parent(site):
    varied_site(site)
    result = build_apart(site, "child-raises")
    assert result["errors"] == []
    assert len(result["by_child"]) >= 6
    assert result["by_child"] <= set(result["by_parent"])
    build_apart(site, "off", output="single")
    assert differences(site.root / "single", site.output) == []


def test_a_post_saved_after_the_other_process_read_it_is_read_again(site):
    varied_site(site)
    result = build_apart(site, "saved-meanwhile", child_reads="every-field.md")
    assert "every-field.md" in result["by_child"]
    assert "every-field.md" in result["by_parent"]
    assert "Saved while the build ran." in site.page("2009/09/every-field/index.html")


def bad_comments(site) -> None:
    """A comment with no date, one of an unknown type with a script, bytes that are not UTF-8, and
    a folder of no post."""
    site.write("comments/post-00003/zz-no-date.md", "Author: Ann\n\nNo date here.\n")
    site.write(
        "comments/post-00003/zz-bad-type.md",
        "Author: Bo\nDate: 2009-09-22T10:00:00\nType: trackback\n\nA <script>x()</script> ping.\n",
    )
    (site.content / "comments/post-00004").mkdir(parents=True, exist_ok=True)
    (site.content / "comments/post-00004/zz-bytes.md").write_bytes(b"Author: Cy\n\n\xff\n")
    site.write("comments/no-such-post/c1.md", "Author: Di\nDate: 2009-09-22T10:00:00\n\nHi.\n")


def test_the_comment_files_are_read_by_another_process_with_the_same_lines(site):
    varied_site(site)
    bad_comments(site)
    forked = build_apart(site, "forked")
    single = build_apart(site, "off", output="single")
    assert forked["comments_read_by"] == ["child"]
    assert single["comments_read_by"] == ["parent"]
    assert forked["errors"] == single["errors"]
    assert sum("zz-no-date.md: bad Date" in e for e in forked["errors"]) == 1
    assert any("zz-bad-type.md: Type 'trackback'" in e for e in forked["errors"])
    assert any("zz-bytes.md: cannot read the file" in e for e in forked["errors"])
    assert forked["messages"] == single["messages"]
    assert any("no-such-post/ has 1 comment file(s)" in m for _, m in forked["messages"])
    assert differences(site.root / "single", site.output) == []


def test_a_comment_reading_process_that_dies_leaves_the_parent_to_read_them(site):
    varied_site(site)
    bad_comments(site)
    result = build_apart(site, "comments-child-exits")
    single = build_apart(site, "off", output="single")
    assert result["comments_read_by"] == ["child", "parent"]
    assert result["errors"] == single["errors"]
    assert differences(site.root / "single", site.output) == []


def test_the_parent_takes_the_comments_before_the_child_has_written_their_cache(site):
    varied_site(site)
    build_apart(site, "slow-cache")
    events = [line.split() for line in (site.root / "comment-events").read_text().splitlines()]
    assert [name for name, _ in events] == ["entries-taken", "cache-saved"]
    assert float(events[0][1]) < float(events[1][1]) - 0.5  # it did not wait for the cache
    assert list((site.root / "output-cache").rglob("comments.pickle"))  # before the build ended
    (site.root / "comment-events").unlink()
    with open(site.content / "posts/every-field.md", "a") as handle:  # a build, not "unchanged"
        handle.write("\nEdited.\n")
    build_apart(site, "slow-cache")
    events = (site.root / "comment-events").read_text().split()
    assert events[::2] == ["entries-taken"]  # from that cache: nothing new to write
    build_apart(site, "off", output="single")
    assert differences(site.root / "single", site.output) == []
